"""Boundary-based losses: the boundary (level-set) loss, the Hausdorff-distance loss and a shape-aware CE.

All three weight the prediction with distance maps computed **on the CPU** with
:func:`scipy.ndimage.distance_transform_edt` (``sampling=spacing``), once per call and without
gradient; on CUDA the target (and, for ``hausdorff_dt`` and ``shape_aware``, the thresholded
prediction) is copied to the host and the maps back. Distances are in the units of ``spacing``
(pixels when it is None; give it in array-axis order). A mask without interface (empty, or covering
the whole image) has no boundary: its distance maps are 0 (MONAI's rule; scipy alone would measure
distances to an implicit border for an all-true mask).

Ignored pixels (``ignore_index``, ``mask``): prediction and target are set to 0 there before the
distance maps and contours are built (so the maps see them as background), and the per-pixel terms
are 0 there; ``mean`` divides by the counted elements.

``reduction="none"`` returns element-wise values, ``(B, K, *S)`` for ``boundary`` and
``hausdorff_dt`` (``K`` channels kept), and per-pixel values for ``shape_aware`` (CE shapes).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from segeval.losses._args import LossModule, loss_function, number
from segeval.losses._distance import (
    boundary_distance_map,
    contour,
    distance_to_mask,
    signed_distance_map,
)
from segeval.losses._enums import Mode, Reduction
from segeval.losses._kernels import categorical, counted, pixel_output, prepare, reduce, region_maps

__all__ = [
    "BoundaryLoss",
    "HausdorffDTLoss",
    "ShapeAwareLoss",
    "boundary_loss",
    "hausdorff_dt_loss",
    "shape_aware_loss",
]


@loss_function("boundary")
def boundary_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    spacing: float | tuple[float, ...] | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Boundary loss (Kervadec et al., MIDL 2019 / MedIA 2021).

    .. math::

        L_B = \frac{1}{|\Omega|}\sum_{q\in\Omega} \phi_G(q)\, s_\theta(q),\qquad
        \phi_G = d_{out}\,[\neg G] - (d_{in} - 1)\,[G]

    per image and class, with :math:`s_\theta` the sigmoid/softmax probabilities,
    :math:`d_{out}` the distance of a background pixel to the object and :math:`d_{in}` the
    distance of an object pixel to the background (both Euclidean distance transforms of the
    target, scaled by ``spacing``).

    Parameters
    ----------
    mode : default "binary"
        Binary: the foreground channel only (the reference's ``idc=[1]``).
    spacing : float or sequence, optional
        Pixel spacing in array-axis order; scales :math:`\phi_G`. The ``- 1`` of the inner term is
        the reference code's, in units of ``spacing``, whatever the spacing.
    include_background : default True
        Multi-class mode: False drops class 0 (the reference used all classes on ACDC).
    ignore_index, mask : optional
        Ignored pixels: see the module docstring (target 0 before the transform, terms 0).

    Returns
    -------
    Tensor
        Mean over batch, classes and pixels; ``none``: ``(B, K, *S)``. **Negative** for good
        predictions: the minimum is reached by putting all probability inside the object
        (:math:`\phi_G \le 0` there). An empty or full target class contributes 0.

    Notes
    -----
    The papers use it together with a regional loss (GDL or Dice) whose weight is shifted towards
    the boundary term during training (the repository's recipe moves 0.01 per epoch); that schedule
    lies outside a single loss evaluation — combine the terms yourself. :math:`\phi_G` is
    computed from the target on the CPU without gradient (precompute it in the data loader for
    speed if you reimplement the loss). SegLoss ``BDLoss`` needs the map passed in.

    References
    ----------
    Kervadec et al., "Boundary loss for highly unbalanced segmentation", MIDL 2019 / Medical Image
    Analysis 67 (2021), :DOI:`10.1016/j.media.2020.101851`.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[[0.0, 1.0, 1.0, 1.0, 0.0, 0.0]]])      # phi = (1, 0, -1, 0, 1, 2)
    >>> boundary_loss(g, g, from_logits=False).item()              # (0 - 1 + 0) / 6
    -0.1666666716337204
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="boundary")
    probs, g, _ = region_maps(prep, include_background)
    phi = signed_distance_map(g > 0.5, spacing, dtype=probs.dtype)
    loss = phi * probs
    return reduce(loss, reduction, counted(prep, loss))


class BoundaryLoss(LossModule):
    """Module form of :func:`boundary_loss` (CPU distance transform of the target on every call)."""

    function = staticmethod(boundary_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        spacing: float | tuple[float, ...] | None = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            spacing=spacing,
            include_background=include_background,
            ignore_index=ignore_index,
            reduction=reduction,
        )


@loss_function("hausdorff_dt", alpha=number(low=0, low_open=True))
def hausdorff_dt_loss(
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
    r"""Hausdorff-distance loss, distance-transform version (Karimi & Salcudean, TMI 2019).

    .. math::

        L_{HD\text{-}DT} = \frac{1}{|\Omega|}\sum_{\Omega}(p - g)^2 \circ \big(d_p^{\alpha} + d_g^{\alpha}\big)

    :math:`d_g` and :math:`d_p` are the unsigned distances to the boundary of the target and of the
    thresholded prediction :math:`p > 0.5`, i.e. :math:`\mathrm{EDT}(M) + \mathrm{EDT}(\neg M)`,
    recomputed at every call, with no gradient through :math:`d_p`.

    Parameters
    ----------
    alpha : float > 0, default 2
        The paper's :math:`\alpha`.
    spacing : float or sequence, optional
        Pixel spacing in array-axis order; distances (and the loss, as distance^alpha) scale with it.
    include_background : default True
        Multi-class mode: False drops class 0. MONAI ``HausdorffDTLoss`` defaults to False (unlike
        its ``DiceLoss``); segeval keeps one default for every loss.
    ignore_index, mask : optional
        Ignored pixels: see the module docstring (prediction and target 0 before the transforms).

    Returns
    -------
    Tensor
        Mean over batch, classes and pixels; ``none``: ``(B, K, *S)``. 0 for a perfect prediction.

    Notes
    -----
    Multi-class probabilities are thresholded per class at 0.5 (as MONAI does), not by argmax.
    The paper also has erosion- and convolution-based variants (not implemented) and trains with
    :math:`L_{HD} + \lambda L_{DSC}`; combine the terms yourself. LIVIAETS ``HausdorffLoss`` uses the
    inside-only EDT of the target and of the argmax prediction, a different map.

    References
    ----------
    Karimi & Salcudean, "Reducing the Hausdorff distance in medical image segmentation with
    convolutional neural networks", IEEE TMI 39(2), 2020, :DOI:`10.1109/TMI.2019.2930068`.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[[0.0, 1.0, 1.0, 0.0]]])
    >>> p = torch.tensor([[[0.0, 1.0, 0.6, 0.0]]])   # thresholds to g, d = (1, 1, 1, 1)
    >>> round(hausdorff_dt_loss(p, g, from_logits=False).item(), 6)   # 0.16 * (1 + 1) / 4
    0.08
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="hausdorff_dt")
    loss, _ = hausdorff_dt_terms(prep, include_background, spacing, alpha, "hausdorff_dt")
    return reduce(loss, reduction, counted(prep, loss))


