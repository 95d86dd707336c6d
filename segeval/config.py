"""ScoreConfig: every option that shapes a number of ``segeval score``, validated once.

The CLI and the library build the same :class:`ScoreConfig`; ``summary.json`` records it whole,
so a report says how its numbers were made.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from segeval.errors import UsageError
from segeval.predictions import PredKind


@dataclass(frozen=True)
class ScoreConfig:
    """Options of :func:`segeval.score` (see ``segeval score --help`` for each)."""

    labels: tuple[int, ...] | None = None
    """Label values to score; ``None`` infers them from the data (union over all cases)."""
    num_classes: int | None = None
    """Shorthand for ``labels = 0 .. num_classes - 1``."""
    class_names: tuple[str, ...] | None = None
    """One name per label, in label order, or ``"value=name"`` items."""
    ignore_index: int | None = None
    """Reference label whose pixels are excluded from every metric."""
    include_background: bool = False
    """Whether ``mean_dice`` averages the background class (label 0) too."""
    empty_score: float = math.nan
    """Dice/IoU/precision/recall/volume similarity when a class is absent from both sides."""
    pred_kind: PredKind = PredKind.AUTO
    channel_axis: int | None = None
    threshold: float | None = None
    """Cut for single-channel maps: default 0.5 on probabilities, 0 on logits (``>=`` is foreground)."""
    palette: Path | None = None
    recursive: bool = False
    pred_suffix: str = ""
    gt_suffix: str = ""
    pairs: Path | None = None
    allow_missing: bool = False
    skip_missing: bool = False
    spacing: tuple[float, ...] | None = None
    """Spacing in mm in array-axis order (z, y, x), overriding the files'; one value = isotropic."""
    geometry_tolerance: float = 1e-3
    """Relative/absolute tolerance when comparing prediction and reference spacing, origin, direction."""
    device: str = "auto"
    batch_size: int | None = None
    """Cases per kernel call; default 1 on CPU, 8 on CUDA."""
    workers: int | None = None
    """Threads decoding files while the kernel runs; default min(4, CPU count)."""
    metrics: tuple[str, ...] | None = None
    """Distance metrics to compute besides the overlap metrics (always computed), e.g. ``("hd", "hd95", "assd")``."""
    convention: str = "segeval"
    """Distance-metric convention: segeval, monai, medpy or deepmind (docs/distance.md)."""
    hd_percentile: float | None = None
    """Also compute the Hausdorff distance at this percentile (metric ``hdNN``)."""
    nsd_tolerance: float | tuple[tuple[int, float], ...] = 1.0
    """NSD tolerance in mm: one value, or (label, tolerance) pairs."""
    boundary_iou_width: float = 2.0
    """Width in mm of the boundary band of boundary IoU."""
    distance_empty: str = "worst"
    """Distance value when exactly one mask is empty: worst (image diagonal), nan or inf."""
    ci: float = 0.95
    """Coverage of the bootstrap confidence intervals of the means in the summary; 0 turns them off."""
    gates: tuple[str, ...] = ()
    """Quality gates, e.g. ``("dice>=0.85", "hd95[liver]<=6", "failed==0")`` (docs/gates.md)."""
    baseline: Path | None = None
    """A previous report (folder, summary.json or per_case.csv) to compare this run with."""
    max_drop: tuple[str, ...] = ()
    """Limits on falls of the mean versus the baseline, e.g. ``("dice=0.01",)``."""
    max_rise: tuple[str, ...] = ()
    """Limits on rises of the mean versus the baseline, e.g. ``("hd95=0.5",)``."""
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    """Where each setting came from (``cli``, ``<config file>``); unlisted settings are defaults."""

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("pred_kind", _enum(PredKind, self.pred_kind, "pred_kind"))
        for name in ("palette", "pairs", "baseline"):
            if getattr(self, name) is not None:
                put(name, Path(getattr(self, name)))
        if self.labels is not None and self.num_classes is not None:
            raise UsageError("give either --labels or --num-classes, not both")
        if self.num_classes is not None:
            if self.num_classes < 1:
                raise UsageError(f"--num-classes must be at least 1, got {self.num_classes}")
            put("labels", tuple(range(self.num_classes)))
        if self.labels is not None:
            labels = tuple(int(v) for v in self.labels)
            if len(set(labels)) != len(labels) or not labels:
                raise UsageError(f"--labels must be distinct label values, got {list(labels)}")
            put("labels", tuple(sorted(labels)))
            if self.ignore_index is not None and self.ignore_index in labels:
                raise UsageError(f"--ignore-index {self.ignore_index} is also one of --labels")
        if self.class_names is not None:
            put("class_names", tuple(self.class_names))
        if not (math.isnan(self.empty_score) or 0.0 <= self.empty_score <= 1.0):
            raise UsageError(f"--empty-score must be nan or within [0, 1], got {self.empty_score}")
        if self.skip_missing and not self.allow_missing:
            put("allow_missing", True)
        if self.spacing is not None:
            spacing = tuple(float(s) for s in self.spacing)
            if not spacing or not all(s > 0 and math.isfinite(s) for s in spacing):
                raise UsageError(f"--spacing must be positive numbers, got {list(spacing)}")
            put("spacing", spacing)
        if self.geometry_tolerance < 0:
            raise UsageError(f"--geometry-tolerance must be >= 0, got {self.geometry_tolerance}")
        for name in ("batch_size", "workers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if not 0.0 <= self.ci < 1.0:
            raise UsageError(f"--ci must be in [0, 1), got {self.ci}")
        for name in ("gates", "max_drop", "max_rise"):
            put(name, tuple(getattr(self, name)))
        if (self.max_drop or self.max_rise) and self.baseline is None:
            raise UsageError("--max-drop/--max-rise need --baseline")
        if isinstance(self.nsd_tolerance, dict):
            put("nsd_tolerance", tuple(sorted((int(k), float(v)) for k, v in self.nsd_tolerance.items())))
        if self.metrics is not None:
            put("metrics", tuple(self.metrics))
        self.distance_options()  # checks convention, tolerances and the empty policy
        self.distance_metrics()  # checks the names
        self.parsed_gates()  # fail fast on a bad expression, before any file is read
        self.parsed_limits()
        resolve_device(self.device)

    def distance_metrics(self) -> list[str]:
        """Canonical distance metrics to compute: from ``metrics``, ``hd_percentile`` and the gates."""
        from segeval.metrics.catalog import METRICS
        from segeval.metrics.distance import parse_distance_metric

        wanted: list[str] = []
        names = list(self.metrics or ())
        if self.hd_percentile is not None:
            names.append(f"hd{self.hd_percentile:g}")
        for name in names:
            canonical = parse_distance_metric(name)
            if canonical is None:
                METRICS.canonical(name)  # an overlap metric (always computed), or a did-you-mean error
            elif canonical not in wanted:
                wanted.append(canonical)
        from segeval.gate import parse_gate

        for text in self.gates:
            canonical = parse_distance_metric(parse_gate(text).metric)
            if canonical is not None and canonical not in wanted:
                wanted.append(canonical)
        return wanted

    def distance_options(self):
        """The :class:`segeval.metrics.distance.DistanceOptions` of this run."""
        from segeval.metrics.distance import DistanceOptions

        tolerance = dict(self.nsd_tolerance) if isinstance(self.nsd_tolerance, tuple) else self.nsd_tolerance
        return DistanceOptions(
            convention=self.convention,
            percentile=self.hd_percentile or 95.0,
            nsd_tolerance_mm=tolerance,
            boundary_iou_width_mm=self.boundary_iou_width,
            empty_policy=self.distance_empty,
            device=str(resolve_device(self.device)),
        )

    def parsed_gates(self) -> list:
        """The gates as :class:`segeval.gate.Gate` objects."""
        from segeval.gate import parse_gate

        return [parse_gate(text, source=self.sources.get("gates", "library")) for text in self.gates]

    def parsed_limits(self) -> list:
        """``max_drop`` and ``max_rise`` as gates on the change of the mean."""
        from segeval.compare import parse_limits

        return parse_limits(self.max_drop, "drop") + parse_limits(self.max_rise, "rise")

    def named_classes(self, labels: list[int]) -> list[str]:
        """A name for each of ``labels``: from ``class_names`` or ``"class_<value>"``."""
        names = {value: f"class_{value}" for value in labels}
        if self.class_names is None:
            return [names[v] for v in labels]
        items = list(self.class_names)
        if all("=" in item for item in items):
            for item in items:
                value, name = item.split("=", 1)
                try:
                    names[int(value)] = name.strip()
                except ValueError:
                    raise UsageError(f"--class-names item {item!r} is not VALUE=NAME") from None
        elif len(items) == len(labels):
            names = dict(zip(labels, items))
        else:
            raise UsageError(
                f"--class-names gives {len(items)} names for {len(labels)} labels {labels};"
                " give one per label or VALUE=NAME items"
            )
        return [names[v] for v in labels]

    def as_dict(self) -> dict[str, object]:
        """Every option as JSON-ready values (paths as strings, NaN as None, enums by value)."""
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            if isinstance(value, PredKind):
                value = value.value
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, float) and math.isnan(value):
                value = None
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[f.name] = value
        return out


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; an unavailable CUDA device is a usage error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {device!r} requested but CUDA is not available", hint="use --device cpu")
    if resolved.type not in ("cpu", "cuda"):
        raise UsageError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return resolved


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _enum(kind, value, name):
    try:
        return kind(value.value if isinstance(value, kind) else str(value).lower())
    except ValueError:
        choices = ", ".join(k.value for k in kind)
        raise UsageError(f"{name} must be one of {choices}, got {value!r}") from None


__all__ = ["ScoreConfig", "resolve_device", "default_workers"]
