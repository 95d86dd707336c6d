"""``segeval losses analyze PREDS GTS``: the gradient anatomy of each selected loss on every case.

Same pairing, readers and case preparation as ``segeval losses PREDS GTS``
(:mod:`segeval.analysis.driver`)::

    pair files → load (worker threads) → per case: prediction (1, C, *S) + target (1, *S)
               → logits → each loss: value and dL/dz → shares and effective weights
               → anatomy_per_case.csv, anatomy_summary.csv, anatomy.json, gradient_*.png

The definitions are in :mod:`segeval.analysis.anatomy`. One case (``case=``, default the first
that loads) also keeps its per-pixel gradient maps for the heat-map figure; for a 3-D case one
slice along the first array axis is kept (``slice_index=``, default the slice with the most
reference foreground).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from segeval.analysis.anatomy import AnatomyOptions, anatomy_columns, case_anatomy
from segeval.analysis.driver import PreparedCase, run_cases
from segeval.analysis.evaluate import select_losses
from segeval.analysis.gradients import probabilities, to_logits
from segeval.config import ScoreConfig, build_config
from segeval.errors import UsageError
from segeval.pipeline.chunks import Progress, resolve_device
from segeval.pipeline.load import CaseRecord, SpacingSource
from segeval.pipeline.pair import pair_inputs, run_inputs
from segeval.report.schema import failed_entries, run_header, versions
from segeval.report.writers import write_report
from segeval.status import Status

__all__ = ["AnalysisResult", "CaseMaps", "analyze_losses", "summarize_anatomy"]

SHARE_COLUMNS = ["fg_share", "bg_share", "hard_share", "easy_share"]
WEIGHT_COLUMNS = ["weight_fg_median", "weight_bg_median"]


@dataclass
class CaseMaps:
    """The 2-D pictures of one case: reference, prediction and each loss's gradient magnitude.

    Attributes
    ----------
    case : str
    slice_index : int or None
        Index along the first array axis for a 3-D case; None for a 2-D case.
    reference : numpy.ndarray of int, shape (H, W)
        Reference class indices.
    foreground_probability : numpy.ndarray, shape (H, W)
        Predicted probability of foreground (``1 - p_background`` in multi-class mode).
    magnitudes : dict of str to numpy.ndarray, shape (H, W)
        :math:`\\lVert \\partial L / \\partial z_i \\rVert_2` per loss.
    spacing_mm : tuple of float
        Spacing of the two shown axes (for the aspect ratio).
    """

    case: str
    slice_index: int | None
    reference: np.ndarray
    foreground_probability: np.ndarray
    magnitudes: dict[str, np.ndarray]
    spacing_mm: tuple[float, float]


@dataclass
class AnalysisResult:
    """Per-case and summary anatomy tables, the chosen case's maps, and how they were made."""

    per_case: pd.DataFrame
    summary: pd.DataFrame
    losses: list[str]
    cases: list[CaseRecord]
    options: AnatomyOptions
    config: ScoreConfig
    from_logits: bool | None
    inputs: dict[str, str | None]
    maps: CaseMaps | None = None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def failed(self) -> list[CaseRecord]:
        """Cases that could not be read or prepared."""
        return [r for r in self.cases if r.status is Status.FAILED]

    @property
    def failed_rows(self) -> pd.DataFrame:
        """(case, loss) rows whose loss could not be computed."""
        return self.per_case[(self.per_case["status"] == Status.FAILED.value) & (self.per_case["loss"] != "")]

    def to_dict(self) -> dict:
        return {
            **run_header(self.inputs),
            "losses": self.losses,
            "definitions": {
                "gradient": "dL/dz with respect to logits z (probabilities converted: binary logit(clamp(p, eps, "
                "1-eps)), multiclass log(max(p, eps)))",
                "magnitude": "L2 norm over the class axis of dL/dz, per pixel",
                "foreground": "reference label != 0",
                "hard": f"p_t < {self.options.hard_threshold:g} (probability of the reference class)",
                "distance": f"{self.options.unit} from the pixel centre to the nearest pixel centre of another "
                "reference label",
                "effective_weight": "|dL/dz| / |dCE/dz| per pixel; medians over FG and BG pixels",
            },
            "config": {
                **self.config.as_dict(),
                "from_logits": self.from_logits,
                "device": self.device,
                "hard_threshold": self.options.hard_threshold,
                "bands_mm": list(self.options.bands_mm),
                "band_unit": self.options.unit,
                "eps": self.options.eps,
            },
            "failed": failed_entries(self.cases),
            "summary": self.summary.to_dict(orient="records"),
            "per_case": self.per_case.to_dict(orient="records"),
            "maps": None if self.maps is None else {"case": self.maps.case, "slice": self.maps.slice_index},
            "warnings": self.warnings,
            "versions": versions(),
            "timings": self.timings,
        }

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write the tables, ``anatomy.json`` and the figures into ``out`` (each file atomically)."""
        from segeval.analysis import plots

        paths = write_report(out, self.per_case, self.summary, self.to_dict(), prefix="anatomy")
        folder = paths["json"].parent
        if (self.summary["n"] > 0).any():
            paths["shares"] = folder / "gradient_shares.png"
            plots.save_figure(plots.share_chart(self.summary, self.options), paths["shares"])
        if self.maps is not None and self.maps.magnitudes:
            paths["heatmaps"] = folder / "gradient_heatmaps.png"
            plots.save_figure(plots.gradient_heatmaps(self.maps), paths["heatmaps"])
        return paths


def analyze_losses(
    preds: str | Path | None = None,
    gts: str | Path | None = None,
    *,
    losses: list[str] | None = None,
    family: str | None = None,
    from_logits: bool | None = None,
    hard_threshold: float = 0.5,
    bands_mm: tuple[float, ...] = (1.0, 3.0, 10.0),
    eps: float = 1e-6,
    case: str | None = None,
    slice_index: int | None = None,
    progress: Progress | None = None,
    **config_options,
) -> AnalysisResult:
    """Gradient anatomy of each selected loss on every case of two folders.

    Parameters
    ----------
    preds, gts : str or Path
        Folders (or files) of probability/logit maps and label masks, paired like ``segeval.score``.
    losses, family : optional
        Loss names, or one family; default every loss.
    from_logits : bool, optional
        Force logits (True) or probabilities (False); inferred per case by default (values in
        [0, 1] → probabilities).
    hard_threshold, bands_mm, eps
        :class:`~segeval.analysis.anatomy.AnatomyOptions`.
    case : str, optional
        Case whose gradient maps are kept for the heat maps (default: the first that loads).
    slice_index : int, optional
        Slice (first array axis) of a 3-D case for the heat maps; default: most reference foreground.
    **config_options
        Pairing and reading options of :class:`segeval.config.ScoreConfig` (``labels``,
        ``channel_axis``, ``spacing``, ``recursive``, ``pairs``, ``device`` …).

    Returns
    -------
    AnalysisResult
        ``per_case``: one row per (case, loss), columns
        :func:`~segeval.analysis.anatomy.anatomy_columns`; a case that cannot be read gives one row
        with status ``failed``. ``summary``: :func:`summarize_anatomy`.

    Notes
    -----
    Distance-based losses get the case's spacing (``spacing=``), so their maps are in mm, as are
    the distance bands; when no case has a spacing (PNG or NPY files without ``spacing=``) the bands
    are in pixels and named so (``band_0-1px`` …). A map of probabilities becomes logits first (see
    :func:`~segeval.analysis.gradients.to_logits`).
    """
    started = time.perf_counter()
    options = AnatomyOptions(hard_threshold=hard_threshold, bands_mm=tuple(bands_mm), eps=eps)
    names = select_losses(losses, family)
    config = build_config(**config_options)
    device = resolve_device(config.device)
    pairs = pair_inputs(preds, gts, config).pairs
    if case is not None and case not in {p.case for p in pairs}:
        raise UsageError(
            f"--case {case!r} is not among the {len(pairs)} paired case(s)",
            hint="cases: " + ", ".join(p.case for p in pairs[:10]),
        )
    if slice_index is not None and slice_index < 0:
        raise UsageError(f"--slice must be >= 0, got {slice_index}")
    maps: CaseMaps | None = None
    warnings: list[str] = []

    def compute(prepared: PreparedCase) -> list[dict]:
        nonlocal maps
        record = prepared.record
        chosen = maps is None and (case is None or case == record.case)
        background = _background_channel(prepared.mode, prepared.prediction.shape[1], config)
        anatomy = case_anatomy(
            prepared.prediction,
            prepared.target,
            names,
            from_logits=prepared.from_logits,
            spacing_mm=record.spacing_mm,
            background=background,
            options=options,
            keep_maps=chosen,
        )
        if chosen:
            maps = _case_maps(
                record,
                prepared.prediction,
                prepared.target,
                prepared.from_logits,
                background,
                anatomy.maps,
                slice_index,
                options,
                warnings,
            )
        return [{**row, "case": record.case} for row in anatomy.rows]

    records, rows = run_cases(pairs, config, device, from_logits, compute, progress)
    per_case = pd.DataFrame(rows, columns=anatomy_columns(options))
    unit = _distance_unit(records, warnings)
    if unit != options.unit:
        renamed = replace(options, unit=unit)
        per_case = per_case.rename(columns=dict(zip(options.band_names(), renamed.band_names())))
        options = renamed
    return AnalysisResult(
        per_case=per_case,
        summary=summarize_anatomy(per_case, names, options),
        losses=names,
        cases=records,
        options=options,
        config=config,
        from_logits=from_logits,
        maps=maps,
        warnings=warnings,
        inputs=run_inputs(preds, gts, config),
        timings={"total_s": time.perf_counter() - started},
        device=str(device),
    )


def summarize_anatomy(per_case: pd.DataFrame, losses: list[str], options: AnatomyOptions) -> pd.DataFrame:
    """One row per loss: the mean over cases (status ``ok``) of every per-case column.

    Columns: ``loss, family, n`` (cases averaged), ``n_failed`` (cases where the loss failed, counting the
    cases that could not be read or prepared), then ``value``, the share, band
    and weight columns and the pixel fractions of the per-case table, each the mean of the per-case
    values (NaN values are skipped: a weight median without FG pixels, say).
    """
    from segeval.losses import loss_spec

    numeric = ["value", *SHARE_COLUMNS, *options.band_names(), *WEIGHT_COLUMNS, "fg_fraction", "hard_fraction"]
    unread = int(((per_case["status"] == Status.FAILED.value) & (per_case["loss"] == "")).sum())
    rows = []
    for name in losses:
        selected = per_case[per_case["loss"] == name]
        ok = selected[selected["status"] == Status.OK.value]
        means = {column: float(pd.to_numeric(ok[column]).mean()) if len(ok) else math.nan for column in numeric}
        rows.append(
            {
                "loss": name,
                "family": loss_spec(name).family.value,
                "n": len(ok),
                "n_failed": int((selected["status"] == Status.FAILED.value).sum()) + unread,
                **means,
            }
        )
    return pd.DataFrame(rows, columns=["loss", "family", "n", "n_failed", *numeric])


def _distance_unit(records: list[CaseRecord], warnings: list[str]) -> str:
    """``px`` when no case that loaded has a spacing (from its files or --spacing), else ``mm``; a warning when
    only some have one."""
    loaded = [r for r in records if r.status is not Status.FAILED]
    unspaced = [r.case for r in loaded if r.spacing_source is SpacingSource.DEFAULT]
    if loaded and len(unspaced) == len(loaded):
        return "px"
    if unspaced:
        warnings.append(
            f"distance bands are in mm, but {len(unspaced)} case(s) have no spacing and count 1 mm per pixel: "
            + ", ".join(repr(case) for case in unspaced[:5])
        )
    return "mm"


def _background_channel(mode: str, channels: int, config: ScoreConfig) -> int | None:
    """Channel index of label 0 (binary: 0); None when no channel carries label 0."""
    if mode == "binary":
        return 0
    labels = list(config.labels) if config.labels is not None else list(range(channels))
    return labels.index(0) if 0 in labels else None


def _case_maps(
    record: CaseRecord,
    prediction: torch.Tensor,
    target: torch.Tensor,
    logits: bool,
    background: int | None,
    magnitudes: dict[str, np.ndarray],
    slice_index: int | None,
    options: AnatomyOptions,
    warnings: list[str],
) -> CaseMaps:
    p = probabilities(to_logits(prediction, from_logits=logits, eps=options.eps))[0].cpu().numpy()
    if p.shape[0] == 1:
        foreground_p = p[0]
    elif background is not None:
        foreground_p = 1.0 - p[background]
    else:
        foreground_p = np.ones(p.shape[1:])
    reference = target[0].cpu().numpy()
    spacing = tuple(record.spacing_mm or (1.0,) * reference.ndim)
    if reference.ndim == 3:
        foreground = reference != background if background is not None else np.ones(reference.shape, bool)
        if slice_index is None:
            slice_index = int(np.argmax(foreground.reshape(reference.shape[0], -1).sum(axis=1)))
        elif slice_index >= reference.shape[0]:
            raise UsageError(
                f"--slice {slice_index} is outside case {record.case!r}, which has "
                f"{reference.shape[0]} slices along the first axis"
            )
        chosen = slice_index

        def pick(a: np.ndarray) -> np.ndarray:
            return a[chosen]

        spacing = spacing[1:]
    else:
        if slice_index is not None:
            warnings.append(f"--slice is ignored: case {record.case!r} is {reference.ndim}-D")
            slice_index = None

        def pick(a: np.ndarray) -> np.ndarray:
            return a[None] if a.ndim == 1 else a

        spacing = (1.0, *spacing) if reference.ndim == 1 else spacing
    return CaseMaps(
        case=record.case,
        slice_index=slice_index,
        reference=pick(reference),
        foreground_probability=pick(foreground_p),
        magnitudes={name: pick(m) for name, m in magnitudes.items()},
        spacing_mm=(float(spacing[0]), float(spacing[1])),
    )
