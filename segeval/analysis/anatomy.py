r"""Gradient anatomy: where a loss puts its gradient on one case.

For a loss :math:`L`, logits :math:`z` ``(1, C, *S)`` and a reference label map, every pixel
:math:`i` gets

- the gradient magnitude :math:`m_i = \lVert \partial L/\partial z_i \rVert_2` (L2 norm over the
  class axis; :math:`|\partial L/\partial z_i|` with one sigmoid channel);
- the reference probability :math:`p_{t,i}` (probability of the reference class);
- the distance :math:`d_i` (mm) from its centre to the nearest pixel centre of a different
  reference label (:func:`boundary_distance_mm`).

With :math:`M = \sum_i m_i` the per-case summaries are

- ``fg_share`` :math:`= \sum_{i \in FG} m_i / M`, FG = reference label :math:`\ne 0`
  (``bg_share = 1 - fg_share``);
- ``hard_share`` :math:`= \sum_{p_{t,i} < \tau} m_i / M` (``easy_share = 1 - hard_share``),
  :math:`\tau` = ``hard_threshold`` (default 0.5);
- ``band_<a>-<b>mm`` :math:`= \sum_{a < d_i \le b} m_i / M` for consecutive band edges
  (default 1, 3, 10 mm: bands 0-1, 1-3, 3-10, >10 mm; the first band includes 0);
- ``weight_fg_median`` / ``weight_bg_median``: median over FG / BG pixels of the effective weight
  :math:`w_i = m_i / m_i^{CE}`, with :math:`m^{CE}` the magnitude of the gradient of ``ce`` (BCE
  in binary mode) at the same logits; pixels where :math:`m^{CE}_i = 0` are left out.

Context columns: ``grad_total`` (:math:`M`), ``fg_fraction`` and ``hard_fraction`` (shares of
pixels, so a loss whose ``fg_share`` equals ``fg_fraction`` weighs every pixel alike). Shares are
NaN when :math:`M = 0` (status ``zero_gradient``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from segeval.analysis.gradients import (
    LOGIT_EPS,
    loss_gradient,
    loss_options,
    pixel_magnitude,
    reference_probability,
    to_logits,
)
from segeval.errors import SegevalError, UsageError
from segeval.losses import loss_spec
from segeval.status import Status

__all__ = [
    "AnatomyOptions",
    "CaseAnatomy",
    "anatomy_columns",
    "boundary_distance_mm",
    "case_anatomy",
    "gradient_anatomy",
    "summarize_gradient",
]


@dataclass(frozen=True)
class AnatomyOptions:
    """Settings of the gradient anatomy.

    Attributes
    ----------
    hard_threshold : float, default 0.5
        A pixel is *hard* when its reference probability :math:`p_t` is below this, else *easy*.
    bands_mm : tuple of float, default (1, 3, 10)
        Increasing positive band edges in mm: bands ``[0, b0]``, ``(b0, b1]`` … ``(b_last, inf)``.
    eps : float, default 1e-6
        Clamp of probabilities before taking logits (:func:`~segeval.analysis.gradients.to_logits`).
    unit : {"mm", "px"}, default "mm"
        Unit of the distances in the band names: ``px`` when the data has no spacing (1 per pixel).
    """

    hard_threshold: float = 0.5
    bands_mm: tuple[float, ...] = (1.0, 3.0, 10.0)
    eps: float = LOGIT_EPS
    unit: str = "mm"

    def __post_init__(self) -> None:
        if not (isinstance(self.hard_threshold, (int, float)) and 0.0 < self.hard_threshold <= 1.0):
            raise UsageError(f"--hard-threshold must be in (0, 1], got {self.hard_threshold!r}")
        bands = tuple(float(b) for b in self.bands_mm)
        if not bands or any(not math.isfinite(b) or b <= 0 for b in bands) or list(bands) != sorted(set(bands)):
            raise UsageError(f"--bands must be increasing positive distances in mm, e.g. 1,3,10; got {self.bands_mm!r}")
        object.__setattr__(self, "bands_mm", bands)
        if not 0.0 < self.eps < 0.5:
            raise UsageError(f"--eps must be in (0, 0.5), got {self.eps!r}")
        if self.unit not in ("mm", "px"):
            raise UsageError(f"the unit of the distance bands is mm or px, got {self.unit!r}")

    def band_names(self) -> list[str]:
        """Column names of the distance bands, e.g. ``band_0-1mm … band_>10mm`` (``band_0-1px`` … in pixels)."""
        edges = (0.0, *self.bands_mm)
        names = [f"band_{lo:g}-{hi:g}{self.unit}" for lo, hi in zip(edges[:-1], edges[1:])]
        return names + [f"band_>{self.bands_mm[-1]:g}{self.unit}"]


def anatomy_columns(options: AnatomyOptions) -> list[str]:
    """Columns of the per-case anatomy table, in order."""
    return [
        "case",
        "loss",
        "family",
        "mode",
        "value",
        "grad_total",
        "fg_share",
        "bg_share",
        "hard_share",
        "easy_share",
        *options.band_names(),
        "weight_fg_median",
        "weight_bg_median",
        "fg_fraction",
        "hard_fraction",
        "status",
        "error",
    ]


def boundary_distance_mm(reference: np.ndarray, spacing_mm: Sequence[float] | None = None) -> np.ndarray:
    """Distance (mm) from each pixel centre to the nearest pixel centre of a different reference label.

    Parameters
    ----------
    reference : numpy.ndarray of int, shape (*S)
        Label (or class-index) map.
    spacing_mm : sequence of float, optional
        Pixel spacing in array-axis order; 1 mm per pixel when None.

    Returns
    -------
    numpy.ndarray of float64, shape (*S)
        Pixels touching another label along an axis get that axis's spacing. ``inf`` everywhere when
        the image holds a single label (no boundary).

    Examples
    --------
    >>> boundary_distance_mm(np.array([0, 0, 1, 1, 1, 1])).tolist()
    [2.0, 1.0, 1.0, 2.0, 3.0, 4.0]
    """
    from scipy.ndimage import distance_transform_edt

    reference = np.asarray(reference)
    sampling = None if spacing_mm is None else tuple(float(s) for s in spacing_mm)
    out = np.full(reference.shape, np.inf)
    values = np.unique(reference)
    if values.size < 2:
        return out
    for value in values:
        region = reference == value
        out[region] = distance_transform_edt(region, sampling=sampling)[region]
    return out


def summarize_gradient(
    magnitude: np.ndarray,
    ce_magnitude: np.ndarray,
    foreground: np.ndarray,
    hard: np.ndarray,
    band: np.ndarray,
    n_bands: int,
) -> dict[str, float]:
    """The shares and effective weights of one gradient-magnitude map (module docstring).

    Parameters
    ----------
    magnitude, ce_magnitude : numpy.ndarray, shape (*S)
        Per-pixel gradient magnitude of the loss and of cross entropy.
    foreground, hard : numpy.ndarray of bool, shape (*S)
    band : numpy.ndarray of int, shape (*S)
        Band index of each pixel, 0 … ``n_bands - 1``.

    Returns
    -------
    dict
        ``grad_total``, ``fg_share``, ``bg_share``, ``hard_share``, ``easy_share``, ``bands`` (a list
        of ``n_bands`` shares), ``weight_fg_median``, ``weight_bg_median``.

    Examples
    --------
    >>> m = np.array([1.0, 1.0, 2.0, 0.0])
    >>> s = summarize_gradient(m, m, np.array([0, 0, 1, 1], bool), np.array([1, 0, 0, 0], bool),
    ...                        np.array([0, 0, 0, 1]), 2)
    >>> s["fg_share"], s["hard_share"], s["bands"], s["weight_fg_median"]
    (0.5, 0.25, [1.0, 0.0], 1.0)
    """
    total = float(magnitude.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = (
            np.bincount(band.ravel(), weights=magnitude.ravel(), minlength=n_bands)[:n_bands] / total
            if total > 0
            else np.full(n_bands, np.nan)
        )
        fg = float(magnitude[foreground].sum()) / total if total > 0 else math.nan
        hard_share = float(magnitude[hard].sum()) / total if total > 0 else math.nan
        counted = ce_magnitude > 0
        weight = np.where(counted, magnitude / np.where(counted, ce_magnitude, 1.0), np.nan)
    return {
        "grad_total": total,
        "fg_share": fg,
        "bg_share": 1.0 - fg,
        "hard_share": hard_share,
        "easy_share": 1.0 - hard_share,
        "bands": [float(s) for s in shares],
        "weight_fg_median": _median(weight[foreground & counted]),
        "weight_bg_median": _median(weight[~foreground & counted]),
    }


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else math.nan


@dataclass
class CaseAnatomy:
    """The anatomy of every selected loss on one case.

    Attributes
    ----------
    rows : list of dict
        One row per loss, with the columns of :func:`anatomy_columns` (``case`` left empty).
    maps : dict of str to numpy.ndarray
        Per-pixel gradient magnitude of each loss, shape (*S) (only when asked for).
    reference_probability : numpy.ndarray or None
        :math:`p_t`, shape (*S) (only with maps).
    """

    rows: list[dict]
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    reference_probability: np.ndarray | None = None


def case_anatomy(
    prediction: torch.Tensor,
    target: torch.Tensor,
    losses: Sequence[str],
    *,
    from_logits: bool,
    spacing_mm: Sequence[float] | None = None,
    background: int | None = 0,
    options: AnatomyOptions = AnatomyOptions(),
    keep_maps: bool = False,
    loss_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> CaseAnatomy:
    """Gradient anatomy of ``losses`` on one prediction map (see :func:`gradient_anatomy`).

    A loss that cannot be computed gives a row with status ``failed`` and its error.
    """
    settings = {loss_spec(k).name: dict(v) for k, v in (loss_settings or {}).items()}
    if prediction.ndim < 3 or prediction.shape[0] != 1 or tuple(target.shape) != (1, *prediction.shape[2:]):
        raise UsageError(
            f"expected prediction (1, C, *S) and target (1, *S), got {tuple(prediction.shape)} "
            f"and {tuple(target.shape)}"
        )
    mode = "binary" if prediction.shape[1] == 1 else "multiclass"
    logits = to_logits(prediction, from_logits=from_logits, eps=options.eps)
    target = target.to(logits.device).long()
    labels = target[0].cpu().numpy()
    foreground = labels != background if background is not None else np.ones(labels.shape, bool)
    p_t = reference_probability(logits, target).cpu().numpy()
    hard = p_t < options.hard_threshold
    distance = boundary_distance_mm(labels, spacing_mm)
    band = np.searchsorted(np.asarray(options.bands_mm), distance, side="left")
    n_bands = len(options.bands_mm) + 1
    band_names = options.band_names()
    ce = pixel_magnitude(loss_gradient("ce", logits, target, mode=mode).grad).cpu().numpy()
    context = {"fg_fraction": float(foreground.mean()), "hard_fraction": float(hard.mean())}
    result = CaseAnatomy(rows=[], reference_probability=p_t if keep_maps else None)
    for name in losses:
        spec = loss_spec(name)
        row = {"case": "", "loss": spec.name, "family": spec.family.value, "mode": mode, **context}
        try:
            given = {**loss_options(name, spacing_mm), **settings.get(spec.name, {})}
            gradient = loss_gradient(spec.name, logits, target, mode=mode, options=given)
        except SegevalError as exc:
            result.rows.append({**row, "value": math.nan, "status": Status.FAILED.value, "error": exc.message})
            continue
        except (RuntimeError, ValueError) as exc:
            result.rows.append(
                {**row, "value": math.nan, "status": Status.FAILED.value, "error": f"{type(exc).__name__}: {exc}"}
            )
            continue
        magnitude = pixel_magnitude(gradient.grad).cpu().numpy()
        if not (math.isfinite(gradient.value) and np.isfinite(magnitude).all()):
            result.rows.append({**row, "value": gradient.value, "status": Status.NON_FINITE.value, "error": None})
            continue
        summary = summarize_gradient(magnitude, ce, foreground, hard, band, n_bands)
        status = (Status.OK if summary["grad_total"] > 0 else Status.ZERO_GRADIENT).value
        bands = dict(zip(band_names, summary.pop("bands")))
        result.rows.append({**row, "value": gradient.value, **summary, **bands, "status": status, "error": None})
        if keep_maps:
            result.maps[spec.name] = magnitude
    return result


def gradient_anatomy(
    prediction: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    losses: Sequence[str] | None = None,
    *,
    family: str | None = None,
    from_logits: bool = True,
    spacing_mm: Sequence[float] | None = None,
    background: int | None = 0,
    options: AnatomyOptions = AnatomyOptions(),
    loss_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Gradient anatomy of each selected loss on one prediction map, as a table.

    Parameters
    ----------
    prediction : array or tensor, shape (1, C, *S) or (C, *S)
        Logits or probabilities; one channel is a sigmoid (binary) map, several a softmax map.
    target : array or tensor, shape (1, *S) or (*S)
        Class indices (0/1 with one channel). The batched shapes are read first: a prediction
        ``(1, C, *S)`` goes with a target ``(1, *S)``.
    losses, family : optional
        Loss names, or one family; default every loss of the catalog.
    from_logits : bool, default True
        Whether ``prediction`` holds logits (else probabilities, see
        :func:`~segeval.analysis.gradients.to_logits`).
    spacing_mm : sequence of float, optional
        Pixel spacing (array order) for the distance bands and the distance-based losses.
    background : int or None, default 0
        Class index counted as background (``None``: every pixel is foreground).
    options : AnatomyOptions
    loss_settings : mapping, optional
        Options of individual losses, e.g. ``{"focal": {"gamma": 0.0, "alpha": None}}``.

    Returns
    -------
    pandas.DataFrame
        One row per loss, columns :func:`anatomy_columns` (module docstring for the definitions).

    Examples
    --------
    >>> z = np.array([[[2.0, -1.0, 1.0, -2.0]]])        # one sigmoid channel, 4 pixels
    >>> t = np.array([[1, 1, 0, 0]])
    >>> row = gradient_anatomy(z, t, ["bce"]).iloc[0]   # |dL/dz| = |p - g| / 4, symmetric in FG/BG
    >>> float(row["fg_share"]), round(float(row["hard_share"]), 4), float(row["weight_fg_median"])
    (0.5, 0.8598, 1.0)
    """
    from segeval.analysis.evaluate import select_losses

    prediction, target = torch.as_tensor(prediction), torch.as_tensor(target)
    batched = prediction.ndim >= 3 and tuple(target.shape) == (1, *prediction.shape[2:])
    if not batched and tuple(target.shape) == tuple(prediction.shape[1:]):
        prediction, target = prediction[None], target[None]
    names = select_losses(list(losses) if losses else None, family)
    anatomy = case_anatomy(
        prediction,
        target,
        names,
        from_logits=from_logits,
        spacing_mm=spacing_mm,
        background=background,
        options=options,
        loss_settings=loss_settings,
    )
    return pd.DataFrame(anatomy.rows, columns=anatomy_columns(options)).drop(columns="case")
