"""Stage 5, chunks: the work unit of a run, and the local thread pool that runs it.

The per-case work is one function, :func:`score_chunk`, from a chunk of pairs (one device batch)
to a list of small records: load → decode → count (→ distances). Two executors run it, and
:func:`segeval.score` picks one explicitly: :func:`run_local`, a thread pool that yields the records
in case order, or :func:`segeval.pipeline.dask_run.run_dask`, the tasks of a Dask cluster (a
``client``). The device is resolved once per process, where the chunks run.
"""

from __future__ import annotations

import contextlib
import functools
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from segeval.config import ScoreConfig
from segeval.errors import UsageError
from segeval.io.pairing import CasePair
from segeval.metrics import confusion
from segeval.pipeline.count import count_batch
from segeval.pipeline.load import CaseRecord, LoadedCase, load_case
from segeval.report.thumbnails import ThumbnailRequest

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each case."""


@dataclass(frozen=True)
class Plan:
    """What every chunk needs: the config, the palette, the distance and lesion-wise metrics to compute."""

    config: ScoreConfig
    palette: dict | None
    distance_names: tuple[str, ...]
    lesion_names: tuple[str, ...] = ()
    thumbnails: ThumbnailRequest | None = None
    """Draw each case's overlay thumbnail (``--html``, ``--worst``): :mod:`segeval.report.thumbnails`."""


@functools.cache
def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; an unavailable CUDA device is a usage error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(name)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {name!r} requested but CUDA is not available", hint="use --device cpu")
    return resolved


def default_batch_size(device: torch.device) -> int:
    """Cases per kernel call when ``batch_size`` is not set: 8 on CUDA, 1 on the CPU."""
    return 8 if device.type == "cuda" else 1


def score_chunk(pairs: list[CasePair], plan: Plan) -> list[CaseRecord]:
    """Load, decode and count a chunk of pairs on this process's device: one record per pair, in order."""
    device = resolve_device(plan.config.device)
    loaded = [load_case(pair, plan.config, plan.palette) for pair in pairs]
    ready = [item for item in loaded if isinstance(item, LoadedCase)]
    options = plan.config.distance_options(str(device)) if plan.distance_names else None
    counted = {
        r.case: r
        for r in count_batch(
            ready, plan.config, device, list(plan.distance_names), options, plan.lesion_names, plan.thumbnails
        )
    }
    return [counted[item.record.case] if isinstance(item, LoadedCase) else item for item in loaded]


def chunked(pairs: list[CasePair], size: int) -> list[list[CasePair]]:
    """``pairs`` in consecutive chunks of ``size``."""
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


def run_local(chunks: list[list[CasePair]], plan: Plan, workers: int) -> Iterator[CaseRecord]:
    """Run :func:`score_chunk` on ``workers`` threads, at most ``2 × workers`` chunks ahead, yielding
    the records in order."""
    device = resolve_device(plan.config.device)
    with _cpu_threads(1 if device.type == "cpu" and workers > 1 else None):
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segeval-chunk") as pool:
            pending: deque = deque()
            for chunk in chunks:
                pending.append(pool.submit(score_chunk, chunk, plan))
                if len(pending) >= 2 * workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()


@contextlib.contextmanager
def _cpu_threads(count: int | None) -> Iterator[None]:
    """Run torch, and the histogram split of the confusion kernel, with ``count`` threads, then restore both
    (``None``: unchanged).

    On the CPU the chunk threads already keep every core busy; threads of torch's own, or a large
    histogram split over the CPUs, on top of them only add contention.
    """
    previous = torch.get_num_threads(), confusion.BINCOUNT_THREADS
    if count is not None:
        torch.set_num_threads(count)
        confusion.BINCOUNT_THREADS = count
    try:
        yield
    finally:
        torch.set_num_threads(previous[0])
        confusion.BINCOUNT_THREADS = previous[1]
