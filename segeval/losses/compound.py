"""Compound losses: weighted sums of a pixel-wise (CE-type) term and a region (Dice-type) term.

BCE-Dice, CE-Dice, combo (Taghanaki), exponential logarithmic (Wong) and unified focal (Yeung).
They reuse the kernels of the other families; the only new maths are the combinations.

``reduction="none"`` returns one value per image, ``(B,)``: the pixel term averaged over the image's
pixels (and channels) plus the region term averaged over its classes. With ``aggregation="batch"``
the region statistics (and frequencies) are summed over the batch and there is no per-image value:
``none`` returns a 0-d tensor. ``mean`` averages the per-image values, ``sum`` adds them.

Every compound loss takes ``ignore_index`` and a per-call ``mask``: ignored pixels count in neither
term (the pixel term is averaged over the counted pixels of each image, the region statistics leave
them out).
"""

from __future__ import annotations

from typing import Any

import torch

from segeval.losses._args import (
    ANY_AGGREGATION,
    OPTIONAL_SMOOTH,
    LossModule,
    in_unit_interval,
    loss_function,
    number,
    smoothing,
)
from segeval.losses._enums import Aggregation, Mode, Reduction, UnifiedVariant
from segeval.losses._kernels import (
    Prepared,
    binary_class_weights,
    categorical,
    dice_score,
    prepare,
    reduce,
    region_maps,
    safe_divide,
    safe_pow,
    tversky_index,
)
from segeval.losses.distribution import binary_cross_entropy

__all__ = [
    "BCEDiceLoss",
    "CEDiceLoss",
    "ComboLoss",
    "ExpLogLoss",
    "UnifiedFocalLoss",
    "bce_dice_loss",
    "ce_dice_loss",
    "combo_loss",
    "exp_log_loss",
    "unified_focal_loss",
]


def _unit_mean(x: torch.Tensor, aggregation: Aggregation, prep: Prepared) -> torch.Tensor:
    """Mean of a per-pixel map ``(B, P, *S)`` (0 at ignored pixels) over the counted pixels of each
    image (image), or of the batch (batch); 0 where nothing counts."""
    if prep.valid is None:
        return x.reshape(x.shape[0], -1).mean(1) if aggregation is Aggregation.IMAGE else x.mean()
    count = prep.valid.expand_as(x)
    if aggregation is not Aggregation.IMAGE:
        return safe_divide(x.sum(), count.sum(), 0.0)
    return safe_divide(x.reshape(x.shape[0], -1).sum(1), count.reshape(x.shape[0], -1).sum(1), 0.0)


def _class_mean(x: torch.Tensor) -> torch.Tensor:
    """``(B, K)`` → ``(B,)`` or ``(K,)`` → 0-d."""
    return x.mean(-1)


# --------------------------------------------------------------------------- BCE-Dice / CE-Dice


@loss_function(
    "bce_dice", aggregation=ANY_AGGREGATION, lambda_ce=number(low=0), lambda_dice=number(low=0), smooth=OPTIONAL_SMOOTH
)
def bce_dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    lambda_ce: float = 1.0,
    lambda_dice: float = 1.0,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    pos_weight: float | torch.Tensor | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""BCE plus Dice loss: :math:`\lambda_{ce} L_{BCE} + \lambda_{dice} L_{Dice}`.

    :math:`L_{BCE}` is :func:`~segeval.losses.bce_loss` (element-wise, every channel) and
    :math:`L_{Dice}` is :func:`~segeval.losses.dice_loss` with ``smooth`` (per image by default).

    Parameters
    ----------
    lambda_ce, lambda_dice : float >= 0, default 1 and 1
        MONAI ``DiceCELoss`` / nnU-Net weights. The seed and Jadon's Keras code use 1 and 1 with
        ``smooth=1`` on the flattened tensor (``aggregation="batch"``); some versions halve the sum.
    smooth : default 1e-5
        Dice smoothing (MONAI); or ``smooth_nr``/``smooth_dr`` (see :func:`~segeval.losses.dice_loss`).
    pos_weight : float or sequence of C floats, optional
        Weight of the positive term of the BCE (as in :func:`~segeval.losses.bce_loss`).
    ignore_index, mask : optional
        Ignored pixels count in neither term.

    Returns
    -------
    Tensor
        ``none``: ``(B,)`` per image, or 0-d with ``aggregation="batch"`` (module docstring).

    Notes
    -----
    In multi-class mode the BCE term is one-vs-rest on the softmax channels; use
    :func:`ce_dice_loss` for the categorical CE. MONAI ``DiceCELoss(sigmoid=True)`` is this loss
    with the defaults.

    References
    ----------
    Jadon, "A survey of loss functions for semantic segmentation", CIBCB 2020,
    :DOI:`10.1109/CIBCB48159.2020.9277638`; Isensee et al., "nnU-Net", Nature Methods 18 (2021),
    :DOI:`10.1038/s41592-020-01008-z` (CE + Dice).

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[[1.0, 0.0]]])
    >>> bce_dice_loss(g, g, from_logits=False).item()   # perfect prediction: both terms 0
    0.0
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="bce_dice")
    bce = binary_cross_entropy(prep, pos_weight, 0.0, "bce_dice")
    p, g, _ = region_maps(prep, include_background)
    dice = 1.0 - dice_score(p, g, aggregation, *smoothing(smooth, smooth_nr, smooth_dr, 1e-5))
    return reduce(lambda_ce * _unit_mean(bce, aggregation, prep) + lambda_dice * _class_mean(dice), reduction)


