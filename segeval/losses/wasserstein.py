"""The generalised Wasserstein Dice loss (Fidon et al. 2017): a Dice score whose errors are weighted by a
distance between classes, so that confusing two similar classes costs less than confusing dissimilar ones.
"""

from __future__ import annotations

from typing import Any

import torch

from segeval.errors import UsageError
from segeval.losses._args import OPTIONAL_SMOOTH, LossModule, loss_function, smoothing
from segeval.losses._enums import Mode, Reduction
from segeval.losses._kernels import Prepared, prepare, reduce, safe_divide, spatial_dims

__all__ = ["GeneralizedWassersteinDiceLoss", "generalized_wasserstein_dice_loss"]


def _distance_matrix(argument: str, value: Any) -> torch.Tensor | None:
    """None (the 0/1 matrix), or a square matrix of finite non-negative distances with a zero diagonal."""
    if value is None:
        return None
    try:
        matrix = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        matrix = None
    if (
        matrix is None
        or isinstance(value, (str, bytes))
        or matrix.ndim != 2
        or matrix.shape[0] != matrix.shape[1]
        or matrix.shape[0] < 2
        or not bool(torch.isfinite(matrix).all())
        or bool((matrix < 0).any())
        or bool((matrix.diagonal() != 0).any())
    ):
        raise UsageError(
            f"Expected `{argument}` to be a square K x K matrix (K >= 2 classes) of finite non-negative "
            f"class distances with zeros on the diagonal, got {value!r}"
        )
    return matrix


_distance_matrix.is_tensor = True  # type: ignore[attr-defined]