def hausdorff_dt_terms(
    prep: Any, include_background: bool, spacing: Any, alpha: float, loss: str
) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""The per-pixel terms :math:`(p - g)^2 (d_p^\alpha + d_g^\alpha)` of every class map (0 where pixels count
    nowhere), and the map of pixels that count (``None``: all); shared by the plain and the log form."""
    probs, g, valid = region_maps(prep, include_background)
    d_g = boundary_distance_map(g > 0.5, spacing, dtype=probs.dtype, loss=loss)
    d_p = boundary_distance_map(probs.detach() > 0.5, spacing, dtype=probs.dtype, loss=loss)
    terms = (probs - g) ** 2 * (d_p**alpha + d_g**alpha)
    return (terms if valid is None else terms * valid), valid


class HausdorffDTLoss(LossModule):
    """Module form of :func:`hausdorff_dt_loss` (CPU distance transforms on every call)."""

    function = staticmethod(hausdorff_dt_loss)

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


def _contour_penalty(prep: Any, include_background: bool, spacing: Any) -> torch.Tensor:
    """:math:`E` in the categorical view's pixel shape ``(B, P, *S)`` (no gradient)."""
    with torch.no_grad():
        probs = prep.masked(prep.p.detach())  # 0 at ignored pixels (argmax: class 0 there)
        if prep.mode is Mode.MULTICLASS:
            predicted = F.one_hot(probs.argmax(1), prep.num_channels).movedim(-1, 1).bool()
        else:
            predicted = probs > 0.5
        gt_contour = contour(prep.hard_target())
        predicted_contour = contour(predicted)
        distance = distance_to_mask(gt_contour, spacing, dtype=prep.dtype, loss="shape_aware")
        e = torch.where(predicted_contour, distance, torch.zeros_like(distance))
        if prep.mode is Mode.MULTICLASS:
            if not include_background:
                e = e[:, 1:]
            return e.sum(1, keepdim=True)  # predicted classes partition the image: one term per pixel
        return e


@loss_function("shape_aware")
def shape_aware_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    spacing: float | tuple[float, ...] | None = None,
    include_background: bool = True,
    ignore_index: int | None = None,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Shape-aware cross entropy after Al Arif et al. (MICCAI-MSKI 2017), with segeval's contour construction.

    .. math::

        L = \frac1N \sum_i (1 + E_i)\,\ell^{CE}_i

    where :math:`E_i` is the distance from pixel :math:`i` to the ground-truth contour when
    :math:`i` lies on the predicted contour, and 0 elsewhere. The survey's form
    :math:`\sum_i CE + \sum_i E_i\, CE` is the same sum (its minus signs are a typo).

    Contour construction (not specified by the paper; no reference code exists):

    1. predicted masks: :math:`p > 0.5` per channel (binary/multilabel) or the argmax class
       (multi-class); target masks: :math:`g > 0.5`;
    2. contour of a mask = its pixels with at least one face neighbour (4-connectivity in 2-D,
       6 in 3-D) outside the mask, the region beyond the image border counting as outside;
    3. :math:`D_c` = Euclidean distance (scaled by ``spacing``) from every pixel to the nearest
       contour pixel of the target mask of the same class/channel;
    4. :math:`E_i = D_c(i)` if :math:`i` is on the contour of predicted class/channel :math:`c`,
       else 0; multi-class predicted masks partition the image, so each pixel has at most one term;
    5. a class/channel whose target has no contour (empty) contributes :math:`E = 0`;
       ``include_background=False`` (multi-class) sets :math:`E = 0` on class 0's contour.

    :math:`E` is recomputed from the current prediction at every call, on the CPU, without
    gradient; it only re-weights the per-pixel CE (BCE in binary/multilabel mode).

    Parameters
    ----------
    spacing : float or sequence, optional
        Pixel spacing in array-axis order; :math:`E` is in its units.
    ignore_index, mask : optional
        Ignored pixels: prediction and target 0 (multi-class: class 0, the background) before the
        contours; their CE terms are 0.

    Returns
    -------
    Tensor
        Plain mean; ``none``: per-pixel values (CE shapes). Equal to CE wherever the predicted and
        target contours coincide.

    Notes
    -----
    Jadon's survey defines :math:`E_i = D(\hat C, C_{GT})`, "the mean Euclidean distance from the
    predicted contour points to the GT contour", leaving open whether :math:`E` is per image or per
    pixel. segeval uses the per-pixel distance (pixels off the predicted contour get 0): it puts
    the extra weight where the contour is wrong. This is a documented construction, not a
    transcription of reference code. Xue et al. (AAAI 2020) "shape-aware organ segmentation"
    regresses signed distance maps and is a different loss.

    References
    ----------
    Al Arif, Knapp, Slabaugh, "Shape-aware deep convolutional neural network for vertebrae
    segmentation", MICCAI-MSKI 2017, :DOI:`10.1007/978-3-319-74113-0_2`.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]]])
    >>> p = torch.tensor([[[0.0, 0.4, 0.9, 0.9, 0.9, 0.0]]])  # predicted object: pixels 2-4
    >>> # predicted contour {2, 4}; target contour {2, 3}: E = (0, 0, 0, 0, 1, 0)
    >>> ce = torch.nn.functional.binary_cross_entropy(p, g, reduction="none")
    >>> expected = (ce.sum() + ce[0, 0, 4]) / 6
    >>> bool(torch.isclose(shape_aware_loss(p, g, from_logits=False), expected))
    True
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="shape_aware")
    logp, _, g = categorical(prep)
    pixel = -(g * logp).sum(1)  # (B, P, *S), 0 at ignored pixels
    e = _contour_penalty(prep, include_background, spacing)
    return reduce(pixel_output((1.0 + e) * pixel, mode), reduction, counted(prep, pixel))


class ShapeAwareLoss(LossModule):
    """Module form of :func:`shape_aware_loss` (CPU contour distances on every call)."""

    function = staticmethod(shape_aware_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        spacing: float | tuple[float, ...] | None = None,
        include_background: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            spacing=spacing,
            include_background=include_background,
            ignore_index=ignore_index,
            reduction=reduction,
        )