class BCEDiceLoss(LossModule):
    """Module form of :func:`bce_dice_loss`."""

    function = staticmethod(bce_dice_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        lambda_ce: float = 1.0,
        lambda_dice: float = 1.0,
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        pos_weight: Any = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            lambda_ce=lambda_ce,
            lambda_dice=lambda_dice,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            pos_weight=pos_weight,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


@loss_function(
    "ce_dice", aggregation=ANY_AGGREGATION, lambda_ce=number(low=0), lambda_dice=number(low=0), smooth=OPTIONAL_SMOOTH
)
def ce_dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = True,
    lambda_ce: float = 1.0,
    lambda_dice: float = 1.0,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Cross entropy plus Dice loss: :math:`\lambda_{ce} L_{CE} + \lambda_{dice} L_{Dice}` (MONAI, nnU-Net).

    :math:`L_{CE}` is :func:`~segeval.losses.ce_loss` (unweighted, per pixel; BCE in binary and
    multilabel modes, where this equals :func:`bce_dice_loss`), :math:`L_{Dice}` is
    :func:`~segeval.losses.dice_loss`.

    Parameters
    ----------
    lambda_ce, lambda_dice : float >= 0, default 1 and 1
    smooth : default 1e-5
        Or ``smooth_nr``/``smooth_dr`` (see :func:`~segeval.losses.dice_loss`).
    include_background : default True
        Applies to the Dice term only (CE always uses every class).
    ignore_index, mask : optional
        Ignored pixels count in neither term (default None; MONAI's ``DiceCELoss`` passes
        ``ignore_index`` to its CE only).

    Returns
    -------
    Tensor
        ``none``: ``(B,)`` per image, or 0-d with ``aggregation="batch"``.

    Notes
    -----
    MONAI ``DiceCELoss(softmax=True, to_onehot_y=True)`` is this loss with the defaults; nnU-Net
    uses batch Dice (``aggregation="batch"``) without background and its own smoothing.

    References
    ----------
    Isensee et al., "nnU-Net: a self-configuring method for deep learning-based biomedical image
    segmentation", Nature Methods 18 (2021), :DOI:`10.1038/s41592-020-01008-z`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]); y = torch.tensor([[0, 1]])
    >>> ce_dice_loss(p, y, from_logits=False).item()
    0.0
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="ce_dice")
    logp, _, g = categorical(prep)
    ce = -(g * logp).sum(1)
    p, gk, _ = region_maps(prep, include_background)
    dice = 1.0 - dice_score(p, gk, aggregation, *smoothing(smooth, smooth_nr, smooth_dr, 1e-5))
    return reduce(lambda_ce * _unit_mean(ce, aggregation, prep) + lambda_dice * _class_mean(dice), reduction)


