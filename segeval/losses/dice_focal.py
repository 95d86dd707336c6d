"""Dice + focal compounds: :math:`\\lambda_{dice} L_{Dice} + \\lambda_{focal} L_{focal}` and the generalised Dice form.

Both are weighted sums of two catalog losses computed with those losses' kernels (the soft Dice of
:func:`~segeval.losses.dice_loss` or :func:`~segeval.losses.generalized_dice_loss` itself, and the
per-pixel terms of :func:`~segeval.losses.focal_loss`), so the conventions of the parts hold unchanged.
Pixels ignored through ``ignore_index`` or ``mask`` count in neither term.

``reduction="none"`` returns one value per image, ``(B,)``: the region term of the image (Dice averaged
over its classes) plus its focal term averaged over its pixels. With ``aggregation="batch"`` the region
statistics are summed over the batch and ``none`` returns a 0-d tensor.
"""

from __future__ import annotations

from typing import Any

import torch

from segeval.losses._args import OPTIONAL_SMOOTH, LossModule, loss_function, number, smoothing
from segeval.losses._enums import Aggregation, Mode, Reduction
from segeval.losses._kernels import Prepared, categorical, dice_score, prepare, reduce, region_maps
from segeval.losses.distribution import _alpha, _focal_terms
from segeval.losses.region import generalized_dice_loss

__all__ = ["DiceFocalLoss", "GeneralizedDiceFocalLoss", "dice_focal_loss", "generalized_dice_focal_loss"]


def _focal_per_unit(prep: Prepared, alpha: Any, gamma: float, aggregation: Aggregation, loss: str) -> torch.Tensor:
    """The focal term averaged over each image's counted pixels ``(B,)``, or over the batch's (0-d)."""
    logp, log1mp, g = categorical(prep)
    pixel = _focal_terms(logp, log1mp, g, alpha, gamma, prep.mode, loss)  # (B, P, *S), 0 where ignored
    valid = torch.ones_like(pixel) if prep.valid is None else prep.valid.expand_as(pixel)
    if aggregation is Aggregation.BATCH:
        return pixel.sum() / valid.sum().clamp(min=1.0)
    batch = pixel.shape[0]
    return pixel.reshape(batch, -1).sum(1) / valid.reshape(batch, -1).sum(1).clamp(min=1.0)


_OPTIONS = {
    "lambda_dice": number(low=0),
    "lambda_focal": number(low=0),
    "alpha": _alpha,
    "gamma": number(low=0),
    "smooth": OPTIONAL_SMOOTH,
}


@loss_function("dice_focal", **_OPTIONS)
def dice_focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    lambda_dice: float = 1.0,
    lambda_focal: float = 1.0,
    alpha: float | torch.Tensor | None = None,
    gamma: float = 2.0,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Dice plus focal loss: :math:`\lambda_{dice} L_{Dice} + \lambda_{focal} L_{focal}` (Zhu et al., AnatomyNet).

    .. math::

        L = \lambda_{dice}\Big(1 - \frac{2\sum p g + s}{\sum p + \sum g + s}\Big)
          + \lambda_{focal}\,\frac1N\sum_i -\alpha_t (1 - p_t)^\gamma \ln p_t

    :math:`L_{Dice}` is :func:`~segeval.losses.dice_loss` (per image and class, then averaged over
    classes) and :math:`L_{focal}` is :func:`~segeval.losses.focal_loss` (sigmoid per element in binary
    and multilabel modes, softmax per pixel in multi-class mode).

    Parameters
    ----------
    lambda_dice, lambda_focal : float >= 0, default 1 and 1
        MONAI ``DiceFocalLoss``'s weights.
    alpha : float in [0, 1], sequence of K floats, or None; default None
        The focal term's :math:`\alpha` (see :func:`~segeval.losses.focal_loss`). None, as in
        AnatomyNet and MONAI ``DiceFocalLoss`` (the standalone ``focal`` loss keeps the RetinaNet 0.25).
    gamma : float >= 0, default 2
    smooth, smooth_nr, smooth_dr : float >= 0 or None
        Dice smoothing :math:`(2TP + s_{nr})/(|P| + |G| + s_{dr})`; ``smooth`` sets both, default 1e-5
        (MONAI); giving ``smooth`` with either of the others is a usage error.
    include_background : default True
        Multi-class mode: False drops class 0 from the Dice term (the focal term uses every class).
    aggregation : default "image"
        Dice sums per image, or over the batch (then the focal term is the batch mean too).
    ignore_index : int or None, default None
        Target value of pixels that count nowhere, like pixels where ``mask`` is 0 (both terms).

    Returns
    -------
    Tensor
        ``none``: ``(B,)`` per image, or 0-d with ``aggregation="batch"``. 0 for a perfect prediction.

    Notes
    -----
    MONAI ``DiceFocalLoss(sigmoid=True)`` is this loss in binary and multilabel modes. With
    ``softmax=True`` MONAI's Dice term is segeval's multi-class Dice, but its focal term stays the
    sigmoid focal loss of each channel of the raw input against the one-hot target (one-vs-rest,
    MONAI 1.6.1): segeval's multilabel ``focal_loss`` on the one-hot target, not its softmax focal.

    References
    ----------
    Zhu et al., "AnatomyNet: Deep learning for fast and fully automated whole-volume segmentation of head
    and neck anatomy", Medical Physics 46(2), 2019, :DOI:`10.1002/mp.13300`; Lin et al., "Focal loss for
    dense object detection", ICCV 2017, :DOI:`10.1109/ICCV.2017.324`.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[[1.0, 0.0]]])
    >>> dice_focal_loss(g, g, from_logits=False).item()   # perfect prediction: both terms 0
    0.0
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="dice_focal")
    p, g, _ = region_maps(prep, include_background)
    nr, dr = smoothing(smooth, smooth_nr, smooth_dr, default=1e-5)
    dice = 1.0 - dice_score(p, g, aggregation, nr, dr).mean(-1)
    focal = _focal_per_unit(prep, alpha, gamma, aggregation, "dice_focal")
    return reduce(lambda_dice * dice + lambda_focal * focal, reduction)


class DiceFocalLoss(LossModule):
    """Module form of :func:`dice_focal_loss`; a sequence ``alpha`` is a registered buffer."""

    function = staticmethod(dice_focal_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        lambda_dice: float = 1.0,
        lambda_focal: float = 1.0,
        alpha: Any = None,
        gamma: float = 2.0,
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
            lambda_dice=lambda_dice,
            lambda_focal=lambda_focal,
            alpha=alpha,
            gamma=gamma,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


@loss_function("generalized_dice_focal", **_OPTIONS)
def generalized_dice_focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = True,
    lambda_dice: float = 1.0,
    lambda_focal: float = 1.0,
    alpha: float | torch.Tensor | None = None,
    gamma: float = 2.0,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "image",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Generalised Dice plus focal loss: :math:`\lambda_{dice} L_{GDL} + \lambda_{focal} L_{focal}`.

    .. math::

        L = \lambda_{dice}\Big(1 - 2\,\frac{\sum_c w_c \sum_i g_{ic} p_{ic} + s}{\sum_c w_c \sum_i (g_{ic} + p_{ic}) + s}\Big)
          + \lambda_{focal}\,\frac1N\sum_i -\alpha_t (1 - p_t)^\gamma \ln p_t,
        \qquad w_c = \frac{1}{G_c^2}

    :math:`L_{GDL}` is :func:`~segeval.losses.generalized_dice_loss` (absent classes get the largest
    finite weight of their image; binary and multilabel channels are two-class problems) and
    :math:`L_{focal}` is :func:`~segeval.losses.focal_loss`.

    Parameters
    ----------
    lambda_dice, lambda_focal : float >= 0, default 1 and 1
        MONAI ``GeneralizedDiceFocalLoss``'s ``lambda_gdl`` and ``lambda_focal``.
    alpha : float in [0, 1], sequence of K floats, or None; default None
    gamma : float >= 0, default 2
    smooth, smooth_nr, smooth_dr : float >= 0 or None
        GDL smoothing (see :func:`~segeval.losses.generalized_dice_loss`); ``smooth`` sets both, default 1e-5.
    include_background : default True
        Multi-class mode: False drops class 0 from the GDL term.
    ignore_index : int or None, default None
        Target value of pixels that count nowhere, like pixels where ``mask`` is 0 (both terms).
    aggregation : default "image"

    Returns
    -------
    Tensor
        ``none``: ``(B,)`` per image, or 0-d with ``aggregation="batch"``. 0 for a perfect prediction.

    Notes
    -----
    MONAI ``GeneralizedDiceFocalLoss(softmax=True)`` has segeval's GDL term, but its focal term is
    the sigmoid focal loss of each channel of the raw input against the one-hot target (one-vs-rest,
    MONAI 1.6.1), not the softmax focal of segeval's multi-class mode. In sigmoid mode with one
    channel MONAI's GDL scores the foreground channel alone; segeval's binary GDL weighs foreground and
    background (Sudre et al.'s binary form).

    References
    ----------
    Sudre et al., "Generalised Dice overlap as a deep learning loss function for highly unbalanced
    segmentations", DLMIA 2017, :DOI:`10.1007/978-3-319-67558-9_28`; Lin et al., "Focal loss for dense
    object detection", ICCV 2017, :DOI:`10.1109/ICCV.2017.324`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]]); y = torch.tensor([[0, 1, 1]])
    >>> round(generalized_dice_focal_loss(p, y, from_logits=False).item(), 6)
    0.0
    """
    gdl_options = generalized_dice_loss.validate(  # every option of the GDL, normalised (defaults included)
        mode=mode,
        from_logits=from_logits,
        smooth=smooth,
        smooth_nr=smooth_nr,
        smooth_dr=smooth_dr,
        include_background=include_background,
        ignore_index=ignore_index,
        aggregation=aggregation,
        reduction=Reduction.NONE,
    )
    gdl = generalized_dice_loss.raw(input, target, mask, **gdl_options)
    prep = prepare(
        input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="generalized_dice_focal"
    )
    focal = _focal_per_unit(prep, alpha, gamma, aggregation, "generalized_dice_focal")
    return reduce(lambda_dice * gdl + lambda_focal * focal, reduction)


class GeneralizedDiceFocalLoss(LossModule):
    """Module form of :func:`generalized_dice_focal_loss`; a sequence ``alpha`` is a registered buffer."""

    function = staticmethod(generalized_dice_focal_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = True,
        lambda_dice: float = 1.0,
        lambda_focal: float = 1.0,
        alpha: Any = None,
        gamma: float = 2.0,
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
            lambda_dice=lambda_dice,
            lambda_focal=lambda_focal,
            alpha=alpha,
            gamma=gamma,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            include_background=include_background,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )
