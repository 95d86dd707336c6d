r"""Sensitivity sweeps: each loss (and Dice, HD95) against controlled degradations of a mask.

Starting from a binary reference mask :math:`G` (the generated one of
:func:`~segeval.analysis.degrade.synthetic_reference`, or a given case), each degradation makes a
predicted mask :math:`P` at increasing levels (:mod:`segeval.analysis.degrade`):

==============  ======================================================================
``shift``       :math:`G` moved by ``k`` px along the last array axis
``erode``       :math:`G` eroded by the Euclidean ball of radius ``k`` px
``dilate``      :math:`G` dilated by the Euclidean ball of radius ``k`` px
``fp_blobs``    :math:`G` plus ``k`` false-positive balls (``blob_radius`` px, seeded)
``drop_object`` :math:`G` without its ``k`` smallest connected components
``imbalance``   the reference itself shrinks to a foreground fraction ``f`` (50 % … 0.1 %) and
                the prediction is it dilated by ``imbalance_error_px`` (1 px): the same
                boundary error at a falling foreground fraction. Generated reference: a
                centred disc/ball of that fraction; given case: padded with background.
==============  ======================================================================

Losses see :math:`P` as logits of fixed confidence, :math:`z = +c` inside and :math:`-c` outside
(``confidence`` :math:`c = 3`, i.e. :math:`p = \sigma(3) \approx 0.953`), in ``binary`` mode
against :math:`G`. Distance-based losses get the spacing. ``hard_dice`` is the Dice coefficient
:math:`2|P \cap G| / (|P| + |G|)` from counts (1 when both are empty); ``hd95`` comes from
:func:`segeval.metrics.distance.distance_metrics` (segeval convention; NaN when one mask is empty).

**Response.** For each loss or metric :math:`v` and degradation :math:`d`,
:math:`\Delta = s\,(v_d(k) - v_d(k_0))`, with :math:`k_0` the first level of :math:`d` and
:math:`s = -1` for ``hard_dice`` (higher is better), else :math:`+1`; ``response`` :math:`= \Delta / \max|\Delta|`,
the maximum taken over every degradation and level of the sweep. So each curve starts at 0, a
response of 1 is that loss's strongest reaction anywhere in the sweep, and a positive response
means "looks worse".
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from segeval import __version__
from segeval.analysis import degrade
from segeval.analysis.gradients import loss_options
from segeval.errors import SegevalError, UsageError
from segeval.losses import get_loss
from segeval.report.writers import prepare_out_dir, write_csv, write_json
from segeval.status import Status

__all__ = [
    "DEFAULT_LEVELS",
    "DEGRADATIONS",
    "SweepOptions",
    "SweepResult",
    "degraded_pair",
    "parse_spatial_shape",
    "reference_from_file",
    "run_sweep",
]

DEGRADATIONS = ("shift", "erode", "dilate", "fp_blobs", "drop_object", "imbalance")
DEFAULT_LEVELS: dict[str, tuple[float, ...]] = {
    "shift": (0, 1, 2, 3, 4, 6, 8),
    "erode": (0, 1, 2, 3, 4, 6),
    "dilate": (0, 1, 2, 3, 4, 6, 8),
    "fp_blobs": (0, 1, 2, 3, 4, 6, 8),
    "drop_object": (0, 1, 2, 3, 4),
    "imbalance": (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001),
}
COLUMNS = [
    "degradation",
    "level_index",
    "level",
    "name",
    "kind",
    "value",
    "status",
    "response",
    "ref_fraction",
    "pred_fraction",
    "note",
]
METRICS = ("hard_dice", "hd95")


@dataclass(frozen=True)
class SweepOptions:
    """Settings of a sweep.

    Attributes
    ----------
    confidence : float, default 3
        Logit magnitude of the predicted masks (:math:`\\pm c`).
    blob_radius : float, default 3
        Radius (px) of the false-positive balls.
    seed : int, default 0
        Seed of the blob positions.
    imbalance_error_px : int, default 1
        Dilation (px) of the prediction in the imbalance sweep.
    max_voxels : int, default 4_000_000
        Largest padded image of the imbalance sweep on a given case; larger levels are skipped.
    """

    confidence: float = 3.0
    blob_radius: float = 3.0
    seed: int = 0
    imbalance_error_px: int = 1
    max_voxels: int = 4_000_000

    def __post_init__(self) -> None:
        if not (math.isfinite(self.confidence) and self.confidence > 0):
            raise UsageError(f"--confidence must be a positive number, got {self.confidence!r}")
        if not (math.isfinite(self.blob_radius) and self.blob_radius >= 1):
            raise UsageError(f"--blob-radius must be at least 1 px, got {self.blob_radius!r}")
        if self.imbalance_error_px < 0:
            raise UsageError(f"imbalance_error_px must be >= 0, got {self.imbalance_error_px!r}")


@dataclass
class SweepResult:
    """The sweep table (one row per degradation, level and loss/metric) and how it was made."""

    table: pd.DataFrame
    reference: np.ndarray
    spacing_mm: tuple[float, ...]
    source: str
    options: SweepOptions
    losses: list[str]
    examples: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        from segeval.report.schema import versions

        return {
            "segeval_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": self.source,
            "shape": list(self.reference.shape),
            "spacing_mm": list(self.spacing_mm),
            "ref_fraction": float(self.reference.mean()),
            "losses": self.losses,
            "options": {
                "confidence": self.options.confidence,
                "blob_radius": self.options.blob_radius,
                "seed": self.options.seed,
                "imbalance_error_px": self.options.imbalance_error_px,
                "max_voxels": self.options.max_voxels,
            },
            "definitions": {
                "prediction": f"logits +{self.options.confidence:g} inside the degraded mask, "
                f"-{self.options.confidence:g} outside; binary mode",
                "hard_dice": "2|P & G| / (|P| + |G|) from counts, 1 when both are empty",
                "hd95": "segeval.metrics.distance.distance_metrics (segeval convention), NaN when one mask is empty",
                "response": "s (v(k) - v(k0)) / max |s (v - v(k0))| over the sweep; s = -1 for hard_dice",
            },
            "rows": self.table.to_dict(orient="records"),
            "versions": versions(),
            "timings": self.timings,
        }

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write ``sweep.csv``, ``sweep.json`` and the figures into ``out`` (each file atomically)."""
        from segeval.analysis import plots

        folder = prepare_out_dir(Path(out))
        paths = {
            "csv": folder / "sweep.csv",
            "json": folder / "sweep.json",
            "lines": folder / "sweep.png",
            "matrix": folder / "sweep_matrix.png",
        }
        write_csv(paths["csv"], self.table)
        write_json(paths["json"], self.to_dict())
        plots.save_figure(plots.sweep_lines(self.table), paths["lines"])
        plots.save_figure(plots.sweep_matrix(self.table), paths["matrix"])
        if self.examples:
            paths["examples"] = folder / "sweep_examples.png"
            plots.save_figure(plots.sweep_examples(self.examples), paths["examples"])
        return paths