class CEDiceLoss(LossModule):
    """Module form of :func:`ce_dice_loss`."""

    function = staticmethod(ce_dice_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = True,
        lambda_ce: float = 1.0,
        lambda_dice: float = 1.0,
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            lambda_ce=lambda_ce,
            lambda_dice=lambda_dice,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- combo


@loss_function("combo", alpha=in_unit_interval, beta=in_unit_interval)
def combo_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    alpha: float = 0.5,
    beta: float = 0.5,
    smooth: float = 1.0,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "batch",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Combo loss (Taghanaki et al., CMIG 2019), the paper's formula.

    .. math::

        L = \alpha\Big(-\frac1N\sum_i\big[\beta\,g_i\ln p_i + (1-\beta)(1-g_i)\ln(1-p_i)\big]\Big)
            - (1-\alpha)\,\frac{2\sum_i p_i g_i + S}{\sum_i p_i + \sum_i g_i + S}

    Parameters
    ----------
    alpha : float in [0, 1], default 0.5
        Share of the (weighted) cross-entropy term.
    beta : float in [0, 1], default 0.5
        Weight of the positives in the CE term; :math:`\beta > 0.5` penalises false negatives more.
        Multi-class: every class but 0 gets :math:`\beta`, class 0 gets :math:`1 - \beta`.
    ignore_index, mask : optional
        Ignored pixels count in neither term.
    smooth : default 1
        :math:`S` in the Dice term (authors' code).
    aggregation : default "batch"
        The authors' code works on the flattened batch.

    Returns
    -------
    Tensor
        Can be **negative**: the minimum is :math:`-(1 - \alpha)` (perfect prediction).
        ``none``: ``(B,)`` or 0-d (module docstring).

    Notes
    -----
    The sign convention is the paper's (:math:`-\mathrm{Dice}`, not :math:`1 - \mathrm{Dice}`).
    The released Keras code nests the weights as :math:`\beta\,(\ldots + (1-\beta)\ldots)`, so
    negatives get :math:`\beta(1-\beta)`; Jadon's survey prints :math:`\beta(y - \log\hat y)` (a
    typo). Both differ from the formula above. The paper sums the Dice term over classes; with
    several classes segeval averages it (same value for one class). Probabilities are not clipped
    to :math:`[10^{-7}, 1 - 10^{-7}]` as in the authors' code; logs are computed stably instead.

    References
    ----------
    Taghanaki et al., "Combo loss: handling input and output imbalance in multi-organ
    segmentation", Computerized Medical Imaging and Graphics 75 (2019),
    :DOI:`10.1016/j.compmedimag.2019.04.005`.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[[1.0, 0.0]]])
    >>> combo_loss(g, g, from_logits=False).item()    # CE 0, Dice 1: -(1 - alpha)
    -0.5
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="combo")
    logp, _, g = categorical(prep)
    w = binary_class_weights(beta, logp.shape[1], logp.dtype, logp.device).reshape(1, -1, *([1] * (logp.ndim - 2)))
    ce = -(w * g * logp).sum(1)
    p, gk, _ = region_maps(prep, include_background)
    dice = dice_score(p, gk, aggregation, smooth)
    return reduce(alpha * _unit_mean(ce, aggregation, prep) - (1.0 - alpha) * _class_mean(dice), reduction)


