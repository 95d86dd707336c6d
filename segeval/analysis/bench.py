"""``segeval losses bench``: forward + backward time and peak memory of each loss at given sizes.

For every loss and shape ``B x C x *S`` (``--shape 8x4x256x256``, 3-D too):

- inputs: float32 logits drawn from a seeded normal distribution (``requires_grad``), and a
  structured target (concentric shells of the classes around a centre that moves with the batch
  index, so distance maps see real boundaries); ``C = 1`` is ``binary`` mode, else ``multiclass``.
  ``nll`` gets log-probabilities (``log_softmax``/``logsigmoid`` of the logits, a leaf tensor);
- time: ``warmup`` untimed passes, then ``repeats`` timed passes of ``loss(x, t).backward()``, each
  between two ``torch.cuda.synchronize()`` calls on CUDA; reported as median, quartiles, min and max
  in milliseconds. ``transform_ms`` is the median time spent building CPU distance maps inside the
  pass (:func:`segeval.losses._distance.transform_time`), ``transform_share`` its share of the median;
- memory: one more pass measured by :func:`segeval.analysis.memory.measure_peak`.

With ``wrappers=True`` (:func:`bench_wrappers`) the two loss wrappers are timed too, per loss and
shape, against the wrapped loss called directly: ``DeepSupervisionLoss`` on three outputs built from
the given map (full size, then halved twice: ``F.interpolate`` of the logits, each a leaf) against the
same weighted sum of the loss on targets resized in advance, and ``MaskedLoss`` with a fixed mask
against ``loss(x, target, mask)``. The wrapper and its baseline alternate pass by pass
(``max(repeats, 30)`` passes each); ``overhead_ms`` is the difference of the medians and
``overhead_share`` its ratio to the baseline's median.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from segeval import __version__
from segeval.analysis.memory import measure_peak
from segeval.errors import SegevalError, UsageError
from segeval.losses import get_loss, loss_spec
from segeval.losses._distance import transform_time
from segeval.report.writers import prepare_out_dir, write_csv, write_json
from segeval.stats import column_quantiles
from segeval.status import Status

__all__ = ["BenchResult", "bench_inputs", "bench_losses", "bench_wrappers", "machine_info", "parse_shape"]

COLUMNS = [
    "loss",
    "family",
    "cpu_transform",
    "shape",
    "mode",
    "device",
    "median_ms",
    "q25_ms",
    "q75_ms",
    "min_ms",
    "max_ms",
    "repeats",
    "transform_ms",
    "transform_share",
    "peak_mb",
    "peak_torch_mb",
    "peak_numpy_mb",
    "memory_method",
    "status",
    "error",
]


WRAPPER_COLUMNS = [
    "wrapper",
    "loss",
    "shape",
    "scales",
    "mode",
    "device",
    "wrapper_ms",
    "baseline_ms",
    "overhead_ms",
    "overhead_share",
    "repeats",
    "status",
    "error",
]

#: At least this many timed passes of each wrapper and of its baseline.
WRAPPER_MIN_REPEATS = 30


def parse_shape(text: str) -> tuple[int, ...]:
    """``"8x4x256x256"`` → ``(8, 4, 256, 256)``: batch, channels and 1 to 3 spatial sizes, all >= 1.

    Examples
    --------
    >>> parse_shape("2x1x64x64x32")
    (2, 1, 64, 64, 32)
    """
    try:
        shape = tuple(int(part) for part in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise UsageError(f"--shape expects sizes joined by 'x', e.g. 8x4x256x256; got {text!r}") from None
    if not 3 <= len(shape) <= 5 or min(shape) < 1:
        raise UsageError(f"--shape needs B x C x 1-3 spatial sizes, each >= 1, e.g. 8x4x256x256; got {text!r}")
    return shape


def bench_inputs(shape: Sequence[int], device: torch.device, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 logits ``shape`` and the structured target (module docstring) on ``device``.

    The target is ``(B, *S)`` class indices for ``C >= 2``, ``(B, 1, *S)`` 0/1 for ``C = 1``.
    """
    batch, channels, *spatial = shape
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(*shape, generator=generator)
    grids = torch.meshgrid(*[torch.arange(n, dtype=torch.float32) for n in spatial], indexing="ij")
    ring = max(1.0, min(spatial) / (2.0 * max(channels, 2)))
    targets = []
    for b in range(batch):
        centre = [n / 2 + (b % 3 - 1) * n / 10 for n in spatial]
        radius = torch.sqrt(sum((g - c) ** 2 for g, c in zip(grids, centre)))
        shell = torch.clamp((radius / ring).long(), max=max(channels, 2) - 1)
        targets.append(max(channels, 2) - 1 - shell)
    target = torch.stack(targets)
    if channels == 1:
        target = (target > 0).long()[:, None]
    return logits.to(device), target.to(device)