def parse_spatial_shape(text: str) -> tuple[int, ...]:
    """``"128x128"`` → ``(128, 128)``: the 2 or 3 sizes of a generated reference.

    Examples
    --------
    >>> parse_spatial_shape("64x96x80")
    (64, 96, 80)
    """
    try:
        shape = tuple(int(part) for part in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise UsageError(f"--shape expects 2 or 3 sizes joined by 'x', e.g. 128x128; got {text!r}") from None
    if len(shape) not in (2, 3):
        raise UsageError(f"--shape expects 2 or 3 sizes joined by 'x', e.g. 128x128; got {text!r}")
    return shape


def _parse_levels(
    degradations: Sequence[str] | None, levels: Mapping[str, Sequence[float]] | None
) -> dict[str, tuple[float, ...]]:
    chosen = list(degradations) if degradations else list(DEGRADATIONS)
    unknown = [d for d in chosen if d not in DEGRADATIONS]
    unknown += [d for d in (levels or {}) if d not in DEGRADATIONS]
    if unknown:
        raise UsageError(f"unknown degradation {unknown[0]!r}; choose from {', '.join(DEGRADATIONS)}")
    out = {}
    for name in chosen:
        values = tuple(float(v) for v in (levels or {}).get(name, DEFAULT_LEVELS[name]))
        if not values:
            raise UsageError(f"--levels {name}= needs at least one level")
        if name == "imbalance":
            if any(not 0 < v < 1 for v in values):
                raise UsageError(f"imbalance levels are foreground fractions in (0, 1), got {values}")
        elif any(v < 0 or v != int(v) for v in values):
            raise UsageError(f"{name} levels are whole numbers of pixels/objects >= 0, got {values}")
        out[name] = values
    return out


def degraded_pair(
    reference: np.ndarray,
    degradation: str,
    level: float,
    options: SweepOptions,
    *,
    synthetic: bool,
    blob_centres: list | None = None,
) -> tuple[np.ndarray, np.ndarray] | str:
    """(reference, prediction) masks of one level, or the reason the level is skipped."""
    k = int(level) if degradation != "imbalance" else level
    if degradation == "shift":
        return reference, degrade.shift(reference, k)
    if degradation == "erode":
        return reference, degrade.erode(reference, k)
    if degradation == "dilate":
        return reference, degrade.dilate(reference, k)
    if degradation == "fp_blobs":
        centres = (
            blob_centres
            if blob_centres is not None
            else degrade.blob_centres(reference, k, radius=options.blob_radius, seed=options.seed)
        )
        if len(centres) < k:
            return f"room for only {len(centres)} blobs"
        prediction = reference.copy()
        for centre in centres[:k]:
            prediction |= degrade.ball(reference.shape, centre, options.blob_radius)
        return reference, prediction
    if degradation == "drop_object":
        available = degrade.count_objects(reference)
        if k > 0 and k >= available:
            return f"the reference has {available} object(s); at least one is kept"
        return reference, degrade.drop_objects(reference, k)
    if degradation == "imbalance":
        if synthetic:
            shrunk = degrade.synthetic_reference(reference.shape, fraction=level)
        else:
            shrunk = degrade.pad_to_fraction(reference, level)
            if shrunk is None:
                return f"the reference's own foreground fraction is {reference.mean():.4g}"
            if shrunk.size > options.max_voxels:
                return f"needs {shrunk.size} voxels (> max_voxels {options.max_voxels})"
        return shrunk, degrade.dilate(shrunk, options.imbalance_error_px)
    raise UsageError(f"unknown degradation {degradation!r}")


def _dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    """The catalog's Dice of the foreground, from counts, with the empty policy explicit: both empty is 1."""
    from segeval.metrics.overlap import ClassCounts, dice

    tp = int((prediction & reference).sum())
    fp, fn = int(prediction.sum()) - tp, int(reference.sum()) - tp
    counts = ClassCounts(*(np.array([float(v)]) for v in (tp, fp, fn, prediction.size - tp - fp - fn)))
    return float(dice(counts, empty_score=1.0)[0][0])


def _hd95(prediction: np.ndarray, reference: np.ndarray, spacing: tuple[float, ...]) -> tuple[float, str]:
    from segeval.metrics.distance import DistanceOptions, distance_metrics

    result = distance_metrics(
        prediction.astype(np.uint8),
        reference.astype(np.uint8),
        [1],
        spacing,
        ["hd95"],
        DistanceOptions(empty_policy="nan"),
    )
    return result[1]["hd95"]


def run_sweep(
    reference: np.ndarray | None = None,
    *,
    spacing_mm: Sequence[float] | None = None,
    losses: Sequence[str] | None = None,
    family: str | None = None,
    degradations: Sequence[str] | None = None,
    levels: Mapping[str, Sequence[float]] | None = None,
    options: SweepOptions = SweepOptions(),
    shape: Sequence[int] = (128, 128),
    source: str | None = None,
    progress=None,
) -> SweepResult:
    """Every selected loss, Dice and HD95 at each level of each degradation.

    Parameters
    ----------
    reference : numpy.ndarray of bool, optional
        A 2-D or 3-D binary reference mask; default: :func:`~segeval.analysis.degrade.synthetic_reference`
        of ``shape``.
    spacing_mm : sequence of float, optional
        Spacing in array order (default 1 mm per pixel; one value = isotropic); used by HD95 and the
        distance-based losses.
    losses, family : optional
        Loss names, or one family; default every loss.
    degradations : sequence of str, optional
        Subset of :data:`DEGRADATIONS` (default all).
    levels : mapping, optional
        Levels per degradation, overriding :data:`DEFAULT_LEVELS`.
    options : SweepOptions
    shape : sequence of int, default (128, 128)
        Shape of the generated reference.
    source : str, optional
        Where the reference came from (recorded in the JSON).
    progress : callable, optional
        ``progress(done, total)`` after each level.

    Returns
    -------
    SweepResult
        ``table`` columns: ``degradation, level_index, level, name, kind`` (``loss``/``metric``),
        ``value, status`` (``ok``, ``skipped``, ``failed``, ``one_empty`` …), ``response``,
        ``ref_fraction, pred_fraction, note``. Definitions: module docstring.

    Examples
    --------
    >>> result = run_sweep(losses=["bce"], degradations=["shift"], levels={"shift": [0, 2]})
    >>> table = result.table.set_index(["name", "level"])
    >>> float(table.loc[("hard_dice", 0.0), "value"]), bool(table.loc[("bce", 2.0), "response"] == 1.0)
    (1.0, True)
    """
    from segeval.analysis.evaluate import select_losses

    started = time.perf_counter()
    names = select_losses(list(losses) if losses else None, family)
    plan = _parse_levels(degradations, levels)
    synthetic = reference is None
    base = degrade.synthetic_reference(shape) if synthetic else np.asarray(reference, bool)
    if base.ndim not in (2, 3):
        raise UsageError(f"the sweep needs a 2-D or 3-D reference, got shape {base.shape}")
    if not base.any():
        raise UsageError("the sweep's reference mask is empty: give a case with foreground (or --label)")
    spacing = tuple(float(s) for s in spacing_mm) if spacing_mm is not None else (1.0,) * base.ndim
    spacing = spacing * base.ndim if len(spacing) == 1 else spacing
    if len(spacing) != base.ndim:
        raise UsageError(f"spacing {spacing} does not fit the {base.ndim}-D reference")
    modules = {name: get_loss(name, mode="binary", from_logits=True, **loss_options(name, spacing)) for name in names}
    rows: list[dict] = []
    examples: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    total, done = sum(len(v) for v in plan.values()), 0
    for degradation, values in plan.items():
        centres = None
        if degradation == "fp_blobs":
            centres = degrade.blob_centres(base, int(max(values)), radius=options.blob_radius, seed=options.seed)
        for index, level in enumerate(values):
            pair = degraded_pair(base, degradation, level, options, synthetic=synthetic, blob_centres=centres)
            head = {"degradation": degradation, "level_index": index, "level": float(level)}
            if isinstance(pair, str):
                rows += [
                    {**head, "name": n, "kind": kind, "value": math.nan, "status": Status.SKIPPED.value, "note": pair}
                    for n, kind in [*((n, "loss") for n in names), *((m, "metric") for m in METRICS)]
                ]
            else:
                rows += _level_rows(head, *pair, modules, spacing, options)
                examples[degradation] = _example(*pair)
            done += 1
            if progress is not None:
                progress(done, total)
    table = _with_response(pd.DataFrame(rows, columns=COLUMNS))
    return SweepResult(
        table=table,
        reference=base,
        spacing_mm=spacing,
        source=source or f"synthetic {'x'.join(map(str, base.shape))}",
        options=options,
        losses=names,
        examples=examples,
        timings={"total_s": time.perf_counter() - started},
    )


def _level_rows(
    head: dict,
    reference: np.ndarray,
    prediction: np.ndarray,
    modules: dict[str, torch.nn.Module],
    spacing: tuple[float, ...],
    options: SweepOptions,
) -> list[dict]:
    context = {"ref_fraction": float(reference.mean()), "pred_fraction": float(prediction.mean()), "note": None}
    target = torch.from_numpy(reference.astype(np.int64))[None]
    logits = torch.from_numpy(np.where(prediction, options.confidence, -options.confidence))[None, None]
    rows = []
    for name, module in modules.items():
        row = {**head, "name": name, "kind": "loss", **context}
        try:
            with torch.no_grad():
                value = float(module(logits, target))
            rows.append(
                {**row, "value": value, "status": (Status.OK if math.isfinite(value) else Status.NON_FINITE).value}
            )
        except SegevalError as exc:
            rows.append({**row, "value": math.nan, "status": Status.FAILED.value, "note": exc.message})
        except (RuntimeError, ValueError) as exc:
            rows.append(
                {**row, "value": math.nan, "status": Status.FAILED.value, "note": f"{type(exc).__name__}: {exc}"}
            )
    rows.append(
        {
            **head,
            "name": "hard_dice",
            "kind": "metric",
            **context,
            "value": _dice(prediction, reference),
            "status": Status.OK.value,
        }
    )
    hd95, status = _hd95(prediction, reference, spacing)
    rows.append({**head, "name": "hd95", "kind": "metric", **context, "value": hd95, "status": status})
    return rows


def _with_response(table: pd.DataFrame) -> pd.DataFrame:
    """Fill ``response`` (module docstring)."""
    table = table.copy()
    values = pd.to_numeric(table["value"], errors="coerce").to_numpy(float)
    ok = table["status"].eq(Status.OK.value).to_numpy()
    delta = np.full(len(table), np.nan)
    for (kind, name, _), group in table.groupby(["kind", "name", "degradation"], sort=False):
        first = group[group["level_index"] == group["level_index"].min()]
        if first.empty or not ok[first.index[0]]:
            continue
        sign = -1.0 if (kind, name) == ("metric", "hard_dice") else 1.0
        index = group.index.to_numpy()
        delta[index] = np.where(ok[index], sign * (values[index] - values[first.index[0]]), np.nan)
    response = np.full(len(table), np.nan)
    for _, group in table.groupby(["kind", "name"], sort=False):
        index = group.index.to_numpy()
        finite = delta[index][np.isfinite(delta[index])]
        scale = float(np.abs(finite).max()) if finite.size else 0.0
        response[index] = delta[index] / scale if scale > 0 else np.where(np.isfinite(delta[index]), 0.0, np.nan)
    table["response"] = response
    return table


def _example(reference: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D view of a pair (the middle slice of the reference's foreground for 3-D)."""
    if reference.ndim == 2:
        return reference, prediction
    index = int(np.argmax(reference.reshape(reference.shape[0], -1).sum(axis=1)))
    return reference[index], prediction[index]


def reference_from_file(
    path: str | Path, *, label: int | None = None, spacing_mm: Sequence[float] | None = None
) -> tuple[np.ndarray, tuple[float, ...], str]:
    """A binary reference mask read from a label file with the shared readers.

    Parameters
    ----------
    path : str or Path
        A 2-D or 3-D label image (PNG, NIfTI, NPY …).
    label : int, optional
        Foreground = pixels of this label; default every label other than 0.
    spacing_mm : sequence of float, optional
        Overrides the file's spacing (array order; one value = isotropic).

    Returns
    -------
    (mask, spacing_mm, source)

    Raises
    ------
    InputError
        Unreadable file, a map that is not 2-D or 3-D, or no pixel of the chosen foreground.
    """
    from segeval.errors import InputError
    from segeval.io.readers import read_image

    image = read_image(path)
    array = np.asarray(image.array)
    if array.ndim not in (2, 3):
        raise InputError(f"{image.path}: the sweep needs a 2-D or 3-D label map, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)):
        raise InputError(f"{image.path}: expected a label map (integers), got {array.dtype} values")
    mask = array == label if label is not None else array != 0
    if not mask.any():
        what = f"label {label}" if label is not None else "foreground (label != 0)"
        raise InputError(f"{image.path}: no pixel of {what}; nothing to degrade")
    if spacing_mm is not None:
        spacing = tuple(float(s) for s in spacing_mm)
        spacing = spacing * array.ndim if len(spacing) == 1 else spacing
    else:
        spacing = tuple(float(s) for s in (image.spacing_mm or (1.0,) * array.ndim))
    if len(spacing) != array.ndim:
        raise InputError(f"{image.path}: spacing {spacing} does not fit the {array.ndim}-D image")
    return mask, spacing, str(image.path) + (f" (label {label})" if label is not None else "")