class ComboLoss(LossModule):
    """Module form of :func:`combo_loss`."""

    function = staticmethod(combo_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        alpha: float = 0.5,
        beta: float = 0.5,
        smooth: float = 1.0,
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
            smooth=smooth,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- exponential logarithmic


@loss_function(
    "exp_log",
    w_dice=number(low=0),
    w_cross=number(low=0),
    gamma_dice=number(low=0, low_open=True),
    gamma_cross=number(low=0, low_open=True),
)
def exp_log_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = True,
    w_dice: float = 0.8,
    w_cross: float = 0.2,
    gamma_dice: float = 0.3,
    gamma_cross: float = 0.3,
    smooth: float = 1.0,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "batch",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Exponential logarithmic loss (Wong et al., MICCAI 2018).

    .. math::

        L = w_{Dice}\,\mathbb{E}_c\big[(-\ln \mathrm{Dice}_c)^{\gamma_{Dice}}\big]
          + w_{Cross}\,\mathbb{E}_i\big[w_{y_i}\,(-\ln p_{i,y_i})^{\gamma_{Cross}}\big]

    .. math::

        \mathrm{Dice}_c = \frac{2\sum_i g_{ic} p_{ic} + \epsilon}{\sum_i (g_{ic} + p_{ic}) + \epsilon},
        \qquad w_l = \Big(\frac{\sum_k f_k}{f_l}\Big)^{1/2}

    Parameters
    ----------
    w_dice, w_cross : default 0.8 and 0.2
    gamma_dice, gamma_cross : float > 0, default 0.3 and 0.3
    ignore_index, mask : optional
        Ignored pixels count in neither term.
    smooth : default 1
        :math:`\epsilon` of the Dice term.
    aggregation : default "batch"
        Unpinned by the paper; segeval sums the Dice statistics over the batch and counts the label
        frequencies :math:`f_k` over the batch (``"image"``: per image).

    Returns
    -------
    Tensor
        ``none``: ``(B,)`` or 0-d (module docstring).

    Notes
    -----
    In binary/multilabel mode the Dice term uses the foreground channel(s) and the CE term the
    two classes (negative, positive) of each channel, with their frequencies. An absent label has
    :math:`f_l = 0` and gets weight 0 (no pixel uses it). Below machine epsilon both logarithms
    get the gradient of the clamped value in the power :math:`\gamma < 1` (the exact gradient is infinite at
    :math:`\mathrm{Dice} = 1`, :math:`p = 1`; the value itself is exact). SegLoss ``ExpLog_loss`` raises the log of the
    class-mean Dice to 0.3 and adds a plain unweighted CE without :math:`\gamma`.

    References
    ----------
    Wong, Moradi, Tang, Syeda-Mahmood, "3D segmentation with exponential logarithmic loss for
    highly unbalanced object sizes", MICCAI 2018, :DOI:`10.1007/978-3-030-00931-1_70`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]); y = torch.tensor([[0, 1]])
    >>> round(exp_log_loss(p, y, from_logits=False).item(), 4)   # perfect: both logs ~0
    0.0
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="exp_log")
    p, gk, _ = region_maps(prep, include_background)
    dice = dice_score(p, gk, aggregation, smooth)
    dice_term = _class_mean(safe_pow(-torch.log(dice), gamma_dice))

    logp, _, g = categorical(prep)  # (B, K, P, *S)
    with torch.no_grad():
        dims = tuple(range(3, g.ndim)) if aggregation is Aggregation.IMAGE else (0, *range(3, g.ndim))
        freq = g.detach().sum(dims, keepdim=True)
        total = freq.sum(1, keepdim=True)
        w = torch.where(freq > 0, (total / freq.clamp(min=1e-30)).sqrt(), torch.zeros_like(freq))
    cross = (w * g * safe_pow(-logp, gamma_cross)).sum(1)  # (B, P, *S)
    return reduce(w_dice * dice_term + w_cross * _unit_mean(cross, aggregation, prep), reduction)


