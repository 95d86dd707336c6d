"""``segeval.score``: the one entry point of the library, which the CLI calls too.

Data flow, top to bottom::

    pair files → load (worker threads) → decode + count (device, in batches)
               → resolve the label set → derive metrics and aggregate → ScoreResult (→ reports)
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from segeval import __version__
from segeval.aggregate import Tables, build_tables, distance_arrays
from segeval.cases import BACKGROUND, CaseRecord, LoadedCase, count_batch, load_case
from segeval.compare import Comparison, compare_reports, read_report, report_from_result
from segeval.config import ScoreConfig, default_workers, resolve_device
from segeval.errors import PairingError, UsageError
from segeval.gate import GateResult, evaluate_gates
from segeval.io.palette import read_palette
from segeval.io.pairing import CasePair, Pairing, discover_pairs, read_manifest
from segeval.metrics.catalog import METRICS
from segeval.report.writers import write_report

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each case."""


@dataclass
class ScoreResult:
    """What :func:`score` returns: the report tables as DataFrames, and how they were made.

    ``per_case`` and ``summary`` hold exactly the data of ``per_case.csv`` and ``summary.csv``;
    :meth:`to_dict` is ``summary.json``.
    """

    per_case: pd.DataFrame
    summary: pd.DataFrame
    dataset: dict[str, float]
    labels: list[int]
    class_names: list[str]
    confusion: np.ndarray
    cases: list[CaseRecord]
    config: ScoreConfig
    inputs: dict[str, str | None]
    missing_gt: list[str] = field(default_factory=list)
    skipped_missing: list[str] = field(default_factory=list)
    """Cases without prediction left out of the scores (``skip_missing``)."""
    skipped_files: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    gates: list[GateResult] = field(default_factory=list)
    """Verdicts of ``config.gates`` and of the baseline limits (``max_drop``/``max_rise``)."""
    comparison: Comparison | None = None
    """The comparison with ``config.baseline``, when one was given."""

    @property
    def foreground_labels(self) -> list[int]:
        """Labels that class means average: all but the background (0) unless it is included."""
        return [v for v in self.labels if self.config.include_background or v != BACKGROUND]

    @property
    def passed(self) -> bool:
        """Every gate passed (True when there are none)."""
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[CaseRecord]:
        """Cases that could not be scored, each with its one-line ``error``."""
        return [r for r in self.cases if r.status == "failed"]

    @property
    def missing_pred(self) -> list[str]:
        """Cases with a ground truth and no prediction: scored as empty predictions, or skipped."""
        return sorted([r.case for r in self.cases if r.status == "missing_pred"] + self.skipped_missing)

    def metric(self, name: str, class_: int | str = "all", statistic: str = "mean") -> float:
        """One number of the summary, e.g. ``result.metric("dice", 1)`` or ``("miou", statistic="pooled")``."""
        canonical = METRICS.canonical(name)
        rows = self.summary[(self.summary["metric"] == canonical) & (self.summary["class"] == str(class_))]
        if rows.empty:
            raise UsageError(f"no summary value for metric {canonical!r} and class {class_!r}")
        return float(rows.iloc[0][statistic])

    def to_dict(self) -> dict:
        """The content of ``summary.json`` (NaN is written as null)."""
        return {
            "segeval_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "inputs": self.inputs,
            "config": {**self.config.as_dict(), "device": self.device},
            "config_sources": self.config.sources,
            "labels": self.labels,
            "class_names": self.class_names,
            "counts": {
                "cases": len(self.cases),
                "scored": sum(r.scored for r in self.cases),
                "failed": len(self.failed),
                "missing_pred": len(self.missing_pred),
                "missing_gt": len(self.missing_gt),
                "skipped_files": len(self.skipped_files),
            },
            "failed": [{"case": r.case, "pred": r.pred, "gt": r.gt, "error": r.error} for r in self.failed],
            "missing": {"pred": self.missing_pred, "gt": self.missing_gt},
            "missing_pred_policy": "skipped" if self.config.skip_missing else "scored as empty prediction",
            "skipped_files": self.skipped_files,
            "dataset": self.dataset,
            "confusion_matrix": {
                "labels": self.labels,
                "rows": "reference",
                "columns": "prediction",
                "matrix": self.confusion.tolist(),
            },
            "metrics": {
                spec.name: {
                    "level": spec.level,
                    "family": spec.family,
                    "formula": spec.formula,
                    "higher_is_better": spec.higher_is_better,
                    "unit": spec.unit,
                }
                for spec in METRICS
            },
            "units": self.units(),
            "distance": {
                "metrics": self.config.distance_metrics(),
                "convention": self.config.convention,
                "empty_policy": self.config.distance_empty,
                "nsd_tolerance_mm": self.config.nsd_tolerance,
                "boundary_iou_width_mm": self.config.boundary_iou_width,
            },
            "summary": self.summary.to_dict(orient="records"),
            "status_counts": self.status_counts(),
            "gates": {"passed": self.passed, "results": [g.as_dict() for g in self.gates]},
            "comparison": self.comparison.as_dict() if self.comparison is not None else None,
            "cases": [_case_dict(r) for r in self.cases],
            "versions": versions(),
            "timings": self.timings,
        }

    def status_counts(self) -> dict[str, dict[str, int]]:
        """For each metric, how many per-case values took each branch (ok, both_empty, one_empty, …)."""
        counts = self.per_case.groupby(["metric", "status"], sort=False).size()
        out: dict[str, dict[str, int]] = {}
        for (metric, status), n in counts.items():
            out.setdefault(metric, {})[status] = int(n)
        return out

    def units(self) -> dict[str, str]:
        """Units of lengths and volumes in this run: ``mm``/``mm^d`` when every case has a physical
        spacing (from a file or ``--spacing``), ``px`` when none has, ``mixed`` otherwise."""
        physical = {r.spacing_source != "default (1 per pixel)" for r in self.cases if r.scored}
        dims = {len(r.spacing_mm) for r in self.cases if r.scored and r.spacing_mm}
        if physical == {True}:
            length, volume = "mm", f"mm^{dims.pop()}" if len(dims) == 1 else "mm^d"
        elif physical == {False}:
            length, volume = "px", "px"
        else:
            length, volume = "mixed", "mixed"
        return {"distance": length, "volume": volume}

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write ``per_case.csv``, ``summary.csv`` and ``summary.json`` into ``out`` (atomically)."""
        return write_report(out, self.per_case, self.summary, self.to_dict())


def score(
    preds: str | Path | None = None, gts: str | Path | None = None, *, progress: Progress | None = None, **options
) -> ScoreResult:
    """Score every prediction in ``preds`` against its ground truth in ``gts``.

    Parameters
    ----------
    preds, gts : str or Path
        Folders (or two single files). Leave both out when ``pairs=`` gives a manifest.
    progress : callable, optional
        ``progress(done, total)`` after each case.
    **options
        Any field of :class:`segeval.config.ScoreConfig` (``labels=``, ``num_classes=``,
        ``ignore_index=``, ``empty_score=``, ``device=`` …).

    Returns
    -------
    ScoreResult
        Per-case and summary tables; failed and missing cases are listed, never raised.

    Raises
    ------
    UsageError, PairingError
        Bad options; folders that cannot be paired (unmatched files without ``allow_missing``).

    Examples
    --------
    >>> result = segeval.score("preds/", "gts/", num_classes=3)        # doctest: +SKIP
    >>> result.metric("dice", 1), result.metric("miou", statistic="pooled")  # doctest: +SKIP
    """
    started = time.perf_counter()
    config = ScoreConfig(**options)
    device = resolve_device(config.device)
    pairing = pair_inputs(preds, gts, config)
    pairs = list(pairing.pairs)
    if config.allow_missing and not config.skip_missing:
        pairs += pairing.missing_pred
        pairs.sort(key=lambda p: p.case)
    paired = time.perf_counter()

    palette = read_palette(config.palette) if config.palette is not None else None
    batch_size = config.batch_size or (8 if device.type == "cuda" else 1)
    records: list[CaseRecord] = []
    distance_names, distance_options = config.distance_metrics(), config.distance_options()
    workers = config.workers or default_workers()
    with _torch_threads(1 if device.type == "cpu" and workers > 1 else None):
        loaded = load_ahead(pairs, config, palette, workers)
        for batch in _batches(loaded, batch_size):
            ready = [item for item in batch if isinstance(item, LoadedCase)]
            done = count_batch(ready, config, device, distance_names, distance_options)
            by_case = {r.case: r for r in done}
            for item in batch:
                records.append(by_case[item.record.case] if isinstance(item, LoadedCase) else item)
                if progress is not None:
                    progress(len(records), len(pairs))
    counted = time.perf_counter()

    labels = _label_set(records, config)
    class_names = config.named_classes(labels)
    tables: Tables = build_tables(
        records,
        labels,
        class_names,
        include_background=config.include_background,
        empty_score=config.empty_score,
        ci=config.ci,
        extra_class_metrics=distance_arrays(records, labels, distance_names),
    )
    finished = time.perf_counter()
    n_scored = max(1, sum(r.scored for r in records))
    result = ScoreResult(
        per_case=tables.per_case,
        summary=tables.summary,
        dataset=tables.dataset,
        labels=labels,
        class_names=class_names,
        confusion=tables.confusion,
        cases=records,
        config=config,
        inputs={"preds": _str(preds), "gts": _str(gts), "pairs": _str(config.pairs)},
        missing_gt=pairing.missing_gt,
        skipped_missing=[p.case for p in pairing.missing_pred] if config.skip_missing else [],
        skipped_files=[str(p) for p in pairing.skipped_files],
        timings={
            "total_s": finished - started,
            "pairing_s": paired - started,
            "load_and_count_s": counted - paired,
            "aggregate_s": finished - counted,
            "per_case_ms": 1000 * (counted - paired) / n_scored,
        },
        device=str(device),
    )
    result.gates = evaluate_gates(config.parsed_gates(), result)
    if config.baseline is not None:
        result.comparison = compare_reports(
            read_report(config.baseline),
            report_from_result(result),
            level=config.ci or 0.95,
            limits=config.parsed_limits(),
        )
        result.gates += result.comparison.gates
    return result


def pair_inputs(preds, gts, config: ScoreConfig) -> Pairing:
    """Pair the inputs as ``config`` says; unmatched files are an error unless ``allow_missing``."""
    if config.pairs is not None:
        if preds is not None or gts is not None:
            raise UsageError("give either PREDS and GTS folders or --pairs, not both")
        pairing = read_manifest(config.pairs)
    else:
        if preds is None or gts is None:
            raise UsageError("give the PREDS and GTS folders (or --pairs manifest.csv)")
        pairing = discover_pairs(
            preds, gts, recursive=config.recursive, pred_suffix=config.pred_suffix, gt_suffix=config.gt_suffix
        )
    missing_pred = [p.case for p in pairing.missing_pred]
    if (missing_pred or pairing.missing_gt) and not config.allow_missing:
        parts = []
        if missing_pred:
            parts.append(f"{len(missing_pred)} ground truth(s) without prediction: {_few(missing_pred)}")
        if pairing.missing_gt:
            parts.append(f"{len(pairing.missing_gt)} prediction(s) without ground truth: {_few(pairing.missing_gt)}")
        raise PairingError(
            "unmatched files: " + "; ".join(parts),
            hint="--allow-missing scores what matches (a missing prediction counts as empty unless --skip-missing);"
            " --pred-suffix/--gt-suffix strip name suffixes; --pairs gives explicit pairs",
        )
    if not pairing.pairs and not (config.allow_missing and not config.skip_missing and pairing.missing_pred):
        raise PairingError("no prediction matches a ground truth: nothing to score")
    return pairing


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" … (+{len(names) - limit} more)" if len(names) > limit else "")


def load_ahead(pairs: list[CasePair], config: ScoreConfig, palette, workers: int) -> Iterator[LoadedCase | CaseRecord]:
    """Load cases in ``workers`` threads, at most ``2 × workers`` ahead, yielding them in order."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segeval-load") as pool:
        pending: deque = deque()
        for pair in pairs:
            pending.append(pool.submit(load_case, pair, config, palette))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@contextlib.contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """Run torch with ``count`` intra-op threads, then restore the setting (``None``: unchanged).

    On the CPU the loader threads already keep every core busy decoding files; torch's own
    threads on top of them only add contention (and large histograms are split over the CPUs
    by :func:`segeval.metrics.confusion._bincount` anyway).
    """
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _label_set(records: list[CaseRecord], config: ScoreConfig) -> list[int]:
    if config.labels is not None:
        return list(config.labels)
    present: set[int] = set()
    for record in records:
        if record.scored:
            present |= set(record.counts.values.tolist())
    return sorted(present)


def _case_dict(record: CaseRecord) -> dict:
    return {
        "case": record.case,
        "status": record.status,
        "pred": record.pred,
        "gt": record.gt,
        "error": record.error,
        "pred_kind": record.pred_kind,
        "class_axis": record.class_axis,
        "threshold": record.threshold,
        "shape": record.shape,
        "spacing_mm": record.spacing_mm,
        "spacing_source": record.spacing_source,
        "notes": record.notes,
    }


def versions() -> dict[str, str]:
    """Versions of segeval and of the libraries that shape its numbers."""
    import PIL
    import SimpleITK
    import torch

    return {
        "segeval": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "SimpleITK": SimpleITK.Version_VersionString(),
        "pillow": PIL.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
    }


def _str(value) -> str | None:
    return None if value is None else str(value)
