"""Region-based losses: overlap scores of soft masks.

Dice (and its squared V-Net form), IoU/Jaccard, sensitivity–specificity, Tversky, focal Tversky,
generalised Dice, log-cosh Dice, MCC, focal Dice and Lovász. One kernel serves the overlap family:
:func:`~segeval.losses._kernels.tversky_index` on soft counts ``TP = sum p g``, ``FP = sum p (1 - g)``,
``FN = sum (1 - p) g``; Dice is ``alpha = beta = 1/2`` (smoothing halved, see below) and IoU is
``alpha = beta = 1``.

Conventions (segeval's choices, stated once):

- channels: in binary and multilabel modes every channel is a foreground label; in multi-class mode
  ``include_background=False`` drops class 0 (and has no effect in the other modes);
- sums: ``aggregation="image"`` sums over each image's pixels (per image and class), ``"batch"`` over
  the whole batch ("batch Dice");
- smoothing ``s``: Dice :math:`(2TP + s)/(|P| + |G| + s)`, IoU :math:`(TP + s)/(TP + FP + FN + s)`,
  Tversky :math:`(TP + s)/(TP + \\alpha FP + \\beta FN + s)` (numerator and denominator, once);
- sign: every loss is ``1 - score`` (SegLoss returns ``-score``); combo is the exception, see its doc;
- empty class: with ``s > 0`` an empty target scores ~1 (loss ~0) for an empty prediction and ~0
  (loss ~1) as soon as the prediction puts mass there; with ``s = 0`` an all-zero ``0/0`` counts
  as a perfect score (1), never NaN;
- ``reduction="none"`` returns one value per image and class ``(B, K)``, or per class ``(K,)`` with
  ``aggregation="batch"`` (``K`` = channels kept); ``mean`` averages them, ``sum`` adds them;
- ignored pixels (``ignore_index``, the per-call ``mask``) are in none of the soft counts (TP, FP, FN,
  TN); ``weight`` multiplies each class's loss before the reduction (MONAI's meaning), and with
  ``average="micro"`` each class's counts in the pool.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from segeval.errors import UsageError
from segeval.losses._args import (
    ANY_AGGREGATION,
    OPTIONAL_SMOOTH,
    LossModule,
    boolean,
    in_unit_interval,
    integer,
    loss_function,
    number,
    smoothing,
)
from segeval.losses._enums import Aggregation, Average, Mode, Reduction, WeightType
from segeval.losses._kernels import (
    Prepared,
    across_processes,
    class_weight_vector,
    class_weighted,
    dice_score,
    prepare,
    reduce,
    region_counts,
    region_maps,
    safe_divide,
    safe_pow,
    soft_intersection,
    sum_dims,
    tversky_index,
)

__all__ = [
    "ClDiceLoss",
    "DiceLoss",
    "FocalDiceLoss",
    "FocalTverskyLoss",
    "GeneralizedDiceLoss",
    "IoULoss",
    "LogCoshDiceLoss",
    "LovaszLoss",
    "MCCLoss",
    "SensSpecLoss",
    "TverskyLoss",
    "cldice_loss",
    "dice_loss",
    "focal_dice_loss",
    "focal_tversky_loss",
    "generalized_dice_loss",
    "iou_loss",
    "log_cosh_dice_loss",
    "lovasz_loss",
    "mcc_loss",
    "sens_spec_loss",
    "soft_skeleton",
    "tversky_loss",
]


def _maps(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None,
    mode: Mode,
    from_logits: bool,
    include_background: bool,
    ignore_index: int | None,
    loss: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(p, g, valid)`` of the kept channels, zero at ignored pixels (:func:`region_maps`)."""
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss=loss)
    return region_maps(prep, include_background)


def _per_class(loss_values: torch.Tensor, weight: torch.Tensor | None, average: Average, loss: str) -> torch.Tensor:
    """Class weights on per-class losses (macro); micro averaging weighted the pooled counts instead."""
    return loss_values if average is Average.MICRO else class_weighted(loss_values, weight, loss)


# --------------------------------------------------------------------------- Dice


