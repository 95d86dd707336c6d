"""Skeleton recall loss (Kirchhoff et al., ECCV 2024): the soft recall of the target's tubed skeleton.

The skeleton is computed from the target on the CPU, without gradient, with scikit-image's
``skeletonize`` (Lee et al.'s thinning, 2-D and 3-D), then thickened into a tube; the loss is linear
in the prediction, so it costs one product and two sums on the input's device.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from segeval.losses._args import LossModule, loss_function
from segeval.losses._distance import add_transform_time
from segeval.losses._enums import Mode, Reduction
from segeval.losses._kernels import Prepared, prepare, reduce, safe_divide, spatial_dims

__all__ = ["SkeletonRecallLoss", "skeleton_recall_loss", "tubed_skeleton"]


def _tube(foreground: np.ndarray) -> np.ndarray:
    """Skeleton of one boolean image, dilated twice by the face-connected cross, kept inside the foreground."""
    from scipy.ndimage import binary_dilation
    from skimage.morphology import skeletonize

    if not foreground.any():
        return np.zeros(foreground.shape, dtype=bool)
    skeleton = skeletonize(foreground, method="lee").astype(bool)
    return binary_dilation(skeleton, iterations=2) & foreground


def tubed_skeleton(prep: Prepared) -> torch.Tensor:
    """The tubed skeleton of the target, ``(B, K, *S)`` in the compute dtype (no gradient).

    Multi-class: the skeleton of the union of the foreground classes, each tube pixel assigned to
    its class (``K = C - 1``, the paper's construction); binary and multilabel: one skeleton per
    channel (``K = C``). Targets are thresholded at 0.5 and are 0 at ignored pixels.
    """
    started = time.perf_counter()
    with torch.no_grad():
        hard = (prep.g > 0.5).cpu().numpy()
        if prep.mode is Mode.MULTICLASS:
            classes = hard[:, 1:]
            union = classes.any(axis=1)
            tubes = np.stack([_tube(image) for image in union])[:, None] & classes
        else:
            tubes = np.stack([np.stack([_tube(channel) for channel in image]) for image in hard])
        result = torch.from_numpy(tubes).to(device=prep.g.device, dtype=prep.g.dtype)
    add_transform_time(time.perf_counter() - started)  # the CPU share that `segeval losses bench` reports
    return result


@loss_function("skeleton_recall")
def skeleton_recall_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    smooth: float = 1.0,
    ignore_index: int | None = None,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Skeleton recall loss (Kirchhoff et al., ECCV 2024), per image.

    .. math::

        L = 1 - \frac1K\sum_k \frac{\sum_i p_{ik}\, S_{ik} + s}{\sum_i S_{ik} + s}

    :math:`S_k` is the tubed skeleton of the target's class :math:`k`: the skeleton of the
    foreground (scikit-image ``skeletonize``, Lee's thinning, 2-D and 3-D), dilated twice by the
    face-connected cross (4-neighbourhood in 2-D, 6 in 3-D) and kept inside the foreground; in
    multi-class mode one skeleton of the union of the foreground classes, split by class (the
    paper's construction), and the background has none. It is computed on the CPU without gradient.

    Parameters
    ----------
    mode : default "binary"
        Multi-class: the foreground classes 1..C-1; binary and multilabel: every channel.
    smooth : float >= 0, default 1
        :math:`s` (the authors'). A class without foreground has recall 1 (contributes 0).
    ignore_index : int or None, default None
        Target value of pixels that count nowhere, like pixels where ``mask`` is 0: the target is 0
        there before the skeleton is taken, and the prediction there does not count.

    Returns
    -------
    Tensor
        In :math:`[0, 1]`; ``none``: ``(B,)`` per image (mean over its classes). 0 when the
        prediction covers the skeleton, whatever it does elsewhere: the authors add it to CE + Dice
        (weight 1), which penalise false positives.

    Notes
    -----
    The authors' nnU-Net code returns :math:`-\text{recall}` (minimum -1); segeval returns
    :math:`1 - \text{recall}` (minimum 0), the same gradient.

    References
    ----------
    Kirchhoff, Ulrich, Rokuss, Wald, Isensee, Maier-Hein, "Skeleton recall loss for connectivity
    conserving and resource efficient segmentation of thin tubular structures", ECCV 2024,
    https://arxiv.org/abs/2404.03010.

    Examples
    --------
    >>> import torch
    >>> g = torch.zeros(1, 1, 5, 7); g[0, 0, 2, 1:6] = 1.0                # a line: its own skeleton and tube
    >>> p = g.clone(); p[0, 0, 2, 1:3] = 0.0                             # misses 2 of its 5 pixels
    >>> round(skeleton_recall_loss(p, g, from_logits=False).item(), 6)   # 1 - (3 + 1) / (5 + 1)
    0.333333
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="skeleton_recall")
    skeleton = tubed_skeleton(prep)
    p = prep.masked(prep.p)
    if prep.mode is Mode.MULTICLASS:
        p = p[:, 1:]
    dims = spatial_dims(p)
    recall = safe_divide((p * skeleton).sum(dims) + smooth, skeleton.sum(dims) + smooth, 1.0)
    return reduce(1.0 - recall.mean(1), reduction)


class SkeletonRecallLoss(LossModule):
    """Module form of :func:`skeleton_recall_loss` (CPU skeleton of the target on every call)."""

    function = staticmethod(skeleton_recall_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        smooth: float = 1.0,
        ignore_index: int | None = None,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode, from_logits=from_logits, smooth=smooth, ignore_index=ignore_index, reduction=reduction
        )