def machine_info(device: torch.device) -> dict[str, object]:
    """CPU model, core count, torch version and threads, and the GPU name on CUDA."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    info: dict[str, object] = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class BenchResult:
    """The benchmark table (one row per loss and shape), the machine, and the settings."""

    table: pd.DataFrame
    machine: dict[str, object]
    settings: dict[str, object]
    timings: dict[str, float] = field(default_factory=dict)
    wrappers: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        from segeval.report.schema import versions

        return {
            "segeval_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": self.machine,
            "settings": self.settings,
            "rows": self.table.to_dict(orient="records"),
            **({} if self.wrappers is None else {"wrapper_rows": self.wrappers.to_dict(orient="records")}),
            "versions": versions(),
            "timings": self.timings,
        }

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write ``bench.csv``, ``bench.json`` and ``bench.png`` into ``out`` (each file atomically)."""
        from segeval.analysis import plots

        folder = prepare_out_dir(Path(out))
        paths = {"csv": folder / "bench.csv", "json": folder / "bench.json"}
        write_csv(paths["csv"], self.table)
        if self.wrappers is not None:
            paths["wrappers"] = folder / "bench_wrappers.csv"
            write_csv(paths["wrappers"], self.wrappers)
        write_json(paths["json"], self.to_dict())
        if (self.table["status"] == Status.OK.value).any():
            paths["chart"] = folder / "bench.png"
            plots.save_figure(plots.bench_chart(self.table), paths["chart"])
        return paths


def bench_losses(
    losses: Sequence[str] | None = None,
    *,
    family: str | None = None,
    shapes: Sequence[str | Sequence[int]] = ("8x4x256x256",),
    device: str = "auto",
    warmup: int = 2,
    repeats: int = 10,
    memory: bool = True,
    seed: int = 0,
    wrappers: bool = False,
    progress=None,
) -> BenchResult:
    """Time (forward + backward) and peak memory of each selected loss at each shape.

    Parameters
    ----------
    losses, family : optional
        Loss names, or one family; default every loss.
    shapes : sequence of str or tuple
        ``"B x C x *S"`` strings (:func:`parse_shape`) or tuples.
    device : str, default "auto"
        ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
    warmup, repeats : int
        Untimed and timed passes (``repeats >= 1``).
    memory : bool, default True
        Also measure the peak memory (two extra passes).
    seed : int
        Seed of the logits.
    wrappers : bool, default False
        Also time the loss wrappers against the losses they wrap (:func:`bench_wrappers`;
        ``BenchResult.wrappers``, ``bench_wrappers.csv``).
    progress : callable, optional
        ``progress(done, total)`` after each (loss, shape).

    Returns
    -------
    BenchResult
        ``table`` columns: :data:`COLUMNS`. A loss that fails at a shape gives a row with status
        ``failed`` and its error.
    """
    from segeval.analysis.evaluate import select_losses
    from segeval.pipeline.chunks import resolve_device

    if warmup < 0 or repeats < 1:
        raise UsageError(f"--warmup must be >= 0 and --repeats >= 1, got {warmup} and {repeats}")
    started = time.perf_counter()
    names = select_losses(list(losses) if losses else None, family)
    parsed = [parse_shape(s) if isinstance(s, str) else tuple(int(v) for v in s) for s in shapes]
    where = resolve_device(device)
    rows, total = [], len(names) * len(parsed)
    for shape in parsed:
        x, target = bench_inputs(shape, where, seed=seed)
        mode = "binary" if shape[1] == 1 else "multiclass"
        for name in names:
            rows.append(_bench_one(name, x, target, shape, mode, where, warmup, repeats, memory))
            if progress is not None:
                progress(len(rows), total)
    table = pd.DataFrame(rows, columns=COLUMNS)
    wrapper_table = (
        bench_wrappers(names, shapes=parsed, device=device, repeats=repeats, seed=seed) if wrappers else None
    )
    return BenchResult(
        table=table,
        wrappers=wrapper_table,
        machine=machine_info(where),
        settings={
            "shapes": ["x".join(map(str, s)) for s in parsed],
            "warmup": warmup,
            "repeats": repeats,
            "seed": seed,
            "dtype": "float32",
            "memory": memory,
        },
        timings={"total_s": time.perf_counter() - started},
    )