def _class_view(prep: Prepared) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, K, P, *S)`` class probabilities and targets: the C classes (P = 1), or background and
    foreground of each binary/multilabel channel (K = 2, P = C). Targets are 0 at ignored pixels."""
    if prep.mode is Mode.MULTICLASS:
        return prep.p.unsqueeze(2), prep.g.unsqueeze(2)
    p, g = torch.stack([1.0 - prep.p, prep.p], dim=1), torch.stack([1.0 - prep.g, prep.g], dim=1)
    return p, (g if prep.valid is None else g * prep.valid.unsqueeze(1))


@loss_function("generalized_wasserstein_dice", distance_matrix=_distance_matrix, smooth=OPTIONAL_SMOOTH)
def generalized_wasserstein_dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = True,
    distance_matrix: torch.Tensor | None = None,
    smooth: float | None = None,
    smooth_nr: float | None = None,
    smooth_dr: float | None = None,
    ignore_index: int | None = None,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Generalised Wasserstein Dice loss (Fidon et al., BrainLes 2017), per image.

    .. math::

        W_i = \sum_{l,c} M_{lc}\, g_{il}\, p_{ic},\qquad
        TP = \sum_i \sum_l g_{il}\, M_{l0}\,(M_{l0} - W_i),\qquad
        L = 1 - \frac{2\,TP + s_{nr}}{2\,TP + \sum_i W_i + s_{dr}}

    :math:`W_i` is the Wasserstein distance between the predicted distribution :math:`p_i` and the
    one-hot target at pixel :math:`i` under the ground distance :math:`M`; class 0 is the background
    and :math:`\alpha_l = M_{l0}` (the paper's choice) weighs the true positives of class :math:`l`,
    so the background has none.

    Parameters
    ----------
    mode : default "multiclass"
        Multi-class: the C classes. Binary and multilabel: each channel is the two-class problem
        (background :math:`1 - p`, foreground :math:`p`) with a 2 x 2 matrix; multilabel averages
        the channels.
    distance_matrix : K x K sequence or tensor, optional
        :math:`M`: finite non-negative distances, zero diagonal (a registered buffer in the module).
        Default None: the 0/1 matrix :math:`M = 1 - I` (every confusion costs 1); ``segeval losses
        analyze/sweep/bench`` use this default. With it, :math:`W_i = 1 - p_{i,y_i}` and
        :math:`TP = \sum_{y_i \ne 0} p_{i,y_i}`.
    smooth, smooth_nr, smooth_dr : float >= 0 or None
        :math:`s_{nr}` and :math:`s_{dr}` (MONAI's names and default, 1e-5); ``smooth`` sets both, and
        giving it with either of the others is a usage error.
    ignore_index : int or None, default None
        Target value of pixels that count nowhere, like pixels where ``mask`` is 0: their :math:`W_i`
        and true positives are 0.

    Returns
    -------
    Tensor
        In :math:`[0, 1]` for distances in :math:`[0, 1]`; ``none``: ``(B,)`` per image. 0 for a perfect
        prediction; an image without foreground scores ~0 when predicted empty and ~1 otherwise.

    Notes
    -----
    :math:`W_i` is exact for one-hot targets; for soft targets segeval uses the same bilinear form,
    which is the transport cost of the independent coupling, an upper bound of the Wasserstein
    distance. MONAI ``GeneralizedWassersteinDiceLoss`` (``weighting_mode="default"``) sets
    :math:`\alpha_l = 1` for every foreground class and computes :math:`TP = \sum_i \alpha_{y_i}(1 - W_i)`:
    the same value whenever :math:`M_{l0} = 1` for every foreground class (the 0/1 matrix, and
    the BraTS matrix of the paper). MONAI's ``weighting_mode="GDL"`` (class weights from volumes,
    Tilborghs et al. 2022) is not implemented.

    References
    ----------
    Fidon et al., "Generalised Wasserstein Dice Score for Imbalanced Multi-class Segmentation using
    Holistic Convolutional Networks", BrainLes 2017 (MICCAI workshop), LNCS 10670,
    :DOI:`10.1007/978-3-319-75238-9_6`, https://arxiv.org/abs/1707.00478.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.5, 1.0]]])  # (B=1, C=3, W=3)
    >>> y = torch.tensor([[0, 1, 2]])
    >>> # M = 1 - I: W = (0, 0.5, 0); TP = 0.5 + 1; L = 1 - 3 / (3 + 0.5)
    >>> round(generalized_wasserstein_dice_loss(p, y, from_logits=False, smooth=0).item(), 6)
    0.142857
    >>> far = [[0, 1, 1], [1, 0, 0.2], [1, 0.2, 0]]   # classes 1 and 2 are close: W_1 = 0.1
    >>> round(generalized_wasserstein_dice_loss(p, y, from_logits=False, smooth=0, distance_matrix=far).item(), 6)
    0.025
    """
    prep = prepare(
        input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="generalized_wasserstein_dice"
    )
    p, g = _class_view(prep)
    k = p.shape[1]
    if distance_matrix is None:
        m = 1.0 - torch.eye(k, dtype=p.dtype, device=p.device)
    elif distance_matrix.shape != (k, k):
        raise UsageError(
            f"generalized_wasserstein_dice: expected `distance_matrix` of shape ({k}, {k}) for {k} classes, "
            f"got {tuple(distance_matrix.shape)}",
            hint="binary and multilabel modes score each channel as two classes (background, foreground): 2 x 2",
        )
    else:
        m = distance_matrix.to(device=p.device, dtype=p.dtype)
    cost = torch.einsum("lc,bc...->bl...", m, p)  # cost[l] = sum_c M[l, c] p_c
    w = (g * cost).sum(1)  # (B, P, *S)
    alpha = m[:, 0].reshape(1, k, *([1] * (g.ndim - 2)))
    tp_map = (g * alpha * (alpha - w.unsqueeze(1))).sum(1)
    dims = spatial_dims(w)
    tp, error = tp_map.sum(dims), w.sum(dims)  # (B, P)
    nr, dr = smoothing(smooth, smooth_nr, smooth_dr, default=1e-5)
    score = safe_divide(2.0 * tp + nr, 2.0 * tp + error + dr, 1.0)
    return reduce((1.0 - score).mean(-1), reduction)


class GeneralizedWassersteinDiceLoss(LossModule):
    """Module form of :func:`generalized_wasserstein_dice_loss`; the distance matrix is a registered buffer."""

    function = staticmethod(generalized_wasserstein_dice_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = True,
        distance_matrix: Any = None,
        smooth: float | None = None,
        smooth_nr: float | None = None,
        smooth_dr: float | None = None,
        ignore_index: int | None = None,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            distance_matrix=distance_matrix,
            smooth=smooth,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            ignore_index=ignore_index,
            reduction=reduction,
        )
