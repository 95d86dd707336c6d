"""Wrappers around any catalog loss: deep supervision over several output scales, and a fixed mask.

They are ``torch.nn.Module`` s that call the wrapped loss (not catalog entries): the wrapped loss keeps
its own options, validation and conventions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from segeval.errors import UsageError
from segeval.losses._args import boolean, weights

__all__ = ["DeepSupervisionLoss", "MaskedLoss", "resize_target"]


def _shape(x: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in x.shape) + ")"


def resize_target(target: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """``target`` (or a mask) resized to the spatial ``size``, keeping its dtype and its channel axis (if any).

    Integer and boolean tensors (class indices, binary masks, ``ignore_index`` values) are resized with
    ``nearest-exact`` interpolation, so every value is one of the original values; floating tensors
    (one-hot or soft targets) with area pooling (the mean of the pixels each output pixel covers), so
    a one-hot target stays a probability distribution per pixel. ``size`` has one entry per spatial
    axis; the tensor is ``(B, *S)`` or ``(B, C, *S)`` with ``len(S) == len(size)``.
    """
    size = tuple(int(s) for s in size)
    channel_axis = target.ndim == len(size) + 2
    if not channel_axis and target.ndim != len(size) + 1:
        raise UsageError(
            f"expected a target of shape (B, *S) or (B, C, *S) with {len(size)} spatial axes, got {_shape(target)}"
        )
    if tuple(target.shape[-len(size) :]) == size:
        return target
    x = target if channel_axis else target.unsqueeze(1)
    if target.is_floating_point():
        resized = F.interpolate(x, size=size, mode="area")
    elif all(n % m == 0 for n, m in zip(x.shape[2:], size)):
        # nearest-exact takes source pixel floor((i + 1/2) f) = i f + floor(f/2) for an integer factor f: a strided view
        resized = x[
            (slice(None), slice(None), *(slice((n // m) // 2, None, n // m) for n, m in zip(x.shape[2:], size)))
        ]
    else:
        resized = F.interpolate(x.to(torch.float64), size=size, mode="nearest-exact").to(target.dtype)
    return resized if channel_axis else resized.squeeze(1)


def _weights(argument: str, value: Any) -> list[float]:
    """A 1-D sequence of finite non-negative weights with a positive sum (the catalog's validator)."""
    return weights()(argument, value).tolist()


def halving_weights(count: int) -> list[float]:
    """``1, 1/2, 1/4, ...`` for ``count`` scales."""
    return [0.5**i for i in range(count)]


class DeepSupervisionLoss(nn.Module):
    r"""Deep supervision: the weighted sum of one loss over outputs at several scales.

    .. math::

        L = \sum_{i=0}^{n-1} w_i\, \ell(x_i, \operatorname{resize}(y, x_i)),\qquad
        w_i \propto 2^{-i},\ \sum_i w_i = 1

    ``forward(outputs, target, mask=None)``: ``outputs`` is a sequence of network outputs, the full
    resolution first (the order of the weights); ``target`` is resized to each output's spatial size
    with :func:`resize_target` (``nearest-exact`` for integer targets, area pooling for one-hot and
    soft targets), and so is ``mask``. A sequence of targets (one per output, e.g. resized in the data
    loader) is used as given.

    Parameters
    ----------
    loss : nn.Module or callable
        Any catalog loss (``get_loss(...)``) or a callable ``loss(input, target)`` returning a
        tensor; with a ``mask`` it is called as ``loss(input, target, mask)``.
    weights : sequence of float >= 0, optional
        One weight per output; default ``1, 1/2, 1/4, ...`` (nnU-Net's halving). A sequence's length
        must match the number of outputs at every call.
    normalize : bool, default True
        Divide the weights by their sum (nnU-Net's choice: the total stays on the scale of one loss).
        ``normalize=False`` uses them as given.

    References
    ----------
    Lee, Xie, Gallagher, Zhang, Tu, "Deeply-supervised nets", AISTATS 2015,
    https://arxiv.org/abs/1409.5185; Isensee et al., "nnU-Net", Nature Methods 18 (2021),
    :DOI:`10.1038/s41592-020-01008-z` (the halving weights, normalised).

    Examples
    --------
    >>> import torch
    >>> from segeval.losses import get_loss
    >>> loss = DeepSupervisionLoss(get_loss("dice", mode="multiclass"))
    >>> outputs = [torch.randn(2, 3, 8, 8), torch.randn(2, 3, 4, 4), torch.randn(2, 3, 2, 2)]
    >>> target = torch.randint(0, 3, (2, 8, 8))
    >>> loss(outputs, target).shape        # (4/7) L_8x8 + (2/7) L_4x4 + (1/7) L_2x2
    torch.Size([])
    """

    def __init__(self, loss: Any, *, weights: Sequence[float] | None = None, normalize: bool = True) -> None:
        super().__init__()
        if not callable(loss):
            raise UsageError(f"DeepSupervisionLoss: expected `loss` to be a loss module or callable, got {loss!r}")
        self.loss = loss
        self.normalize = boolean("normalize", normalize)
        self.weights = None if weights is None else [float(w) for w in _weights("weights", weights)]

    def scale_weights(self, count: int) -> list[float]:
        """The weights used for ``count`` outputs (normalised unless ``normalize=False``)."""
        if self.weights is None:
            chosen = halving_weights(count)
        elif len(self.weights) != count:
            raise UsageError(
                f"DeepSupervisionLoss: {len(self.weights)} weights for {count} outputs",
                hint="give one weight per output, or weights=None for 1, 1/2, 1/4, ...",
            )
        else:
            chosen = self.weights
        total = sum(chosen)
        return [w / total for w in chosen] if self.normalize else list(chosen)

    def forward(
        self,
        outputs: Sequence[torch.Tensor],
        target: torch.Tensor | Sequence[torch.Tensor],
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The weighted sum over scales; each term is ``loss(output, target at that scale[, mask at that scale])``."""
        if isinstance(outputs, torch.Tensor) or len(outputs) == 0:
            raise UsageError("DeepSupervisionLoss: expected a non-empty sequence of outputs, one per scale")
        scale_weights = self.scale_weights(len(outputs))
        if isinstance(target, torch.Tensor):
            targets = [resize_target(target, output.shape[2:]) for output in outputs]
        elif len(target) == len(outputs):
            targets = list(target)
        else:
            raise UsageError(f"DeepSupervisionLoss: {len(target)} targets for {len(outputs)} outputs")
        total = None
        for output, scaled, w in zip(outputs, targets, scale_weights):
            if w == 0:
                continue
            if mask is None:
                term = self.loss(output, scaled)
            else:
                term = self.loss(output, scaled, resize_target(mask, output.shape[2:]))
            total = w * term if total is None else total + w * term
        if total is None:
            return outputs[0].new_zeros(())
        return total

    def extra_repr(self) -> str:
        return f"weights={'halving' if self.weights is None else self.weights}, normalize={self.normalize}"


class MaskedLoss(nn.Module):
    """A catalog loss restricted to a fixed region, e.g. the field of view of a scanner or a camera.

    ``MaskedLoss(loss, mask)`` stores ``mask`` as a registered buffer (it moves with ``.to()``/``.cuda()``
    and is saved in the ``state_dict``) and calls ``loss(input, target, mask & call_mask)``: pixels
    where the fixed mask, or the optional per-call mask, is 0 count nowhere, with the wrapped loss's
    own rule for ignored pixels (``docs/losses.md``, "Ignored pixels"). The fixed mask has the
    spatial shape of the images, ``(*S)``, or any shape the wrapped loss accepts for ``mask``
    (``(B, *S)``, ``(B, 1, *S)``, axes of size 1 broadcast).

    Examples
    --------
    >>> import torch
    >>> from segeval.losses import get_loss
    >>> field_of_view = torch.ones(4, 4, dtype=torch.bool); field_of_view[:, 0] = False
    >>> loss = MaskedLoss(get_loss("dice"), field_of_view)
    >>> x, y = torch.randn(2, 1, 4, 4), (torch.rand(2, 1, 4, 4) > 0.5).float()
    >>> bool(torch.equal(loss(x, y), get_loss("dice")(x, y, field_of_view.expand(2, 1, 4, 4))))
    True
    """

    mask: torch.Tensor

    def __init__(self, loss: Any, mask: torch.Tensor) -> None:
        super().__init__()
        if not callable(loss):
            raise UsageError(f"MaskedLoss: expected `loss` to be a loss module or callable, got {loss!r}")
        if not isinstance(mask, torch.Tensor):
            raise UsageError(f"MaskedLoss: expected `mask` to be a torch tensor, got {type(mask).__name__}")
        self.loss = loss
        self.register_buffer("mask", mask.detach() != 0)

    def combined_mask(self, input: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The fixed mask shaped ``(B | 1, 1, *S)`` for ``input``, and-ed with ``mask`` when given."""
        fixed = self.mask
        spatial = input.ndim - 2
        if fixed.ndim == spatial:
            fixed = fixed.reshape(1, 1, *fixed.shape)
        elif fixed.ndim == spatial + 1:
            fixed = fixed.unsqueeze(1)
        if mask is None:
            return fixed
        call = mask.to(fixed.device) != 0
        if call.ndim == spatial + 1:
            call = call.unsqueeze(1)
        return fixed & call

    def forward(self, input: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``loss(input, target, fixed mask & mask)``."""
        return self.loss(input, target, self.combined_mask(input, mask))
