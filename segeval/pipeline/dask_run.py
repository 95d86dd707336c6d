"""Stage 5 on a Dask cluster: the chunks of a run as tasks of a ``distributed`` client.

The per-case work is the same :func:`segeval.pipeline.chunks.score_chunk` as on the local thread
pool; only records (confusion matrices, distance summaries, statuses) come back to the client,
never arrays. Each task holds consecutive cases worth about :data:`TASK_VALUES` values (≥ ~100 ms
of work), which the worker splits into device batches (the device is resolved on the worker).
Records are yielded as tasks complete (``as_completed``), so the caller sees them in any order.

Faults: an input error is a failed record, as locally, and is never retried; a worker that dies is
left to the scheduler, which reschedules its tasks on other workers (``distributed.scheduler.
allowed-failures``); a task that still cannot run gives its cases a failed record "worker died".
Dask moves tasks and results with pickle: the scheduler and the workers must be trusted. Dask is
imported only here, when a run asks for a cluster (``pip install "segeval[dask]"``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from segeval.errors import UsageError
from segeval.io.pairing import CasePair
from segeval.pipeline.chunks import Plan, chunked, default_batch_size, resolve_device, score_chunk
from segeval.pipeline.load import CaseRecord
from segeval.status import Status

CONNECT_TIMEOUT_S = 10
"""How long to try to reach a scheduler before the run is a usage error."""

TASK_VALUES = 4_000_000
"""Values (voxels × channels, both files) per task: ~100-200 ms of work on one CPU thread
(benchmarks/RESULTS.md, "Scale"); a case larger than this is a task of its own."""

TASKS_PER_THREAD = 2
"""At least this many tasks per worker thread: a short run is spread over the threads rather than batched."""

INSTALL_HINT = 'pip install "segeval[dask]" (dask[distributed]) on the client and on the workers'


@contextlib.contextmanager
def connect(scheduler: str | None, scheduler_file: Path | None) -> Iterator[object]:
    """A ``distributed.Client`` for ``--scheduler`` (``tcp://``/``tls://`` address, or ``local:N`` for
    a local cluster of N worker processes) or ``--scheduler-file``; closed (with its local cluster)
    on exit. An unreachable scheduler is a usage error naming the address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--scheduler needs Dask, which is not installed", hint=INSTALL_HINT) from None
    if scheduler is not None and scheduler.startswith("local:"):
        with (
            LocalCluster(
                n_workers=int(scheduler.removeprefix("local:")),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",  # loopback, any free port: the scheduler's HTTP server always runs
                silence_logs=logging.ERROR,  # its start and stop are no news on stderr
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if scheduler_file is not None and not Path(scheduler_file).is_file():
        raise UsageError(f"--scheduler-file {scheduler_file}: no such file")
    where = scheduler if scheduler is not None else f"the address in {scheduler_file}"
    try:
        client = Client(scheduler, scheduler_file=scheduler_file and str(scheduler_file), timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(
            f"cannot reach the Dask scheduler at {where}: {exc}",
            hint="check the address and that the scheduler runs (dask scheduler); tls:// needs the "
            "certificates in Dask's configuration (distributed.comm.tls)",
        ) from None
    with client:
        yield client


def worker_environment(device: str, paths: list[str]) -> dict[str, object]:
    """What a worker runs (segeval, torch and numpy versions), the device it resolves ``device`` to,
    and which of ``paths`` it cannot see. Runs on every worker."""
    import numpy
    import torch

    import segeval

    return {
        "versions": {"segeval": segeval.__version__, "torch": torch.__version__, "numpy": numpy.__version__},
        "device": str(resolve_device(device)),
        "unseen": [path for path in paths if not os.path.exists(path)],
    }


def check_cluster(client, pairs: list[CasePair], plan: Plan) -> str:
    """Check every worker before any task is sent: the same segeval, torch and numpy as here, the
    device available, the first case's files visible (shared storage). Returns the workers' device(s)."""
    first = pairs[0] if pairs else None
    probe = [os.path.abspath(p) for p in (first.pred, first.gt) if p is not None] if first else []
    here = worker_environment("cpu", [])["versions"]
    try:
        answers = client.run(worker_environment, plan.config.device, probe)
    except ImportError as exc:  # the function arrives by name: a worker without segeval cannot load it
        raise UsageError(f"a Dask worker cannot run segeval: {exc}", hint=INSTALL_HINT) from None
    if not answers:
        raise UsageError("the Dask cluster has no workers", hint="start workers (dask worker ADDRESS) and retry")
    for worker, answer in sorted(answers.items()):
        for package, version in here.items():
            if answer["versions"][package] != version:
                raise UsageError(
                    f"Dask worker {worker} runs {package} {answer['versions'][package]}, this client {version}",
                    hint="install the same segeval, torch and numpy on the client and on every worker",
                )
        if answer["unseen"]:
            raise UsageError(
                f"Dask worker {worker} cannot see {answer['unseen'][0]}",
                hint="the workers read the files at the paths the client gives: put them on storage that every "
                "worker mounts at the same path",
            )
    return ", ".join(sorted({answer["device"] for answer in answers.values()}))


def task_cases(pairs: list[CasePair], plan: Plan, threads: int) -> int:
    """Cases per task: :data:`TASK_VALUES` over the values of a case (from the headers of the first
    readable cases), at most enough to give each worker thread :data:`TASKS_PER_THREAD` tasks."""
    from segeval.io.readers import read_header

    sizes = []
    for pair in pairs[:8]:
        with contextlib.suppress(Exception):  # an unreadable case fails in its task, as locally
            files = [pair.gt] + ([pair.pred] if pair.pred is not None else [])
            sizes.append(sum(read_header(path, max_voxels=plan.config.max_voxels).values for path in files))
    by_work = TASK_VALUES // max(sizes) if sizes else 1
    by_spread = math.ceil(len(pairs) / (TASKS_PER_THREAD * max(1, threads)))
    return max(1, min(by_work, by_spread))


def score_task(pairs: list[CasePair], plan: Plan) -> list[CaseRecord]:
    """One task on a worker: its cases in device batches, torch on one thread per Dask thread."""
    import torch

    from segeval.metrics import confusion

    device = resolve_device(plan.config.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
        confusion.BINCOUNT_THREADS = 1
    batches = chunked(pairs, plan.config.batch_size or default_batch_size(device))
    return [record for batch in batches for record in score_chunk(batch, plan)]


def run_dask(pairs: list[CasePair], plan: Plan, client) -> Iterator[CaseRecord]:
    """Score ``pairs`` on ``client``'s workers, yielding the records as their tasks complete.

    Paths go to the workers absolute; the records come back with the paths as given. Ctrl-C (or any
    error) cancels the tasks still pending.
    """
    from distributed import KilledWorker, as_completed

    threads = sum(client.nthreads().values())
    size = task_cases(pairs, plan, threads)
    tasks = {}
    try:
        for start in range(0, len(pairs), size):
            given = pairs[start : start + size]
            absolute = [
                CasePair(p.case, None if p.pred is None else Path(os.path.abspath(p.pred)), Path(os.path.abspath(p.gt)))
                for p in given
            ]  # the workers' working folder is not the client's
            tasks[client.submit(score_task, absolute, plan, pure=False)] = given
        for future in as_completed(list(tasks)):
            given = tasks.pop(future)
            try:
                records = future.result()
            except KilledWorker:
                records = [worker_died(pair) for pair in given]
            future.release()
            for record, pair in zip(records, given):
                yield replace(record, pred=pair.pred, gt=pair.gt)
    finally:
        if tasks:
            client.cancel(list(tasks))


def worker_died(pair: CasePair) -> CaseRecord:
    """The failed record of a case whose task the cluster gave up on after its workers died."""
    return CaseRecord(
        case=pair.case,
        pred=pair.pred,
        gt=pair.gt,
        status=Status.FAILED,
        error="worker died while scoring this case (Dask retried it on other workers); it may need more "
        "memory than a worker has",
    )