@loss_function("dice", aggregation=ANY_AGGREGATION, smooth=OPTIONAL_SMOOTH, squared=boolean)
def dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    squared: bool = False,
    soft_label: bool = False,
    weight: torch.Tensor | None = None,
    average: Average | str = "macro",
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Soft Dice loss, per image and class by default.

    .. math::

        L_{Dice} = 1 - \frac{2\sum_i p_i g_i + s}{\sum_i p_i + \sum_i g_i + s}
        \qquad\text{(Drozdzal et al. 2016, "without square")}

    .. math::

        L_{V\text{-}Net} = 1 - \frac{2\sum_i p_i g_i + s}{\sum_i p_i^2 + \sum_i g_i^2 + s}
        \qquad\text{(Milletari et al. 2016, ``squared=True``)}

    Parameters
    ----------
    input, target : Tensor
        Shapes per mode: :mod:`segeval.losses`.
    mode : default "binary"
    mask : Tensor, optional (third argument, per call)
        Pixels where it is 0 count nowhere: ``(B, *S)``, ``(B, 1, *S)`` or, multilabel,
        ``(B, C, *S)``; axes of size 1 broadcast.
    from_logits : bool, default True
        Sigmoid (binary/multilabel) or softmax (multi-class) inside. ``False`` takes probabilities
        from any activation you apply yourself (there is no callable-activation option).
    smooth : float >= 0, default 1e-5
        Sets both ``smooth_nr`` and ``smooth_dr``, as in MONAI (1e-5) and the Keras blog code
        (1). smp adds it as :math:`(2I + 2s)/(\Sigma + 2s)` and SegLoss's ``SoftDiceLossV2`` as
        :math:`2(I + s)/(\Sigma + s)`.
    smooth_nr, smooth_dr : float >= 0, optional
        Numerator and denominator smoothing separately (MONAI's names), :math:`(2I + s_{nr})/
        (\Sigma + s_{dr})`; either defaults to ``smooth``. Giving ``smooth`` with either is a
        usage error.
    squared : bool, default False
        The V-Net denominator :math:`\sum p^2 + \sum g^2` (MONAI ``squared_pred=True``). SegLoss's
        ``square=True`` squares TP, FP and FN separately, which is not this.
    soft_label : bool, default False
        Intersection :math:`\sum (p + g - |p - g|)/2 = \sum \min(p, g)` instead of
        :math:`\sum p g` (MONAI ``soft_label=True``): with soft targets the loss is then 0 at
        :math:`p = g`. Same value for 0/1 targets. With ``squared=True`` the matching (L2)
        intersection is :math:`\sum p g`, so ``soft_label`` changes nothing there (as in MONAI).
    weight : sequence of K floats, optional
        Per-class weights (K = classes kept after ``include_background``; a registered buffer in
        the module) multiplying each class's loss before the reduction (MONAI's ``weight``):
        ``mean`` averages :math:`w_k L_k` over images and classes. With ``average="micro"`` they
        weight each class's counts in the pool instead.
    average : {"macro", "micro"}, default "macro"
        ``macro``: one Dice per class, then the mean. ``micro``: the soft counts of the kept
        classes are pooled before the ratio (one value per image, or for the batch).
    include_background : bool, default True
        Multi-class mode only: False drops class 0.
    ignore_index : int, optional
        Target value of pixels that count nowhere (class-index targets; binary/multilabel targets
        per element). Combined with ``mask``.
    aggregation : {"image", "batch", "distributed"}, default "image"
        Per image and class (MONAI) or summed over the batch (smp, nnU-Net ``batch_dice``, Keras
        flattened tensor); ``distributed`` also sums the soft counts over the processes of the
        default ``torch.distributed`` group (nnU-Net's batch Dice under DDP; see
        :class:`~segeval.losses.Aggregation`).
    reduction : default "mean"
        ``none``: ``(B, K)`` (image) or ``(K,)`` (batch); ``K = 1`` with ``average="micro"``.

    Returns
    -------
    Tensor
        In ``[0, 1]`` (unweighted). Empty target: ~0 for an empty prediction, ~1 for any false
        positive (with the default tiny ``smooth``); ``smooth=0`` with both empty gives 0, not NaN
        (also with ``smooth_dr=0``, where MONAI divides by zero).

    Notes
    -----
    smp drops classes absent from the batch from its mean; segeval keeps them (they count ~0 when
    correctly empty). SegLoss/nnU-Net return :math:`-\mathrm{Dice}` (no ``1 -``).

    References
    ----------
    Milletari, Navab, Ahmadi, "V-Net", 3DV 2016, :DOI:`10.1109/3DV.2016.79`.
    Drozdzal et al., "The importance of skip connections in biomedical image segmentation",
    DLMIA 2016, :DOI:`10.1007/978-3-319-46976-8_19`.

    Examples
    --------
    The 10x10 grid of docs/worked-examples.md: a 20-pixel lung and a prediction that misses one pixel.

    >>> import torch
    >>> g = torch.zeros(1, 1, 10, 10); g[0, 0, 1:6, 2:6] = 1
    >>> p = g.clone(); p[0, 0, 5, 5] = 0
    >>> round(dice_loss(p, g, from_logits=False, smooth=0).item(), 6), round(1 - 38 / 39, 6)
    (0.025641, 0.025641)
    """
    p, g, _ = _maps(input, target, mask, mode, from_logits, include_background, ignore_index, "dice")
    nr, dr = smoothing(smooth, smooth_nr, smooth_dr, 1e-5)
    score = dice_score(
        p, g, aggregation, nr, dr, squared=squared, soft_label=soft_label, weight=weight, average=average, loss="dice"
    )
    return reduce(_per_class(1.0 - score, weight, average, "dice"), reduction)


class DiceLoss(LossModule):
    """Module form of :func:`dice_loss`."""

    function = staticmethod(dice_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        squared: bool = False,
        soft_label: bool = False,
        weight: Any = None,
        average: Average | str = "macro",
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            squared=squared,
            soft_label=soft_label,
            weight=weight,
            average=average,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- IoU


@loss_function("iou", aggregation=ANY_AGGREGATION, smooth=OPTIONAL_SMOOTH)
def iou_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    soft_label: bool = False,
    weight: torch.Tensor | None = None,
    average: Average | str = "macro",
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""IoU (Jaccard) loss (Rahman & Wang 2016).

    .. math::

        L_{IoU} = 1 - \frac{\sum_i p_i g_i + s}{\sum_i (p_i + g_i - p_i g_i) + s}
                = 1 - \frac{TP + s}{TP + FP + FN + s}

    Parameters
    ----------
    smooth : float >= 0, default 1e-5
        The paper has none (``smooth=0`` reproduces it exactly); the small default keeps an empty
        target with a near-empty soft prediction at loss ~0 instead of 1. MONAI's
        ``DiceLoss(jaccard=True)`` places it as :math:`(2I + s)/(2U + s)`. ``smooth_nr`` and
        ``smooth_dr`` set the two separately.
    Other options : as :func:`dice_loss` (without ``squared``); ``soft_label`` takes
        :math:`TP = \sum\min(p, g)` and :math:`FP + FN = \sum p + \sum g - 2TP`.

    Returns
    -------
    Tensor
        In ``[0, 1]``; ``none``: ``(B, K)`` or ``(K,)``.

    Notes
    -----
    The seed/Keras code ``(I + 1)/(U + 1)`` on the flattened tensor is ``smooth=1,
    aggregation="batch"``. smp's Jaccard loss is batch-level; SegLoss returns :math:`-IoU`.

    References
    ----------
    Rahman & Wang, "Optimizing Intersection-over-Union in deep neural networks for image
    segmentation", ISVC 2016, :DOI:`10.1007/978-3-319-50835-1_22`.

    Examples
    --------
    >>> import torch
    >>> g = torch.zeros(1, 1, 10, 10); g[0, 0, 1:6, 2:6] = 1
    >>> p = g.clone(); p[0, 0, 5, 5] = 0
    >>> round(iou_loss(p, g, from_logits=False, smooth=0).item(), 6)   # 1 - 19/20
    0.05
    """
    p, g, _ = _maps(input, target, mask, mode, from_logits, include_background, ignore_index, "iou")
    nr, dr = smoothing(smooth, smooth_nr, smooth_dr, 1e-5)
    tp, fp, fn = region_counts(p, g, aggregation, soft_label=soft_label, weight=weight, average=average, loss="iou")
    return reduce(_per_class(1.0 - tversky_index(tp, fp, fn, 1.0, 1.0, nr, dr), weight, average, "iou"), reduction)


class IoULoss(LossModule):
    """Module form of :func:`iou_loss`."""

    function = staticmethod(iou_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        soft_label: bool = False,
        weight: Any = None,
        average: Average | str = "macro",
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            soft_label=soft_label,
            weight=weight,
            average=average,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- sensitivity-specificity


@loss_function("sens_spec", r=in_unit_interval)
def sens_spec_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    r: float = 0.05,
    smooth: float = 1e-5,
    weight: torch.Tensor | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "batch",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Sensitivity–specificity loss (Brosch et al., MICCAI 2015).

    .. math::

        L_{SS} = r\,\frac{\sum_i (g_i - p_i)^2 g_i}{\sum_i g_i + \epsilon}
               + (1 - r)\,\frac{\sum_i (g_i - p_i)^2 (1 - g_i)}{\sum_i (1 - g_i) + \epsilon}

    per class (the foreground channel in binary mode).

    Parameters
    ----------
    r : float in [0, 1], default 0.05
        Weight of the first term, the squared error on the positives (the sensitivity term); the
        authors suggest 0.01–0.1, NiftyNet uses 0.05. NiftyNet and SegLoss both call this term
        "specificity_part" although it measures sensitivity.
    smooth : float >= 0, default 1e-5
        :math:`\epsilon` (NiftyNet 1e-5; SegLoss uses 1). A term with an empty denominator is 0.
    aggregation : default "batch"
        NiftyNet flattens the batch; ``"image"`` computes it per image (SegLoss).
    weight, ignore_index, mask : as :func:`dice_loss` (ignored pixels are neither positives nor
        negatives).

    Returns
    -------
    Tensor
        In ``[0, 1]``; ``none``: ``(B, K)`` or ``(K,)``. ``reduction="sum"`` with
        ``aggregation="batch"`` is NiftyNet's sum over classes; ``mean`` averages classes.

    Notes
    -----
    The value depends on whether the background is one of the classes (multi-class mode with
    ``include_background=True``); SegLoss's 2-class version with :math:`r = 0.1, \epsilon = 1`
    differs from this one. No library reference exists; the tests use a NumPy transcription.

    References
    ----------
    Brosch et al., "Deep convolutional encoder networks for multiple sclerosis lesion
    segmentation", MICCAI 2015, :DOI:`10.1007/978-3-319-24574-4_1`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[0.5, 0.0, 0.0, 0.5]]]); g = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])
    >>> round(sens_spec_loss(p, g, from_logits=False, smooth=0, r=0.5).item(), 6)  # .5*.25/1 + .5*.25/3
    0.166667
    """
    p, g, valid = _maps(input, target, mask, mode, from_logits, include_background, ignore_index, "sens_spec")
    dims = sum_dims(p, aggregation)
    err = (g - p) ** 2
    negative = 1.0 - g if valid is None else (1.0 - g) * valid
    sens = safe_divide((err * g).sum(dims), g.sum(dims) + smooth, 0.0)
    spec = safe_divide((err * negative).sum(dims), negative.sum(dims) + smooth, 0.0)
    return reduce(class_weighted(r * sens + (1.0 - r) * spec, weight, "sens_spec"), reduction)


class SensSpecLoss(LossModule):
    """Module form of :func:`sens_spec_loss`."""

    function = staticmethod(sens_spec_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        r: float = 0.05,
        smooth: float = 1e-5,
        weight: Any = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "batch",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            r=r,
            smooth=smooth,
            weight=weight,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- Tversky


def _check_alpha_beta(options: dict[str, Any]) -> None:
    if options["alpha"] + options["beta"] <= 0:
        raise UsageError(
            f"Expected `alpha` + `beta` > 0 (weights of FP and FN), got alpha={options['alpha']:g}, "
            f"beta={options['beta']:g}"
        )


@loss_function(
    "tversky",
    aggregation=ANY_AGGREGATION,
    alpha=number(low=0),
    beta=number(low=0),
    smooth=OPTIONAL_SMOOTH,
    check=_check_alpha_beta,
)
def tversky_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    soft_label: bool = False,
    weight: torch.Tensor | None = None,
    average: Average | str = "macro",
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Tversky loss (Salehi et al. 2017); ``alpha`` weighs false positives, ``beta`` false negatives.

    .. math::

        L = 1 - \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s}

    :math:`\alpha = \beta = 1/2` is Dice (with smoothing ``2s``), :math:`\alpha = \beta = 1` is IoU.

    Parameters
    ----------
    alpha : float >= 0, default 0.3
        Weight of **FP** (the paper's best setting is :math:`\alpha = 0.3, \beta = 0.7`).
    beta : float >= 0, default 0.7
        Weight of **FN**. MONAI, smp and SegLoss use the same letters. Abraham & Khan (focal
        Tversky) and the Keras code call the FN weight :math:`\alpha = 0.7` — same numbers, letters
        swapped; translate before copying their values.
    smooth : float >= 0, default 1e-5
        Or ``smooth_nr``/``smooth_dr`` separately.
    Other options : as :func:`dice_loss` (``soft_label``: :math:`TP = \sum\min(p, g)`,
        :math:`FP = \sum p - TP`, :math:`FN = \sum g - TP`).

    Returns
    -------
    Tensor
        In ``[0, 1]``; ``none``: ``(B, K)`` or ``(K,)``.

    Notes
    -----
    MONAI and smp default to 0.5/0.5 (Dice); SegLoss fixes 0.3/0.7 with smooth 1 and returns
    :math:`-TI`.

    References
    ----------
    Salehi, Erdogmus, Gholipour, "Tversky loss function for image segmentation using 3D fully
    convolutional deep networks", MLMI 2017, :DOI:`10.1007/978-3-319-67389-9_44`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[1.0, 1.0, 0.0]]]); g = torch.tensor([[[1.0, 0.0, 0.0]]])  # TP 1, FP 1
    >>> round(tversky_loss(p, g, from_logits=False, smooth=0).item(), 6)    # 1 - 1/1.3
    0.230769
    """
    p, g, _ = _maps(input, target, mask, mode, from_logits, include_background, ignore_index, "tversky")
    nr, dr = smoothing(smooth, smooth_nr, smooth_dr, 1e-5)
    tp, fp, fn = region_counts(p, g, aggregation, soft_label=soft_label, weight=weight, average=average, loss="tversky")
    score = tversky_index(tp, fp, fn, alpha, beta, nr, dr)
    return reduce(_per_class(1.0 - score, weight, average, "tversky"), reduction)


class TverskyLoss(LossModule):
    """Module form of :func:`tversky_loss` (``alpha`` → FP, ``beta`` → FN)."""

    function = staticmethod(tversky_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        alpha: float = 0.3,
        beta: float = 0.7,
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        soft_label: bool = False,
        weight: Any = None,
        average: Average | str = "macro",
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            alpha=alpha,
            beta=beta,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            soft_label=soft_label,
            weight=weight,
            average=average,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- focal Tversky


@loss_function(
    "focal_tversky",
    aggregation=ANY_AGGREGATION,
    alpha=number(low=0),
    beta=number(low=0),
    gamma=number(low=0, low_open=True),
    smooth=OPTIONAL_SMOOTH,
    check=_check_alpha_beta,
)
def focal_tversky_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    alpha: float = 0.3,
    beta: float = 0.7,
    gamma: float = 4.0 / 3.0,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    soft_label: bool = False,
    weight: torch.Tensor | None = None,
    average: Average | str = "macro",
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "batch",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Focal Tversky loss (Abraham & Khan, ISBI 2019): :math:`(1 - TI_c)^{1/\gamma}` per class.

    .. math::

        FTL_c = \Big(1 - \frac{TP_c + s}{TP_c + \alpha FP_c + \beta FN_c + s}\Big)^{1/\gamma}

    Parameters
    ----------
    alpha : default 0.3
        Weight of **FP** (segeval/Salehi letters). The paper writes :math:`\alpha = 0.7` for the FN
        weight and :math:`\beta = 0.3` for FP: the defaults here are the paper's, letters swapped.
    beta : default 0.7
        Weight of **FN**.
    gamma : float > 0, default 4/3
        The exponent is :math:`1/\gamma` (= 0.75), as in the paper; smp's ``TverskyLoss(gamma=…)``
        uses ``gamma`` itself as the exponent, and of the class mean.
    smooth : default 1
        The authors' code adds 1 to numerator and denominator (or ``smooth_nr``/``smooth_dr``).
    aggregation : default "batch"
        The authors' code works on the flattened batch.
    reduction : default "mean"
        The paper sums over classes (:math:`FTL = \sum_c FTL_c`): ``reduction="sum"``; ``mean``
        averages them. For one class the two agree.
    Other options : as :func:`dice_loss`; with ``average="micro"`` the exponent applies to the
        pooled index, with ``weight`` (macro) each class's :math:`FTL_c` is weighted.

    Returns
    -------
    Tensor
        In ``[0, 1]``; ``none``: ``(B, K)`` or ``(K,)``.

    Notes
    -----
    :math:`(1 - TI)^{1/\gamma}` is exact, but its gradient is taken at :math:`\max(1 - TI, \epsilon)`
    (machine epsilon): the exact gradient of :math:`x^{0.75}` is infinite at a perfect prediction.
    SegLoss ``FocalTversky_loss`` raises the class-mean :math:`1 - \overline{TI}` to 0.75 with its
    own 0.3/0.7 Tversky.

    References
    ----------
    Abraham & Khan, "A novel focal Tversky loss function with improved attention U-Net for lesion
    segmentation", ISBI 2019, :DOI:`10.1109/ISBI.2019.8759329`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[1.0, 1.0, 0.0]]]); g = torch.tensor([[[1.0, 0.0, 0.0]]])
    >>> round(focal_tversky_loss(p, g, from_logits=False, smooth=0).item(), 6)  # (1 - 1/1.3)**0.75
    0.332953
    """
    p, g, _ = _maps(input, target, mask, mode, from_logits, include_background, ignore_index, "focal_tversky")
    nr, dr = smoothing(smooth, smooth_nr, smooth_dr, 1.0)
    tp, fp, fn = region_counts(
        p, g, aggregation, soft_label=soft_label, weight=weight, average=average, loss="focal_tversky"
    )
    ti = tversky_index(tp, fp, fn, alpha, beta, nr, dr)
    return reduce(_per_class(safe_pow(1.0 - ti, 1.0 / gamma), weight, average, "focal_tversky"), reduction)


class FocalTverskyLoss(LossModule):
    """Module form of :func:`focal_tversky_loss`."""

    function = staticmethod(focal_tversky_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        alpha: float = 0.3,
        beta: float = 0.7,
        gamma: float = 4.0 / 3.0,
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        soft_label: bool = False,
        weight: Any = None,
        average: Average | str = "macro",
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "batch",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            soft_label=soft_label,
            weight=weight,
            average=average,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- generalised Dice


def _two_class(prep: Prepared, include_background: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, K, P, *S)`` class maps, zero at ignored pixels: multi-class classes (P = 1) or ``(1 - p, p)`` per channel."""
    p, g, _ = region_maps(prep, include_background)
    if prep.mode is Mode.MULTICLASS:
        return p.unsqueeze(2), g.unsqueeze(2)
    return torch.stack([prep.masked(1.0 - p), p], dim=1), torch.stack([prep.masked(1.0 - g), g], dim=1)


@loss_function("generalized_dice", aggregation=ANY_AGGREGATION, smooth=OPTIONAL_SMOOTH)
def generalized_dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = True,
    w_type: WeightType | str = "square",
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    soft_label: bool = False,
    weight: torch.Tensor | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Generalised Dice loss (Sudre et al. 2017) with :math:`w_c = 1/G_c^2` by default.

    .. math::

        GDL = 1 - \frac{2\sum_c w_c \sum_i g_{ic} p_{ic} + s}{\sum_c w_c \sum_i (g_{ic} + p_{ic}) + s},
        \qquad w_c = \frac{1}{(\sum_i g_{ic})^2}

    Parameters
    ----------
    mode : default "multiclass"
        Binary/multilabel: each channel is the two-class problem (background :math:`1 - p`,
        foreground :math:`p`), as in the paper's binary experiments; multilabel averages the labels.
    w_type : {"square", "simple", "uniform"}, default "square"
        :math:`w_c = 1/G_c^2` (the paper), :math:`1/G_c`, or 1 (MONAI's ``w_type``). ``uniform``
        is the micro-averaged Dice (``dice_loss(average="micro")``) of the same classes.
    smooth : default 1e-5
        Added to numerator and denominator (MONAI); ``smooth_nr``/``smooth_dr`` separately.
    soft_label : default False
        The L1 intersection :math:`\sum\min(p, g)` (see :func:`dice_loss`).
    weight : sequence of K floats, optional
        Multiplies :math:`w_c` per class (K = kept classes in multi-class mode; 2, negative and
        positive, in binary/multilabel mode). A buffer in the module.
    ignore_index, mask : as :func:`dice_loss`.
    aggregation : default "image"
        Sums (and weights) per image (MONAI) or over the batch.

    Returns
    -------
    Tensor
        In ``[0, 1]``; ``none``: ``(B,)`` per image, or a 0-d tensor with ``aggregation="batch"``.
        Never NaN or inf.

    Notes
    -----
    Absent classes (segeval's rule): a class with :math:`G_c = 0` would get :math:`w_c = \infty`
    and :math:`\infty \cdot 0` = NaN in the literal formula. It gets the largest finite weight of
    its image (MONAI's rule), so predicting it is still penalised; if no class of the image is
    present, every weight is 1. LIVIAETS/SegLoss use :math:`1/(G + 10^{-10})^2 = 10^{20}`, which
    makes that image's loss ~1; SegLoss ``GDiceLoss`` returns :math:`-2(\cdot)`, and ``GDiceLossV2``
    sums over the batch and clamps :math:`G^2` at 1e-5. With every class present all agree to
    ~1e-4. The weights come from the target, without gradient.

    References
    ----------
    Sudre, Li, Vercauteren, Ourselin, Cardoso, "Generalised Dice overlap as a deep learning loss
    function for highly unbalanced segmentations", DLMIA 2017, :DOI:`10.1007/978-3-319-67558-9_28`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]]])  # (B=1, C=2, W=4)
    >>> y = torch.tensor([[0, 1, 1, 1]])
    >>> round(generalized_dice_loss(p, y, from_logits=False, smooth=0).item(), 6)
    0.0
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="generalized_dice")
    p, g = _two_class(prep, include_background)  # (B, K, P, *S)
    nr, dr = smoothing(smooth, smooth_nr, smooth_dr, 1e-5)
    dims = tuple(range(3, p.ndim)) if aggregation is Aggregation.IMAGE else (0, *range(3, p.ndim))
    tp = soft_intersection(p, g, soft_label).sum(dims)
    size = (p + g).sum(dims)
    volume = g.detach().sum(dims)  # (B, K, P) or (K, P)
    tp, size, volume = across_processes(torch.stack([tp, size, volume]), aggregation).unbind(0)
    k_axis = 1 if aggregation is Aggregation.IMAGE else 0
    with torch.no_grad():
        volume = volume.detach()
        if w_type is WeightType.UNIFORM:
            w = torch.ones_like(volume)
        else:
            present = volume > 0
            power = 2 if w_type is WeightType.SQUARE else 1
            w = torch.where(present, 1.0 / volume.clamp(min=1e-30) ** power, torch.zeros_like(volume))
            largest = w.amax(dim=k_axis, keepdim=True)
            fill = torch.where(largest > 0, largest, torch.ones_like(largest))
            w = torch.where(present, w, fill.expand_as(w))
        if weight is not None:
            w = w * class_weight_vector(weight, w.shape[k_axis], w, "generalized_dice").reshape(-1, 1)
    score = safe_divide(2.0 * (w * tp).sum(k_axis) + nr, (w * size).sum(k_axis) + dr, 1.0)
    per_unit = (1.0 - score).mean(-1)  # average multilabel channels (P)
    return reduce(per_unit, reduction)


class GeneralizedDiceLoss(LossModule):
    """Module form of :func:`generalized_dice_loss`."""

    function = staticmethod(generalized_dice_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = True,
        w_type: WeightType | str = "square",
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        soft_label: bool = False,
        weight: Any = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            w_type=w_type,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            soft_label=soft_label,
            weight=weight,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- log-cosh Dice


@loss_function("log_cosh_dice", aggregation=ANY_AGGREGATION, smooth=OPTIONAL_SMOOTH)
def log_cosh_dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    soft_label: bool = False,
    weight: torch.Tensor | None = None,
    average: Average | str = "macro",
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "batch",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Log-cosh Dice loss (Jadon 2020): :math:`\ln\cosh(L_{Dice})` per class.

    .. math:: L = \ln\cosh\Big(1 - \frac{2\sum_i p_i g_i + s}{\sum_i p_i + \sum_i g_i + s}\Big)

    Parameters
    ----------
    smooth : default 1
        The Keras Dice of the survey's code (or ``smooth_nr``/``smooth_dr``).
    aggregation : default "batch"
        The survey's code flattens the batch.
    Other options : as :func:`dice_loss` (``weight`` multiplies each class's ``ln cosh``).

    Returns
    -------
    Tensor
        In ``[0, ln cosh 1]`` = ``[0, 0.4338]``; ``none``: ``(B, K)`` or ``(K,)``.

    Notes
    -----
    A proposal of the survey, not of a separate paper. ``ln cosh`` is applied to each class's Dice
    loss before the class mean.

    References
    ----------
    Jadon, "A survey of loss functions for semantic segmentation", CIBCB 2020,
    :DOI:`10.1109/CIBCB48159.2020.9277638`.

    Examples
    --------
    >>> import torch, math
    >>> p = torch.tensor([[[1.0, 0.0]]]); g = torch.tensor([[[0.0, 1.0]]])
    >>> round(log_cosh_dice_loss(p, g, from_logits=False, smooth=0).item(), 4), round(math.log(math.cosh(1)), 4)
    (0.4338, 0.4338)
    """
    p, g, _ = _maps(input, target, mask, mode, from_logits, include_background, ignore_index, "log_cosh_dice")
    nr, dr = smoothing(smooth, smooth_nr, smooth_dr, 1.0)
    score = dice_score(
        p, g, aggregation, nr, dr, soft_label=soft_label, weight=weight, average=average, loss="log_cosh_dice"
    )
    return reduce(_per_class(torch.log(torch.cosh(1.0 - score)), weight, average, "log_cosh_dice"), reduction)


class LogCoshDiceLoss(LossModule):
    """Module form of :func:`log_cosh_dice_loss`."""

    function = staticmethod(log_cosh_dice_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        soft_label: bool = False,
        weight: Any = None,
        average: Average | str = "macro",
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "batch",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            soft_label=soft_label,
            weight=weight,
            average=average,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- MCC


@loss_function("mcc", aggregation=ANY_AGGREGATION, smooth=number(low=0, low_open=True))
def mcc_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    smooth: float = 1e-5,
    weight: torch.Tensor | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Matthews correlation coefficient loss (Abhishek & Hamarneh, ISBI 2021), :math:`1 - MCC`.

    .. math::

        MCC = \frac{TP\cdot TN - FP\cdot FN}
                   {\sqrt{(TP + FP)(TP + FN)(TN + FP)(TN + FN) + s}},\qquad
        MCC = 1\ \text{where}\ FP = FN = 0

    with soft counts (:math:`TN = \sum (1 - p)(1 - g)`).

    Parameters
    ----------
    smooth : float > 0, default 1e-5
        ``s``, added under the root only (MONAI's ``smooth_dr``; MONAI's ``smooth_nr`` is 0). This
        placement gives the limits users expect, exactly: a perfect prediction scores loss 0
        (also when the target is empty or full: :math:`FP = FN = 0` is defined as MCC 1), an empty
        prediction on a non-empty target loss 1 (its numerator is exactly 0), and ``s`` keeps the
        gradient finite near an empty or full prediction. (segeval < issue 12 added ``s`` to TP
        and TN, which left an empty prediction at loss 0.998882.)
    weight : sequence of K floats, optional
        Per-class weights on the per-class losses (see :func:`dice_loss`).
    Other options : as :func:`dice_loss` (``ignore_index``/``mask``: ignored pixels are not true
        negatives either).

    Returns
    -------
    Tensor
        In ``[0, 2]``; ``none``: ``(B, K)`` or ``(K,)``.

    Notes
    -----
    Unlike Dice and Tversky, MCC uses the true negatives as well, so it penalises errors relative
    to the background size. Equal to MONAI's ``MCCLoss(smooth_nr=0, smooth_dr=s)``. smp's
    ``MCCLoss`` is batch-level (``aggregation="batch"``) and adds ``eps`` to all four counts, so
    its empty-prediction loss is :math:`1 - O(\sqrt{eps})`.

    References
    ----------
    Abhishek & Hamarneh, "Matthews correlation coefficient loss for deep convolutional networks:
    application to skin lesion segmentation", ISBI 2021, :DOI:`10.1109/ISBI48211.2021.9433782`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]]); g = torch.tensor([[[1.0, 0.0, 1.0, 0.0]]])
    >>> round(mcc_loss(p, g, from_logits=False).item(), 4)   # MCC = (1*1 - 1*1)/2 = 0
    1.0
    >>> mcc_loss(torch.zeros(1, 1, 4), g, from_logits=False).item()   # empty prediction
    1.0
    """
    p, g, valid = _maps(input, target, mask, mode, from_logits, include_background, ignore_index, "mcc")
    dims = sum_dims(p, aggregation)
    negative = (1.0 - p) * (1.0 - g)
    tn = (negative if valid is None else negative * valid).sum(dims)
    tp, fp, fn = region_counts(p, g, aggregation)
    tn = across_processes(tn, aggregation)
    num = tp * tn - fp * fn
    den = torch.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn) + smooth)
    mcc = torch.where((fp == 0) & (fn == 0), torch.ones_like(num), safe_divide(num, den, 0.0))
    return reduce(class_weighted(1.0 - mcc, weight, "mcc"), reduction)


class MCCLoss(LossModule):
    """Module form of :func:`mcc_loss`."""

    function = staticmethod(mcc_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        smooth: float = 1e-5,
        weight: Any = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            smooth=smooth,
            weight=weight,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- focal Dice


@loss_function("focal_dice", aggregation=ANY_AGGREGATION, beta=number(low=1), smooth=OPTIONAL_SMOOTH)
def focal_dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = True,
    beta: float = 2.0,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    soft_label: bool = False,
    weight: torch.Tensor | None = None,
    average: Average | str = "macro",
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Focal Dice loss (Wang & Chung 2018): :math:`1 - \mathrm{Dice}_c^{1/\beta}` per class.

    .. math::

        L_c = 1 - \Big(\frac{2\sum_i p_{ic} g_{ic} + s}{\sum_i p_{ic} + \sum_i g_{ic} + s}\Big)^{1/\beta}

    Parameters
    ----------
    beta : float >= 1, default 2
        :math:`\beta = 1` is the Dice loss; larger :math:`\beta` lowers the loss of well-segmented
        classes relative to poorly segmented ones (the gradient :math:`\propto D^{1/\beta - 1}` grows
        as :math:`D` falls). The paper requires :math:`\beta \ge 1`; 2 is segeval's default (the
        paper's experimental value was not re-checked).
    Other options : as :func:`dice_loss` (``smooth``, ``smooth_nr``, ``smooth_dr``, ``soft_label``,
        ``weight``, ``average``, ``ignore_index``, ``mask``). The paper works on tumour sub-regions
        only: in multi-class mode pass ``include_background=False`` for that setting.

    Returns
    -------
    Tensor
        In ``[0, 1]``; ``none``: ``(B, K)`` or ``(K,)``.

    Notes
    -----
    The gradient of :math:`D^{1/\beta}` is taken at :math:`\max(D, \epsilon)` (finite at 0; exact value). The
    paper sums over classes; ``mean`` averages and ``sum`` adds.

    References
    ----------
    Wang & Chung, "Focal Dice loss and image dilation for brain tumor segmentation", DLMIA 2018,
    :DOI:`10.1007/978-3-030-00889-5_14`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]]); g = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])
    >>> round(focal_dice_loss(p, g, mode="binary", from_logits=False, smooth=0).item(), 6)  # 1 - (2/3)**0.5
    0.183503
    """
    p, g, _ = _maps(input, target, mask, mode, from_logits, include_background, ignore_index, "focal_dice")
    nr, dr = smoothing(smooth, smooth_nr, smooth_dr, 1e-5)
    score = dice_score(
        p, g, aggregation, nr, dr, soft_label=soft_label, weight=weight, average=average, loss="focal_dice"
    )
    return reduce(_per_class(1.0 - safe_pow(score, 1.0 / beta), weight, average, "focal_dice"), reduction)


class FocalDiceLoss(LossModule):
    """Module form of :func:`focal_dice_loss`."""

    function = staticmethod(focal_dice_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = True,
        beta: float = 2.0,
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        soft_label: bool = False,
        weight: Any = None,
        average: Average | str = "macro",
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            beta=beta,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            soft_label=soft_label,
            weight=weight,
            average=average,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- Lovász


def _lovasz_gradient(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovász extension of the Jaccard loss at sorted 0/1 ground truth (last axis)."""
    total = gt_sorted.sum(-1, keepdim=True)
    intersection = total - gt_sorted.cumsum(-1)
    union = total + (1.0 - gt_sorted).cumsum(-1)  # >= 1 everywhere
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], dim=-1)


def _lovasz(errors: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """``sum_j errors_sorted_j * grad_j`` along the last axis (errors sorted in decreasing order)."""
    sorted_errors, order = errors.sort(dim=-1, descending=True)
    grad = _lovasz_gradient(gt.gather(-1, order))
    return (sorted_errors * grad).sum(-1)


def _pools(x: torch.Tensor, aggregation: Aggregation) -> torch.Tensor:
    """``(B, K, *S)`` → ``(B, K, N)`` per image, or ``(K, B*N)`` for the batch."""
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    if aggregation is Aggregation.IMAGE:
        return flat
    return flat.transpose(0, 1).reshape(x.shape[1], -1)


@loss_function("lovasz")
def lovasz_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    weight: torch.Tensor | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Lovász hinge (binary) and Lovász-softmax (multi-class) losses (Berman et al., CVPR 2018).

    The Lovász extension :math:`\overline{\Delta_J}` of the Jaccard loss evaluated at a vector of
    pixel errors :math:`m`:

    .. math::

        L = \overline{\Delta_J}(m) = \sum_{j} m_{\pi(j)}\, \big(\Delta_J(\{\pi(1..j)\}) -
            \Delta_J(\{\pi(1..j-1)\})\big)

    with :math:`\pi` sorting :math:`m` in decreasing order.

    - binary/multilabel with logits: hinge errors :math:`m_i = \max(0, 1 - z_i (2 g_i - 1))`
      (the paper's Lovász hinge), per channel;
    - binary/multilabel with probabilities (``from_logits=False``): :math:`m_i = |g_i - p_i|`;
    - multi-class: :math:`m_{ic} = |g_{ic} - p_{ic}|` per class (Lovász-softmax), averaged over the
      classes present in the target of each pool (Berman's ``classes="present"``).

    Parameters
    ----------
    aggregation : default "image"
        One pool per image (Berman's ``per_image=True``) or the whole batch (the default of
        Berman's ``lovasz_softmax``).
    weight : sequence of K floats, optional
        Per-class (multi-class) or per-channel weights multiplying each class's Lovász loss before
        the mean over classes (present classes in multi-class mode). A buffer in the module.
    ignore_index, mask : as :func:`dice_loss`; ignored pixels leave the pools (their error is 0
        and they are not positives, which leaves the Lovász extension unchanged; Berman's
        ``ignore`` drops them).

    Returns
    -------
    Tensor
        ``none``: ``(B,)`` per image (classes/channels averaged), or a 0-d tensor with
        ``aggregation="batch"``. A pool without any present class (multi-class) is 0.

    Notes
    -----
    Targets are binarised at 0.5. The loss is piecewise linear in the errors; its gradient is the
    Lovász gradient of the sorted errors.

    References
    ----------
    Berman, Rannen Triki, Blaschko, "The Lovász-Softmax loss: a tractable surrogate for the
    optimization of the intersection-over-union measure in neural networks", CVPR 2018,
    :DOI:`10.1109/CVPR.2018.00464`.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[[2.0, -2.0]]]); g = torch.tensor([[[1.0, 0.0]]])  # both margins 2: no error
    >>> lovasz_loss(z, g).item()
    0.0
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="lovasz")
    channels = prep.channels(include_background)
    gt = (prep.g[:, channels] > 0.5).to(prep.dtype)
    if mode is Mode.MULTICLASS:
        errors = (gt - prep.p[:, channels]).abs()
    elif from_logits:
        errors = torch.relu(1.0 - prep.z * (2.0 * gt - 1.0))
    else:
        errors = (gt - prep.p).abs()
    valid = prep.valid
    if valid is not None:
        errors = errors * (valid[:, channels] if valid.shape[1] > 1 else valid)
    e, y = _pools(errors, aggregation), _pools(gt, aggregation)
    per_class = class_weighted(_lovasz(e, y), weight, "lovasz")  # (B, K) or (K,)
    if mode is Mode.MULTICLASS:
        present = (y.sum(-1) > 0).to(per_class.dtype)
        per_unit = safe_divide((per_class * present).sum(-1), present.sum(-1), 0.0)
    else:
        per_unit = per_class.mean(-1)
    return reduce(per_unit, reduction)


class LovaszLoss(LossModule):
    """Module form of :func:`lovasz_loss`."""

    function = staticmethod(lovasz_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        weight: Any = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            weight=weight,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- clDice


def _erode(x: torch.Tensor) -> torch.Tensor:
    """Soft erosion: minimum over the face-connected cross (one 3-tap min-pool per spatial axis)."""
    ndim = x.ndim - 2
    pool = F.max_pool2d if ndim == 2 else F.max_pool3d
    out = None
    for axis in range(ndim):
        kernel = [1] * ndim
        kernel[axis] = 3
        padding = [k // 2 for k in kernel]
        eroded = -pool(-x, kernel_size=kernel, stride=1, padding=padding)
        out = eroded if out is None else torch.minimum(out, eroded)
    return out  # type: ignore[return-value]


def _dilate(x: torch.Tensor) -> torch.Tensor:
    """Soft dilation: maximum over the full 3^d neighbourhood."""
    ndim = x.ndim - 2
    pool = F.max_pool2d if ndim == 2 else F.max_pool3d
    return pool(x, kernel_size=3, stride=1, padding=1)


def soft_skeleton(x: torch.Tensor, iterations: int) -> torch.Tensor:
    r"""Soft skeleton of Shit et al. (2021) for ``(B, K, H, W)`` or ``(B, K, D, H, W)`` maps in ``[0, 1]``.

    ``skel = relu(x - open(x))``, then ``iterations`` times: ``x = erode(x)``,
    ``delta = relu(x - open(x))``, ``skel += relu(delta - skel * delta)``; ``open = dilate∘erode``
    with a cross-shaped min-pool (erosion) and a 3^d max-pool (dilation). Pixels beyond the border
    are ignored by the pools.
    """
    skeleton = torch.relu(x - _dilate(_erode(x)))
    for _ in range(iterations):
        x = _erode(x)
        delta = torch.relu(x - _dilate(_erode(x)))
        skeleton = skeleton + torch.relu(delta - skeleton * delta)
    return skeleton


@loss_function("cldice", alpha=in_unit_interval, iterations=integer(low=0))
def cldice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    alpha: float = 0.5,
    iterations: int = 3,
    smooth: float = 1.0,
    weight: torch.Tensor | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "batch",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""clDice loss combined with soft Dice (Shit et al., CVPR 2021), per class.

    .. math::

        L_c = (1 - \alpha)\,(1 - \mathrm{Dice}) + \alpha\,(1 - \mathrm{clDice}),\qquad
        \mathrm{clDice} = \frac{2\,T_{prec}\,T_{sens}}{T_{prec} + T_{sens}}

    .. math::

        T_{prec} = \frac{\sum S_P\, g + s}{\sum S_P + s},\qquad
        T_{sens} = \frac{\sum S_G\, p + s}{\sum S_G + s}

    with :math:`S_P`, :math:`S_G` the soft skeletons (:func:`soft_skeleton`) of the prediction and
    of the target, and Dice :math:`(2\sum pg + s)/(\sum p + \sum g + s)`.

    Parameters
    ----------
    alpha : float in [0, 1], default 0.5
        Share of the clDice term (the reference code's ``soft_dice_cldice`` default); 1 gives the
        pure soft-clDice loss.
    iterations : int >= 0, default 3
        Skeletonisation iterations; should exceed the largest expected structure radius in pixels.
    smooth : default 1
        Added to the numerators and denominators above (reference code).
    aggregation : default "batch"
        The reference code sums over the batch.
    weight : sequence of K floats, optional
        Per-class weights on the per-class losses (see :func:`dice_loss`).
    ignore_index, mask : as :func:`dice_loss`. Prediction and target are set to 0 at ignored
        pixels before the soft skeletons (a neighbourhood operator), and the skeletons are masked
        again before the sums.

    Returns
    -------
    Tensor
        In ``[0, 1]``; ``none``: ``(B, K)`` or ``(K,)``.

    Notes
    -----
    2-D and 3-D images only (max-pooling morphology). The reference code pools all foreground
    classes into one sum and drops channel 0; segeval computes one value per class (pass
    ``include_background=False`` to drop the background in multi-class mode). MONAI's
    ``SoftclDiceLoss`` pools classes per image and adds 1e-4 to the harmonic mean's denominator.
    The target skeleton carries no gradient.

    References
    ----------
    Shit et al., "clDice — a novel topology-preserving loss function for tubular structure
    segmentation", CVPR 2021, :DOI:`10.1109/CVPR46437.2021.01629`.

    Examples
    --------
    >>> import torch
    >>> g = torch.zeros(1, 1, 5, 5); g[0, 0, 2, :] = 1            # a one-pixel-wide line
    >>> cldice_loss(g, g, from_logits=False).item()                # perfect prediction
    0.0
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="cldice")
    if prep.z.ndim not in (4, 5):
        raise UsageError(
            f"cldice: expected 2-D or 3-D images, input of shape (B, C, H, W) or (B, C, D, H, W), "
            f"got {tuple(prep.z.shape)}"
        )
    p, g, valid = region_maps(prep, include_background)
    dims = sum_dims(p, aggregation)
    skeleton_p = soft_skeleton(p, iterations)
    with torch.no_grad():
        skeleton_g = soft_skeleton(g, iterations)
    if valid is not None:
        skeleton_p, skeleton_g = skeleton_p * valid, skeleton_g * valid
    precision = ((skeleton_p * g).sum(dims) + smooth) / (skeleton_p.sum(dims) + smooth)
    sensitivity = ((skeleton_g * p).sum(dims) + smooth) / (skeleton_g.sum(dims) + smooth)
    cl = safe_divide(2.0 * precision * sensitivity, precision + sensitivity, 0.0)
    dice = dice_score(p, g, aggregation, smooth)
    return reduce(class_weighted((1.0 - alpha) * (1.0 - dice) + alpha * (1.0 - cl), weight, "cldice"), reduction)


class ClDiceLoss(LossModule):
    """Module form of :func:`cldice_loss`."""

    function = staticmethod(cldice_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        alpha: float = 0.5,
        iterations: int = 3,
        smooth: float = 1.0,
        weight: Any = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "batch",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            alpha=alpha,
            iterations=iterations,
            smooth=smooth,
            weight=weight,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )
