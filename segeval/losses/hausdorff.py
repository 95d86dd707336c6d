"""Hausdorff-distance losses beyond ``hausdorff_dt``: its log form, and the erosion-based loss.

Both follow Karimi & Salcudean (IEEE TMI 2019), who estimate the Hausdorff distance from the error map
:math:`(p - g)^2` in three ways (distance transforms, erosions, convolutions). ``log_hausdorff_dt``
is :math:`\\ln(1 + L_{HD\\text{-}DT})` per image and class, with the distance maps of
:func:`~segeval.losses.hausdorff_dt_loss` (CPU transforms); ``erosion_hausdorff`` erodes the error map
with convolutions, in torch on the input's device, no CPU transform.

Ignored pixels (``ignore_index``, ``mask``): prediction and target are set to 0 there before the
distance transforms or the erosions, and the per-pixel terms are 0 there; means run over the counted
pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from segeval.errors import UsageError
from segeval.losses._args import LossModule, integer, loss_function, number
from segeval.losses._enums import Mode, Reduction
from segeval.losses._kernels import prepare, reduce, region_maps, spatial_dims
from segeval.losses.boundary import hausdorff_dt_terms

__all__ = ["ErosionHausdorffLoss", "LogHausdorffDTLoss", "erosion_hausdorff_loss", "log_hausdorff_dt_loss"]


@loss_function("log_hausdorff_dt", alpha=number(low=0, low_open=True))
def log_hausdorff_dt_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    alpha: float = 2.0,
    spacing: float | tuple[float, ...] | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Log Hausdorff-distance loss: :math:`\ln(1 + L_{HD\text{-}DT})` per image and class.

    .. math::

        L = \ln\Big(1 + \frac{1}{|\Omega|}\sum_{\Omega}(p - g)^2 \circ \big(d_p^{\alpha} + d_g^{\alpha}\big)\Big)

    with :math:`d_g`, :math:`d_p` the unsigned distances to the boundaries of the target and of the
    thresholded prediction :math:`p > 0.5` (:func:`~segeval.losses.hausdorff_dt_loss`, CPU distance
    transforms, no gradient through :math:`d_p`). The logarithm compresses the large values the
    squared distances give early in training.

    Parameters
    ----------
    alpha : float > 0, default 2
    spacing : float or sequence, optional
        Pixel spacing in array-axis order; distances are in its units.
    include_background : default True
        Multi-class mode: False drops class 0 (MONAI's ``LogHausdorffDTLoss`` defaults to False).
    ignore_index : int or None, default None
        Target value of pixels that count nowhere, like pixels where ``mask`` is 0.

    Returns
    -------
    Tensor
        Mean over images and kept classes of the per-image-and-class values; ``none``: ``(B, K)``.
        0 for a perfect prediction.

    Notes
    -----
    MONAI ``LogHausdorffDTLoss`` takes the logarithm after its reduction: its ``none`` output is
    this loss's ``none`` (as ``(B, K, 1, ..., 1)``), and its ``mean`` equals segeval's for one image
    and one class; for more it is :math:`\ln(1 + \text{mean})`, not the mean of the logarithms.

    References
    ----------
    Karimi & Salcudean, "Reducing the Hausdorff distance in medical image segmentation with
    convolutional neural networks", IEEE TMI 39(2), 2020, :DOI:`10.1109/TMI.2019.2930068`,
    https://arxiv.org/abs/1904.10030.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[[0.0, 1.0, 1.0, 0.0]]])
    >>> p = torch.tensor([[[0.0, 1.0, 0.6, 0.0]]])   # hausdorff_dt: 0.16 * (1 + 1) / 4 = 0.08
    >>> round(log_hausdorff_dt_loss(p, g, from_logits=False).item(), 6)   # ln(1.08)
    0.076961
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="log_hausdorff_dt")
    terms, valid = hausdorff_dt_terms(prep, include_background, spacing, alpha, "log_hausdorff_dt")
    dims = spatial_dims(terms)
    if valid is None:
        per_class = terms.mean(dims)
    else:
        per_class = terms.sum(dims) / valid.expand_as(terms).sum(dims).clamp(min=1.0)
    return reduce(torch.log1p(per_class), reduction)


class LogHausdorffDTLoss(LossModule):
    """Module form of :func:`log_hausdorff_dt_loss` (CPU distance transforms on every call)."""

    function = staticmethod(log_hausdorff_dt_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        alpha: float = 2.0,
        spacing: float | tuple[float, ...] | None = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            alpha=alpha,
            spacing=spacing,
            include_background=include_background,
            ignore_index=ignore_index,
            reduction=reduction,
        )


def _cross_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of each pixel and its face neighbours (the cross: 5 pixels in 2-D, 7 voxels in 3-D), zero padding.

    The convolution with the normalised cross, written as shifted sums: the same values as ``conv2d``/``conv3d``,
    an order of magnitude faster forward and backward for this one-channel kernel on the CPU.
    """
    spatial = x.ndim - 2
    padded = F.pad(x, (1, 1) * spatial)
    centre = padded[(slice(None), slice(None), *([slice(1, -1)] * spatial))]
    total = centre
    for axis in range(2, x.ndim):
        inner = [slice(None), slice(None), *([slice(1, -1)] * spatial)]
        for start in (0, 2):
            inner[axis] = slice(start, start + x.shape[axis])
            total = total + padded[tuple(inner)]
    return total / (2 * spatial + 1)


@loss_function("erosion_hausdorff", alpha=number(low=0), erosions=integer(low=1))
def erosion_hausdorff_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    alpha: float = 2.0,
    erosions: int = 10,
    include_background: bool = True,
    ignore_index: int | None = None,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Erosion-based Hausdorff loss (Karimi & Salcudean, TMI 2019), 2-D and 3-D.

    .. math::

        L_{ER} = \frac{1}{|\Omega|}\sum_{k=1}^{K}\sum_{\Omega} \big(\Delta \ominus_k B\big)\, k^{\alpha},
        \qquad \Delta = (p - g)^2

    :math:`\Delta \ominus_k B` is :math:`k` successive soft erosions of the error map by the
    face-connected cross :math:`B`. One soft erosion of a map :math:`X`: convolve with :math:`B`
    normalised to sum 1 (zero padding), subtract 0.5 and clip at 0 (soft thresholding: a pixel
    survives when its neighbourhood's mean error exceeds 0.5), then rescale to :math:`[0, 1]` by the
    minimum and maximum of its image and class (left as is when they are equal). The deepest
    errors survive the most erosions and weigh :math:`k^\alpha`, so large misses cost much more
    than a thin error band along the boundary.

    Parameters
    ----------
    alpha : float >= 0, default 2
        Exponent of the weight :math:`k^\alpha` of erosion :math:`k`.
    erosions : int >= 1, default 10
        :math:`K`, the number of erosions (kornia's default).
    include_background : default True
        Multi-class mode: False drops class 0.
    ignore_index : int or None, default None
        Target value of pixels that count nowhere, like pixels where ``mask`` is 0.

    Returns
    -------
    Tensor
        Mean over batch, kept classes and counted pixels; ``none``: ``(B, K, *S)``. 0 for a perfect
        prediction. A unitless surrogate, not a distance.

    Notes
    -----
    The rescaling makes every erosion that keeps something worth the same whatever the size of the
    errors, so the loss is flat (zero gradient) over stretches of predictions whose errors erode
    alike, and drops to 0 once no neighbourhood mean exceeds 0.5: pair it with a region loss, as
    the paper does (:math:`L_{HD} + \lambda L_{DSC}`). The cross in 3-D has 7 voxels (each weighing
    1/7), so a one-slice volume does not give the 2-D value. kornia ``HausdorffERLoss`` /
    ``HausdorffERLoss3D`` build the same map (they take probabilities and class-index targets, every
    class included); its ``mean`` is this loss's in multi-class mode with probabilities.

    References
    ----------
    Karimi & Salcudean, "Reducing the Hausdorff distance in medical image segmentation with
    convolutional neural networks", IEEE TMI 39(2), 2020, :DOI:`10.1109/TMI.2019.2930068`,
    https://arxiv.org/abs/1904.10030.

    Examples
    --------
    >>> import torch
    >>> g = torch.zeros(1, 1, 5, 5); p = g.clone(); p[0, 0, 1:4, 1:4] = 1.0   # a 3 x 3 false positive
    >>> # erosion 1: cross means 1 (centre), 0.8 (sides), 0.6 (corners) -> minus 0.5 -> rescaled 1, 0.6, 0.2
    >>> # erosion 2: only the centre's mean (0.68) exceeds 0.5 -> rescaled 1, weight 2**2; erosion 3: nothing
    >>> round(erosion_hausdorff_loss(p, g, from_logits=False).item(), 6)        # (1 + 4 * 0.6 + 4 * 0.2 + 4) / 25
    0.328
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="erosion_hausdorff")
    p, g, valid = region_maps(prep, include_background)
    ndim = p.ndim - 2
    if ndim not in (2, 3):
        raise UsageError(f"erosion_hausdorff: expected 2-D or 3-D images, got {ndim} spatial axes")
    shape = p.shape
    bound = ((p - g) ** 2).reshape(-1, 1, *shape[2:])
    dims = tuple(range(2, bound.ndim))
    eroded = torch.zeros_like(bound)
    for k in range(1, erosions + 1):
        mean = _cross_mean(bound)
        soft = torch.where(mean < 0.5, torch.zeros_like(mean), mean - 0.5)
        low = soft.amin(dims, keepdim=True)
        span = soft.amax(dims, keepdim=True) - low
        rescale = span != 0
        bound = torch.where(rescale, (soft - low) / torch.where(rescale, span, torch.ones_like(span)), soft)
        eroded = eroded + bound * float(k) ** alpha
    eroded = eroded.reshape(shape)
    if valid is None:
        return reduce(eroded, reduction)
    eroded = eroded * valid
    return reduce(eroded, reduction, valid.expand_as(eroded).sum())


class ErosionHausdorffLoss(LossModule):
    """Module form of :func:`erosion_hausdorff_loss` (torch convolutions on the input's device)."""

    function = staticmethod(erosion_hausdorff_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        alpha: float = 2.0,
        erosions: int = 10,
        include_background: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            alpha=alpha,
            erosions=erosions,
            include_background=include_background,
            ignore_index=ignore_index,
            reduction=reduction,
        )