def _bench_one(
    name: str,
    x: torch.Tensor,
    target: torch.Tensor,
    shape: tuple[int, ...],
    mode: str,
    device: torch.device,
    warmup: int,
    repeats: int,
    memory: bool,
) -> dict:
    spec = loss_spec(name)
    row = {
        "loss": spec.name,
        "family": spec.family.value,
        "cpu_transform": spec.cpu_transform,
        "shape": "x".join(map(str, shape)),
        "mode": mode,
        "device": str(device),
        "repeats": repeats,
    }
    try:
        log_input = spec.input_kind == "log-probabilities"
        module = get_loss(name, mode=mode, from_logits=not log_input).to(device)
        source = x
        if log_input:
            source = torch.nn.functional.logsigmoid(x) if mode == "binary" else torch.log_softmax(x, dim=1)
        leaf = source.detach().clone().requires_grad_(True)

        def plain() -> None:
            leaf.grad = None
            module(leaf, target).backward()

        def quiet() -> None:
            with warnings.catch_warnings():  # nll checks its log-probabilities with float() on the leaf
                warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
                plain()

        step = quiet if log_input else plain

        for _ in range(warmup):
            step()
        times, transforms = [], []
        for _ in range(repeats):
            _sync(device)
            with transform_time() as box:
                begin = time.perf_counter()
                step()
                _sync(device)
                times.append(time.perf_counter() - begin)
            transforms.append(box[0])
        peak = measure_peak(step, device) if memory else None
    except SegevalError as exc:
        return {**row, "status": Status.FAILED.value, "error": exc.message}
    except (RuntimeError, ValueError) as exc:
        return {**row, "status": Status.FAILED.value, "error": f"{type(exc).__name__}: {exc}"}
    ms = np.asarray(times) * 1e3
    q25, median, q75 = (float(q[0]) for q in column_quantiles(ms[:, None], (0.25, 0.5, 0.75)))
    transform = float(column_quantiles(np.asarray(transforms)[:, None], (0.5,))[0][0]) * 1e3
    return {
        **row,
        "median_ms": median,
        "q25_ms": q25,
        "q75_ms": q75,
        "min_ms": float(ms.min()),
        "max_ms": float(ms.max()),
        "transform_ms": transform,
        "transform_share": transform / median if median > 0 else math.nan,
        "peak_mb": peak.total_mb if peak else math.nan,
        "peak_torch_mb": peak.torch_mb if peak else math.nan,
        "peak_numpy_mb": peak.numpy_mb if peak else math.nan,
        "memory_method": peak.method if peak else None,
        "status": Status.OK.value,
        "error": None,
    }


def scale_outputs(x: torch.Tensor, scales: int = 3) -> list[torch.Tensor]:
    """``x`` and ``scales - 1`` copies halved again and again (bilinear/trilinear, at least 1 px per axis), as leaves."""
    outputs = [x]
    linear = {3: "linear", 4: "bilinear", 5: "trilinear"}[x.ndim]
    for _ in range(scales - 1):
        size = [max(1, n // 2) for n in outputs[-1].shape[2:]]
        outputs.append(torch.nn.functional.interpolate(outputs[-1], size=size, mode=linear, align_corners=False))
    return [o.detach().clone().requires_grad_(True) for o in outputs]


def _median_ms(times: list[float]) -> float:
    return float(column_quantiles(np.asarray(times)[:, None] * 1e3, (0.5,))[0][0])


def _alternate(
    wrapper: Callable[[], None],
    baseline: Callable[[], None],
    device: torch.device,
    warmup: int,
    repeats: int,
    timer: Callable[[], float],
):
    """Median ms of ``wrapper`` and of ``baseline``, timed pass by pass in alternation (ABBA: each goes first
    in every other round, so neither always runs on the caches and allocations the other left)."""
    for _ in range(warmup):
        wrapper()
        baseline()
    times: dict[int, list[float]] = {0: [], 1: []}
    for round_ in range(repeats):
        order = ((0, wrapper), (1, baseline)) if round_ % 2 == 0 else ((1, baseline), (0, wrapper))
        for index, step in order:
            _sync(device)
            begin = timer()
            step()
            _sync(device)
            times[index].append(timer() - begin)
    return _median_ms(times[0]), _median_ms(times[1])


def _wrapper_steps(
    module: torch.nn.Module,
    outputs: list[torch.Tensor],
    targets: list[torch.Tensor],
    leaf: torch.Tensor,
    mask: torch.Tensor,
) -> list[tuple[str, int, Callable[[], None], Callable[[], None]]]:
    """``(wrapper, scales, wrapped pass, baseline pass)`` for each wrapper around ``module``."""
    from segeval.losses import DeepSupervisionLoss, MaskedLoss
    from segeval.losses.wrappers import halving_weights

    deep, masked = DeepSupervisionLoss(module), MaskedLoss(module, mask)
    halving = halving_weights(len(outputs))
    weights = [w / sum(halving) for w in halving]
    target, batch_mask = targets[0], mask.expand(leaf.shape[0], 1, *mask.shape)

    def deep_step() -> None:
        deep(outputs, target).backward()

    def deep_baseline() -> None:
        sum(w * module(o, t) for w, o, t in zip(weights, outputs, targets)).backward()

    def masked_step() -> None:
        masked(leaf, target).backward()

    def masked_baseline() -> None:
        module(leaf, target, batch_mask).backward()

    return [
        ("DeepSupervisionLoss", len(outputs), deep_step, deep_baseline),
        ("MaskedLoss", 1, masked_step, masked_baseline),
    ]


def bench_wrappers(
    losses: Sequence[str],
    *,
    shapes: Sequence[str | Sequence[int]] = ("8x4x256x256",),
    device: str = "auto",
    warmup: int = 2,
    repeats: int = WRAPPER_MIN_REPEATS,
    scales: int = 3,
    seed: int = 0,
    timer: Callable[[], float] = time.perf_counter,
) -> pd.DataFrame:
    """Time ``DeepSupervisionLoss`` and ``MaskedLoss`` around each loss against the loss alone (module docstring).

    ``timer`` is wall-clock time by default; on a CPU shared with other jobs, ``time.thread_time``
    with one torch thread counts this process's own work only. Returns a table with
    :data:`WRAPPER_COLUMNS`: one row per wrapper, loss and shape (``nll``, which takes
    log-probabilities, is left out).
    """
    from segeval.losses.wrappers import resize_target
    from segeval.pipeline.chunks import resolve_device

    where = resolve_device(device)
    repeats = max(repeats, WRAPPER_MIN_REPEATS)
    rows = []
    for shape in [parse_shape(s) if isinstance(s, str) else tuple(int(v) for v in s) for s in shapes]:
        x, target = bench_inputs(shape, where, seed=seed)
        mode = "binary" if shape[1] == 1 else "multiclass"
        outputs = scale_outputs(x, scales)
        targets = [resize_target(target, o.shape[2:]) for o in outputs]
        mask = torch.ones(shape[2:], dtype=torch.bool, device=where)
        mask[: max(1, shape[2] // 8)] = False  # a fixed band outside the field of view
        for name in losses:
            spec = loss_spec(name)
            if spec.input_kind != "logits":
                continue
            base = {"loss": spec.name, "shape": "x".join(map(str, shape)), "mode": mode, "device": str(where)}
            try:
                module = get_loss(name, mode=mode).to(where)
                steps = _wrapper_steps(module, outputs, targets, x.detach().clone().requires_grad_(True), mask)
                for wrapper, count, step, baseline in steps:
                    wrapped_ms, baseline_ms = _alternate(step, baseline, where, warmup, repeats, timer)
                    overhead = wrapped_ms - baseline_ms
                    rows.append(
                        {
                            **base,
                            "wrapper": wrapper,
                            "scales": count,
                            "wrapper_ms": wrapped_ms,
                            "baseline_ms": baseline_ms,
                            "overhead_ms": overhead,
                            "overhead_share": overhead / baseline_ms if baseline_ms > 0 else math.nan,
                            "repeats": repeats,
                            "status": Status.OK.value,
                            "error": None,
                        }
                    )
            except SegevalError as exc:
                rows.append({**base, "status": Status.FAILED.value, "error": exc.message})
            except (RuntimeError, ValueError) as exc:
                rows.append({**base, "status": Status.FAILED.value, "error": f"{type(exc).__name__}: {exc}"})
    return pd.DataFrame(rows, columns=WRAPPER_COLUMNS)


def summary_line(table: pd.DataFrame) -> str:
    """The losses whose median time is mostly CPU distance transform (share >= 0.5), for the CLI."""
    heavy = table[(table["status"] == Status.OK.value) & (table["transform_share"] >= 0.5)]
    if heavy.empty:
        return ""
    parts = sorted(
        {
            f"{r.loss} ({statistics.fmean(heavy[heavy['loss'] == r.loss]['transform_share']):.0%})"
            for r in heavy.itertuples()
        }
    )
    return "dominated by the CPU distance transform: " + ", ".join(parts)