class ExpLogLoss(LossModule):
    """Module form of :func:`exp_log_loss`."""

    function = staticmethod(exp_log_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = True,
        w_dice: float = 0.8,
        w_cross: float = 0.2,
        gamma_dice: float = 0.3,
        gamma_cross: float = 0.3,
        smooth: float = 1.0,
        include_background: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "batch",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            w_dice=w_dice,
            w_cross=w_cross,
            gamma_dice=gamma_dice,
            gamma_cross=gamma_cross,
            smooth=smooth,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- unified focal


def _class_maps(prep: Prepared) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, K, P, *S)`` probabilities and targets (``(1 - p, p)`` per channel in sigmoid modes), 0 at ignored pixels."""
    p, g, _ = region_maps(prep, True)
    if prep.mode is Mode.MULTICLASS:
        return p.unsqueeze(2), g.unsqueeze(2)
    return torch.stack([prep.masked(1.0 - p), p], dim=1), torch.stack([prep.masked(1.0 - g), g], dim=1)


@loss_function(
    "unified_focal",
    lambda_focal=in_unit_interval,
    delta=in_unit_interval,
    gamma=number(low=0, high=1, high_open=True),
)
def unified_focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    lambda_focal: float = 0.5,
    delta: float = 0.6,
    gamma: float = 0.5,
    variant: UnifiedVariant | str = "asymmetric",
    smooth: float = 1e-6,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Unified focal loss (Yeung et al., CMIG 2022), asymmetric by default.

    .. math::

        L_{aUF} = \lambda\, L_{maF} + (1 - \lambda)\, L_{aFT}

    .. math::

        L_{maF} = \frac1N\sum_i\Big[-(1-\delta)(1 - p_{i,0})^{\gamma}\, g_{i,0}\ln p_{i,0}
                  - \delta \sum_{c \ge 1} g_{i,c}\ln p_{i,c}\Big]

    .. math::

        L_{aFT} = \frac1C\Big[(1 - mTI_0) + \sum_{c\ge1}(1 - mTI_c)^{1-\gamma}\Big],\qquad
        mTI_c = \frac{TP_c + s}{TP_c + \delta\,FN_c + (1-\delta)\,FP_c + s}

    Class 0 is the background (suppressed by the focal factor), every other class is a rare class
    (not suppressed in the CE term, enhanced by the exponent :math:`1 - \gamma < 1` in the Tversky
    term). The symmetric variant applies :math:`(1-p)^\gamma` and :math:`(\cdot)^{1-\gamma}` to every
    class.

    Parameters
    ----------
    lambda_focal : float in [0, 1], default 0.5
        :math:`\lambda`, the share of the focal (CE-based) term, as in the paper's equation. The
        authors' code calls it ``weight`` and multiplies the *Tversky* term by it; at the default
        0.5 the two readings agree.
    delta : float in [0, 1], default 0.6
        Weight of the rare classes in the CE term and of FN in the Tversky term.
    gamma : float in [0, 1), default 0.5
        Focal parameter; the Tversky exponent is :math:`1 - \gamma`.
    variant : {"asymmetric", "symmetric"}, default "asymmetric"
    ignore_index, mask : optional
        Ignored pixels count in neither term.
    smooth : default 1e-6
    aggregation : default "image"
        Tversky statistics per image (the authors' code) or over the batch.

    Returns
    -------
    Tensor
        ``none``: ``(B,)`` or 0-d (module docstring).

    Notes
    -----
    Binary mode expands the sigmoid channel to the two classes (background :math:`1 - p`,
    foreground :math:`p`) of the authors' two-channel code; multilabel averages the labels.
    :math:`(1 - mTI)^{1-\gamma}` takes the gradient of the value clamped at machine epsilon (the
    value is exact). The defaults are those of
    the authors' ``asym_unified_focal_loss`` (0.5, 0.6, 0.5); MONAI's ``AsymmetricUnifiedFocalLoss``
    uses :math:`\delta = 0.7`.

    References
    ----------
    Yeung, Sala, Schönlieb, Rundo, "Unified Focal loss: generalising Dice and cross entropy-based
    losses to handle class imbalanced medical image segmentation", Computerized Medical Imaging
    and Graphics 95 (2022), :DOI:`10.1016/j.compmedimag.2021.102026`.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[[1.0, 0.0]]])
    >>> round(unified_focal_loss(g, g, from_logits=False).item(), 4)
    0.0
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="unified_focal")
    logp, log1mp, g = categorical(prep)  # (B, K, P, *S)
    k = logp.shape[1]
    weights = binary_class_weights(delta, k, logp.dtype, logp.device).reshape(1, k, *([1] * (logp.ndim - 2)))
    modulator = torch.exp(gamma * log1mp)
    if variant is UnifiedVariant.ASYMMETRIC:
        rare = torch.zeros(k, dtype=torch.bool, device=logp.device)
        rare[1:] = True
        modulator = torch.where(rare.reshape(1, k, *([1] * (logp.ndim - 2))), torch.ones_like(modulator), modulator)
    focal = -(weights * modulator * g * logp).sum(1)  # (B, P, *S)
    focal_term = _unit_mean(focal, aggregation, prep)

    p, gm = _class_maps(prep)  # (B, K, P, *S)
    dims = tuple(range(3, p.ndim)) if aggregation is Aggregation.IMAGE else (0, *range(3, p.ndim))
    tp = (p * gm).sum(dims)
    fp = (p * (1.0 - gm)).sum(dims)
    fn = ((1.0 - p) * gm).sum(dims)
    mti = tversky_index(tp, fp, fn, 1.0 - delta, delta, smooth)  # (B, K, P) or (K, P)
    enhanced = safe_pow(1.0 - mti, 1.0 - gamma)
    if variant is UnifiedVariant.ASYMMETRIC:
        k_axis = mti.ndim - 2
        background = (1.0 - mti).narrow(k_axis, 0, 1)
        per_class = torch.cat([background, enhanced.narrow(k_axis, 1, k - 1)], dim=k_axis)
    else:
        per_class = enhanced
    tversky_term = per_class.mean(-2).mean(-1)  # classes, then multilabel channels
    return reduce(lambda_focal * focal_term + (1.0 - lambda_focal) * tversky_term, reduction)


class UnifiedFocalLoss(LossModule):
    """Module form of :func:`unified_focal_loss`."""

    function = staticmethod(unified_focal_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        lambda_focal: float = 0.5,
        delta: float = 0.6,
        gamma: float = 0.5,
        variant: UnifiedVariant | str = "asymmetric",
        smooth: float = 1e-6,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "image",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            lambda_focal=lambda_focal,
            delta=delta,
            gamma=gamma,
            variant=variant,
            smooth=smooth,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )
