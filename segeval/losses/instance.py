"""Blob loss (Kofler et al., IPMI 2023): a region loss per connected component of the target.

The components are labelled on the CPU without gradient (connected-components-3d, full connectivity:
8 neighbours in 2-D, 26 in 3-D); the per-component soft counts are segment sums on the input's device,
so the cost does not grow with the number of components.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from segeval.errors import UsageError
from segeval.losses._args import LossModule, loss_function, number
from segeval.losses._distance import add_transform_time
from segeval.losses._enums import Aggregation, Mode, Reduction
from segeval.losses._kernels import dice_score, prepare, reduce, region_maps, safe_divide

__all__ = ["BlobLoss", "blob_loss", "label_components"]


def label_components(masks: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """Connected components of boolean masks ``(B, K, *S)``: labels ``1..n`` per image and channel (0 outside).

    Returns the labels (long, on the masks' device) and the number of components of each
    ``(image, channel)`` in row-major order. Full connectivity (a pixel touches every pixel of its
    3 x 3 or 3 x 3 x 3 neighbourhood).
    """
    import cc3d

    started = time.perf_counter()
    host = masks.detach().cpu().numpy().astype(bool)
    if host.ndim - 2 not in (1, 2, 3):
        raise UsageError(f"blob: expected 1-D, 2-D or 3-D images, got {host.ndim - 2} spatial axes")
    connectivity = {1: 4, 2: 8, 3: 26}[host.ndim - 2]  # cc3d reads 1-D as a 1 x N image
    labels = np.zeros(host.shape, dtype=np.int64)
    counts = []
    for b in range(host.shape[0]):
        for k in range(host.shape[1]):
            image = host[b, k] if host.ndim > 3 else host[b, k][None]
            found, n = cc3d.connected_components(image, connectivity=connectivity, return_N=True)
            labels[b, k] = found.reshape(host.shape[2:])
            counts.append(int(n))
    add_transform_time(time.perf_counter() - started)  # the CPU share that `segeval losses bench` reports
    return torch.from_numpy(labels).to(masks.device), counts


def _blob_term(p: torch.Tensor, g: torch.Tensor, smooth: float) -> torch.Tensor:
    r"""Per image ``(B,)``: the mean over its components :math:`n` of :math:`1 - \mathrm{Dice}(p \mu_n, g_n)`.

    :math:`\mu_n` keeps component :math:`n` and the background of its channel (the other components
    are left out), :math:`g_n` is the target on component :math:`n`. An image without components gives 0.
    """
    batch, channels = p.shape[:2]
    labels, counts = label_components(g > 0.5)
    units = batch * channels
    total = sum(counts)
    # segment ids: component n of unit u -> offset[u] + n - 1; the background of unit u -> total + u
    offsets = torch.tensor(np.concatenate([[0], np.cumsum(counts)[:-1]]), dtype=torch.long, device=p.device)
    flat_labels = labels.reshape(units, -1)
    unit = torch.arange(units, device=p.device).unsqueeze(1)
    ids = torch.where(flat_labels > 0, offsets.unsqueeze(1) + flat_labels - 1, total + unit).reshape(-1)
    segments = total + units

    def segment_sum(x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(segments, dtype=x.dtype, device=x.device).index_add(0, ids, x.reshape(-1))

    size_p, size_g, tp = segment_sum(p), segment_sum(g), segment_sum(p * g)
    owner = torch.repeat_interleave(torch.arange(units, device=p.device), torch.tensor(counts, device=p.device))
    background_p = size_p[total:][owner]  # prediction on the background of the component's channel
    dice = safe_divide(2.0 * tp[:total] + smooth, background_p + size_p[:total] + size_g[:total] + smooth, 1.0)
    image = owner // channels
    per_image = torch.zeros(batch, dtype=p.dtype, device=p.device).index_add(0, image, 1.0 - dice)
    number_of = torch.zeros(batch, dtype=p.dtype, device=p.device).index_add(0, image, torch.ones_like(dice))
    return per_image / number_of.clamp(min=1.0)


@loss_function("blob", lambda_global=number(low=0), lambda_blob=number(low=0))
def blob_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    lambda_global: float = 2.0,
    lambda_blob: float = 1.0,
    smooth: float = 1e-5,
    include_background: bool = True,
    ignore_index: int | None = None,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Blob loss (Kofler et al., IPMI 2023) with soft Dice as the base loss, per image.

    .. math::

        L = \lambda_{global}\,\big(1 - \overline{\mathrm{Dice}}(p, g)\big)
          + \lambda_{blob}\,\frac1N\sum_{n=1}^{N}\big(1 - \mathrm{Dice}(p \circ \mu_n,\ g_n)\big)

    where :math:`n` runs over the connected components of the target (per foreground channel), :math:`g_n`
    is the target restricted to component :math:`n` and :math:`\mu_n` masks out the channel's other
    components (it keeps component :math:`n` and the background), so that every lesion weighs the
    same whatever its size, and a missed small lesion costs as much as a missed large one.
    :math:`\mathrm{Dice}(x, y) = (2\sum xy + s)/(\sum x + \sum y + s)`; the global term is the mean
    soft Dice over the kept classes (:func:`~segeval.losses.dice_loss`).

    Parameters
    ----------
    lambda_global, lambda_blob : float >= 0, default 2 and 1
        The paper's :math:`\alpha` and :math:`\beta` (its recommended 2 and 1).
    smooth : float >= 0, default 1e-5
        :math:`s` of both Dice terms.
    include_background : default True
        Multi-class mode: False drops class 0 from the global term; components are always taken of the
        foreground classes 1..C-1 (binary and multilabel: of every channel).
    ignore_index : int or None, default None
        Target value of pixels that count nowhere, like pixels where ``mask`` is 0: prediction and
        target are 0 there before the components are labelled, and they count in no sum.

    Returns
    -------
    Tensor
        ``none``: ``(B,)`` per image; an image without components has blob term 0. 0 for a perfect
        prediction.

    Notes
    -----
    Components are labelled in the thresholded target (:math:`g > 0.5`) with full connectivity
    (8 neighbours in 2-D, 26 in 3-D; connected-components-3d), on the CPU without gradient. The paper also pairs the blob term
    with other base losses (BCE, Tversky); segeval implements the soft Dice form.

    References
    ----------
    Kofler et al., "blob loss: instance imbalance aware loss functions for semantic segmentation",
    IPMI 2023, :DOI:`10.1007/978-3-031-34048-2_58`, https://arxiv.org/abs/2205.08209.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[[1.0, 1.0, 1.0, 0.0, 0.0, 1.0]]])   # two blobs: 3 px and 1 px
    >>> p = torch.tensor([[[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]]])   # the small blob is missed
    >>> # global Dice 6/7; blob 1: Dice 6/6 (blob 2 masked out); blob 2: Dice 0/1 (blob 1 masked out)
    >>> round(blob_loss(p, g, from_logits=False, smooth=0).item(), 6)   # 2 (1 - 6/7) + (0 + 1) / 2
    0.785714
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="blob")
    p, g, _ = region_maps(prep, include_background)
    global_term = 1.0 - dice_score(p, g, Aggregation.IMAGE, smooth).mean(1)
    foreground = 1 if prep.mode is Mode.MULTICLASS else 0
    p_fg, g_fg = prep.masked(prep.p)[:, foreground:], prep.g[:, foreground:]
    return reduce(lambda_global * global_term + lambda_blob * _blob_term(p_fg, g_fg, smooth), reduction)


class BlobLoss(LossModule):
    """Module form of :func:`blob_loss` (CPU connected components of the target on every call)."""

    function = staticmethod(blob_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        lambda_global: float = 2.0,
        lambda_blob: float = 1.0,
        smooth: float = 1e-5,
        include_background: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            lambda_global=lambda_global,
            lambda_blob=lambda_blob,
            smooth=smooth,
            include_background=include_background,
            ignore_index=ignore_index,
            reduction=reduction,
        )
