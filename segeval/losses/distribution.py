"""Distribution-based losses: pixel-wise cross entropy and its re-weightings.

BCE, CE, NLL, weighted CE, balanced CE, TopK, focal and distance-map penalised CE. Each is a
function (``bce_loss`` …) followed by a thin module (``BCELoss`` …). Shapes per mode are documented
once in :mod:`segeval.losses`; all of these return per-pixel values with ``reduction="none"``:
``(B, *S)`` in multi-class mode, ``(B, C, *S)`` in binary (``C = 1``) and multilabel modes.

Binary and multilabel channels are read as two-class problems ``(1 - p, p)``: the two-class CE of a
sigmoid output is BCE, so CE, focal, TopK and DPCE share one per-pixel kernel across modes, and class
weights have ``K = 2`` entries (negative, positive) there and ``K = C`` entries in multi-class mode.

Ignored pixels (``ignore_index``, the per-call ``mask``) have no term, and ``mean`` divides by the
counted pixels (by the sum of their class weights for ``ce``, ``nll`` and multi-class ``wce``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from segeval.errors import UsageError
from segeval.losses._args import LossModule, loss_function, number, weights
from segeval.losses._distance import dpce_penalty_map
from segeval.losses._enums import Aggregation, Mode, Reduction
from segeval.losses._kernels import (
    Prepared,
    binary_class_weights,
    categorical,
    class_weight_vector,
    class_weight_view,
    counted,
    pixel_output,
    prepare,
    reduce,
    safe_divide,
)

__all__ = [
    "BCELoss",
    "BalancedCELoss",
    "CELoss",
    "DPCELoss",
    "FocalLoss",
    "NLLLoss",
    "TopKLoss",
    "WeightedCELoss",
    "balanced_ce_loss",
    "bce_loss",
    "ce_loss",
    "dpce_loss",
    "focal_loss",
    "nll_loss",
    "topk_loss",
    "wce_loss",
]


# --------------------------------------------------------------------------- helpers


def _pixel_ce(logp: torch.Tensor, g: torch.Tensor, w: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel ``-sum_k w_k g_k log p_k`` and its weight ``sum_k w_k g_k`` over the class axis 1."""
    wg = g if w is None else w * g
    return -(wg * logp).sum(1), wg.sum(1)


def _weights(
    weight: torch.Tensor | None, k: int, like: torch.Tensor, mode: Mode, loss: str, argument: str = "weight"
) -> torch.Tensor | None:
    if weight is None:
        return None
    return class_weight_view(weight.to(like), k, like.ndim, argument, mode, loss)


def _pos_weight_view(pos_weight: float | torch.Tensor | None, like: torch.Tensor, loss: str) -> torch.Tensor | float:
    """``pos_weight`` (one, or one per channel) shaped to broadcast over ``(B, C, *S)``; 1 when None."""
    if pos_weight is None:
        return 1.0
    if not isinstance(pos_weight, torch.Tensor):
        return pos_weight
    channels = like.shape[1]
    if pos_weight.numel() not in (1, channels):
        raise UsageError(
            f"{loss}: expected `pos_weight` to have 1 or {channels} entries (one per channel), got {pos_weight.numel()}"
        )
    return pos_weight.to(like).reshape(-1).expand(channels).reshape(1, channels, *([1] * (like.ndim - 2)))


def binary_cross_entropy(
    prep: Prepared, pos_weight: float | torch.Tensor | None, label_smoothing: float, loss: str
) -> torch.Tensor:
    """Element-wise ``-[b y ln p + (1 - y) ln(1 - p)]``, ``y = g(1 - e) + e/2``, 0 at ignored pixels."""
    g = prep.g if label_smoothing == 0 else prep.g * (1.0 - label_smoothing) + label_smoothing / 2.0
    b = _pos_weight_view(pos_weight, g, loss)
    return prep.masked(-(b * g * prep.logp + (1.0 - g) * prep.log1mp))


def _two_class_entries(*arguments: str):  # type: ignore[no-untyped-def]
    """A ``check`` refusing per-class sequences of the wrong length in binary/multilabel mode (K = 2)."""

    def check(options: dict[str, Any]) -> None:
        if options["mode"] is Mode.MULTICLASS:
            return
        for argument in arguments:
            value = options.get(argument)
            if isinstance(value, torch.Tensor) and value.numel() != 2:
                raise UsageError(
                    f"Expected `{argument}` to have 2 entries (negative, positive) in "
                    f"{options['mode'].value} mode, got {value.numel()}"
                )

    return check


# --------------------------------------------------------------------------- BCE


@loss_function("bce")
def bce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    pos_weight: float | torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Binary cross entropy, element-wise over every channel.

    .. math::

        L_{BCE} = -\frac{1}{N}\sum_i \big[g_i \ln p_i + (1 - g_i)\ln(1 - p_i)\big]

    Parameters
    ----------
    input : Tensor ``(B, C, *S)``
        Logits (``from_logits=True``, default) or probabilities.
    target : Tensor
        See :mod:`segeval.losses` for the shapes of each mode. Soft targets in ``[0, 1]`` are allowed
        in binary and multilabel modes.
    mode : {"binary", "multiclass", "multilabel"}, default "binary"
        Multi-class mode compares each softmax channel with its one-hot channel (one-vs-rest BCE of
        the softmax probabilities, averaged over ``B * C * N`` entries); use :func:`ce_loss` for the
        categorical cross entropy.
    from_logits : bool, default True
        ``False`` takes probabilities from any activation you apply yourself.
    pos_weight : float or sequence of C floats, optional
        Multiplies the positive term, :math:`-[b\,g\ln p + (1-g)\ln(1-p)]`, one value or one per
        channel (torch's ``BCEWithLogitsLoss(pos_weight=...)``; a buffer in the module).
    label_smoothing : float in [0, 1], default 0
        :math:`\varepsilon`: the target becomes :math:`g(1 - \varepsilon) + \varepsilon/2` per
        element (the two-class form of torch's CE smoothing; torch has none for BCE).
    ignore_index : int, optional
        Target value of elements that count nowhere. ``mask`` (third argument) likewise: pixels
        where it is 0 count nowhere; ``mean`` divides by the counted elements.
    reduction : {"none", "mean", "sum"}, default "mean"
        ``none`` returns the element-wise values, shape ``(B, C, *S)`` (0 at ignored elements).

    Returns
    -------
    Tensor
        Scalar (``mean``/``sum``) or ``(B, C, *S)``. Finite for any finite input.

    Notes
    -----
    With logits, :math:`\ln p = -\mathrm{softplus}(-z)` and :math:`\ln(1-p) = -\mathrm{softplus}(z)`
    (no overflow at :math:`|z| \approx 50`–100). With probabilities, :math:`\ln p` is taken of
    :math:`\max(p, \text{tiny})`, so a hard 0/1 mistake costs 87.3 in float32 where
    ``torch.nn.BCELoss`` clamps the log at -100 (100 per pixel) and Keras clips :math:`p` to
    :math:`[10^{-7}, 1-10^{-7}]` (16.1 per pixel).

    ``F.binary_cross_entropy(torch.sigmoid(x), y)``, common in blog posts, computes the same value
    but is not stable for large logits.

    References
    ----------
    Ma et al., "Loss odyssey in medical image segmentation", Medical Image Analysis 71 (2021),
    :DOI:`10.1016/j.media.2021.102035` (survey; BCE is the two-class cross entropy).

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[0.9, 0.2]]])   # (B=1, C=1, W=2) probabilities
    >>> g = torch.tensor([[[1.0, 0.0]]])
    >>> round(bce_loss(p, g, from_logits=False).item(), 4)   # (ln(1/0.9) + ln(1/0.8)) / 2
    0.1643
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="bce")
    loss = binary_cross_entropy(prep, pos_weight, label_smoothing, "bce")
    return reduce(loss, reduction, counted(prep, loss))


class BCELoss(LossModule):
    """Module form of :func:`bce_loss` (same options and defaults)."""

    function = staticmethod(bce_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        pos_weight: Any = None,
        label_smoothing: float = 0.0,
        ignore_index: int | None = None,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            pos_weight=pos_weight,
            label_smoothing=label_smoothing,
            ignore_index=ignore_index,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- CE / NLL


def _ce(
    input: torch.Tensor,
    target: torch.Tensor,
    mode: Mode,
    from_logits: bool,
    weight: torch.Tensor | None,
    ignore_index: int | None,
    reduction: Reduction,
    loss: str,
    mask: torch.Tensor | None,
    label_smoothing: float = 0.0,
    log_input: bool = False,
) -> torch.Tensor:
    prep = prepare(
        input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, log_input=log_input, loss=loss
    )
    logp, _, g = categorical(prep)
    k = logp.shape[1]
    w = _weights(weight, k, logp, mode, loss)
    _, pixel_weight = _pixel_ce(logp, g, w)  # the mean's denominator: sum of w_y over counted pixels
    if label_smoothing > 0:
        # torch's rule: (1 - e) one-hot + e/K on every class of the counted pixels, same denominator
        uniform = g.sum(1, keepdim=True) * (label_smoothing / k)  # 1/K at counted pixels, 0 at ignored
        g = g * (1.0 - label_smoothing) + uniform
    pixel, _ = _pixel_ce(logp, g, w)
    return reduce(pixel_output(pixel, mode), reduction, pixel_weight.sum())


@loss_function("ce", check=_two_class_entries("weight"))
def ce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = True,
    weight: torch.Tensor | None = None,
    ignore_index: int | None = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Cross entropy with optional class weights, an ignored label and label smoothing (torch semantics).

    .. math::

        L_{CE} = \frac{\sum_i w_{y_i}\,[-\ln p_{i,y_i}]\,[y_i \ne \mathrm{ign}]}
                      {\sum_i w_{y_i}\,[y_i \ne \mathrm{ign}]}

    Parameters
    ----------
    input : Tensor ``(B, C, *S)``
        Logits (softmax inside) or probabilities (``from_logits=False``).
    target : Tensor
        Class indices ``(B, *S)`` or one-hot ``(B, C, *S)`` in multi-class mode (see
        :mod:`segeval.losses`).
    mode : default "multiclass"
        In binary/multilabel mode each channel is the two-class problem ``(1 - p, p)``, i.e. BCE.
    weight : sequence of K floats, optional
        Class weights :math:`w_c` (a registered buffer in :class:`CELoss`): ``C`` entries in
        multi-class mode, 2 (negative, positive) in binary/multilabel mode. Default: all 1.
    ignore_index : int or None, default -100
        Pixels whose target equals it are left out of numerator and denominator (class-index
        targets, and binary/multilabel targets; not one-hot targets: use ``mask``).
    label_smoothing : float in [0, 1], default 0
        torch's rule: the target of a counted pixel becomes :math:`(1-\varepsilon)\,\text{onehot}
        + \varepsilon/K`, so the pixel loss is :math:`(1-\varepsilon) w_y(-\ln p_y) +
        \frac{\varepsilon}{K}\sum_c w_c(-\ln p_c)`, and ``mean`` still divides by
        :math:`\sum w_{y_i}` (equal to ``torch.nn.functional.cross_entropy`` with weights and
        ``ignore_index``). Binary/multilabel: :math:`K = 2`, i.e. :math:`g(1-\varepsilon)+\varepsilon/2`.
    reduction : default "mean"
        ``mean`` is the weighted mean above (divides by :math:`\sum w_{y_i}`, not by N);
        ``none`` returns :math:`w_{y_i}\ell_i` per pixel, ``(B, *S)`` (multi-class) or
        ``(B, C, *S)``; ``sum`` their sum.

    Returns
    -------
    Tensor
        0 (not NaN) when every pixel is ignored.

    Notes
    -----
    Equal to ``torch.nn.functional.cross_entropy`` for index targets. For one-hot/soft targets the
    weighted mean divides by :math:`\sum_i\sum_c w_c g_{ic}`, so one-hot and index targets agree;
    torch divides soft-target losses by N.

    References
    ----------
    Ma et al., "Loss odyssey in medical image segmentation", Medical Image Analysis 71 (2021),
    :DOI:`10.1016/j.media.2021.102035`.

    Examples
    --------
    >>> import torch, math
    >>> x = torch.tensor([[[0.0], [math.log(3.0)]]])   # (B=1, C=2, W=1): p = (1/4, 3/4)
    >>> y = torch.tensor([[1]])
    >>> round(ce_loss(x, y).item(), 4)                 # ln(4/3)
    0.2877
    """
    return _ce(input, target, mode, from_logits, weight, ignore_index, reduction, "ce", mask, label_smoothing)


class CELoss(LossModule):
    """Module form of :func:`ce_loss`; ``weight`` is a registered buffer."""

    function = staticmethod(ce_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = True,
        weight: Any = None,
        ignore_index: int | None = -100,
        label_smoothing: float = 0.0,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            weight=weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )


@loss_function("nll", check=_two_class_entries("weight"))
def nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = False,
    weight: torch.Tensor | None = None,
    ignore_index: int | None = -100,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Negative log-likelihood of log-probabilities (``torch.nn.NLLLoss`` semantics).

    .. math:: L_{NLL} = -\frac{\sum_i w_{y_i} \log p_{i,y_i}}{\sum_i w_{y_i}}

    Parameters
    ----------
    input : Tensor ``(B, C, *S)``
        **Log-probabilities** (``from_logits=False``, the default for NLL only; values must be
        ``<= 0``, otherwise a :class:`~segeval.errors.UsageError` says so), or logits with
        ``from_logits=True``. In binary/multilabel mode: :math:`\log p` of the positive class.
    from_logits : bool, default False
        True applies log-softmax (log-sigmoid in binary/multilabel mode) first, which makes this
        :func:`ce_loss`.
    mode, weight, ignore_index, mask, reduction
        As :func:`ce_loss`.

    Returns
    -------
    Tensor
        The weighted mean of :func:`ce_loss`; ``none``: per-pixel values (CE shapes).

    Notes
    -----
    The log is never re-applied to log-probabilities (a classic bug: ``NLLLoss`` after a
    ``log_softmax`` that is then logged again). :math:`\log(1-p)` is derived stably from
    :math:`\log p` in binary/multilabel mode.

    References
    ----------
    Ma et al., "Loss odyssey in medical image segmentation", Medical Image Analysis 71 (2021),
    :DOI:`10.1016/j.media.2021.102035`.

    Examples
    --------
    >>> import torch, math
    >>> logp = torch.log(torch.tensor([[[0.25], [0.75]]]))
    >>> round(nll_loss(logp, torch.tensor([[1]])).item(), 4)   # -ln 0.75
    0.2877
    """
    return _ce(input, target, mode, from_logits, weight, ignore_index, reduction, "nll", mask, log_input=True)


class NLLLoss(LossModule):
    """Module form of :func:`nll_loss` (input: log-probabilities unless ``from_logits=True``)."""

    function = staticmethod(nll_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = False,
        weight: Any = None,
        ignore_index: int | None = -100,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- weighted CE


def _check_wce(options: dict[str, Any]) -> None:
    if options["mode"] is Mode.MULTICLASS and options["pos_weight"] is not None:
        raise UsageError(
            "`pos_weight` applies to binary and multilabel modes; pass class weights as `weight` in multiclass mode"
        )
    if options["mode"] is not Mode.MULTICLASS and options["weight"] is not None:
        raise UsageError(
            "`weight` (one weight per class) applies to multiclass mode; pass `pos_weight` in "
            f"{options['mode'].value} mode"
        )


@loss_function("wce", check=_check_wce)
def wce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = True,
    weight: torch.Tensor | None = None,
    pos_weight: float | torch.Tensor | None = None,
    ignore_index: int | None = -100,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Weighted cross entropy with inverse-frequency weights computed from the batch, or given.

    Multi-class (class weights, torch weighted mean):

    .. math::

        L = \frac{\sum_i w_{y_i}\,[-\ln p_{i,y_i}]}{\sum_i w_{y_i}},\qquad
        w_c = \frac{N}{C\,n_c}\ \text{(default, from the batch's target)}

    Binary / multilabel (Jadon's form, ``torch`` ``BCEWithLogitsLoss(pos_weight=...)``, plain mean):

    .. math::

        L = -\frac1N\sum_i \big[\beta\, g_i \ln p_i + (1 - g_i)\ln(1 - p_i)\big],\qquad
        \beta = \frac{n_{neg}}{n_{pos}}\ \text{(default, per channel, from the batch)}

    Parameters
    ----------
    weight : sequence of C floats, optional
        Multi-class only. Given class weights; default: :math:`N/(C n_c)` over the counted pixels of
        the batch. With the weighted mean any positive rescaling gives the same value.
    pos_weight : float or sequence of C floats, optional
        Binary/multilabel only. Given :math:`\beta` (one, or one per channel); default
        :math:`n_{neg}/n_{pos}` per channel over the batch.
    ignore_index : int or None, default -100

    Returns
    -------
    Tensor
        ``none``: weighted per-pixel values (shapes of :func:`ce_loss`).

    Notes
    -----
    Absent classes: :math:`n_c = 0` would give an infinite weight; it is set to 0 (no pixel uses it,
    and an infinite weight would turn ``0 * inf`` into NaN). A channel without positives gets
    :math:`\beta = 1`. The weights come from the target only and carry no gradient.
    The U-Net pixel weight map (Ronneberger 2015, border term :math:`w_0 e^{-(d_1+d_2)^2/2\sigma^2}`)
    is a different "weighted CE" and is not implemented. SegLoss ``WeightedCrossEntropyLossV2``
    hard-codes weights and then ignores them.

    References
    ----------
    Jadon, "A survey of loss functions for semantic segmentation", CIBCB 2020,
    :DOI:`10.1109/CIBCB48159.2020.9277638` (binary form); Ma et al., Medical Image Analysis 71
    (2021), :DOI:`10.1016/j.media.2021.102035` (inverse-frequency class weights).

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(1, 2, 4)              # uniform softmax: every pixel costs ln 2
    >>> y = torch.tensor([[0, 0, 0, 1]])      # weights 4/(2*3) and 4/(2*1)
    >>> round(wce_loss(x, y).item(), 4)       # weighted mean of equal losses = ln 2
    0.6931
    """
    loss = "wce"
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss=loss)
    if mode is Mode.MULTICLASS:
        logp, _, g = categorical(prep)
        if weight is None:
            with torch.no_grad():
                counts = g.detach().sum(dim=tuple(d for d in range(g.ndim) if d != 1))
                total = counts.sum()
                w_vec = torch.where(
                    counts > 0, total / (counts.numel() * counts.clamp(min=1e-12)), torch.zeros_like(counts)
                )
            w = w_vec.reshape(1, -1, *([1] * (g.ndim - 2)))
        else:
            w = _weights(weight, logp.shape[1], logp, mode, loss)
        pixel, pixel_weight = _pixel_ce(logp, g, w)
        return reduce(pixel_output(pixel, mode), reduction, pixel_weight.sum())

    g = prep.g
    shape = (1, g.shape[1], *([1] * (g.ndim - 2)))
    if pos_weight is None:
        with torch.no_grad():
            dims = tuple(d for d in range(g.ndim) if d != 1)
            n_pos = g.detach().sum(dims)
            n_neg = prep.masked(1.0 - g.detach()).sum(dims)
            beta = torch.where(n_pos > 0, n_neg / n_pos.clamp(min=1e-12), torch.ones_like(n_pos)).reshape(shape)
    else:
        beta = _pos_weight_view(pos_weight, g, loss)
    pixel = -(beta * g * prep.logp + prep.masked(1.0 - g) * prep.log1mp)
    return reduce(pixel, reduction, counted(prep, pixel))


class WeightedCELoss(LossModule):
    """Module form of :func:`wce_loss`; ``weight`` and a sequence ``pos_weight`` are buffers."""

    function = staticmethod(wce_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = True,
        weight: Any = None,
        pos_weight: Any = None,
        ignore_index: int | None = -100,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            weight=weight,
            pos_weight=pos_weight,
            ignore_index=ignore_index,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- balanced CE


@loss_function("balanced_ce")
def balanced_ce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    ignore_index: int | None = None,
    aggregation: Aggregation | str = "batch",
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Class-balanced cross entropy (HED, Xie & Tu 2015), :math:`\beta` from the target.

    .. math::

        L = -\frac1N\sum_i\big[\beta\, g_i\ln p_i + (1-\beta)(1-g_i)\ln(1-p_i)\big],\qquad
        \beta = 1 - \frac{\sum_i g_i}{N}

    Parameters
    ----------
    mode : default "binary"
        Multi-class generalisation: :math:`w_c = 1 - n_c/N` for the pixels of class :math:`c`
        (for two classes this is exactly the formula above).
    aggregation : {"batch", "image"}, default "batch"
        Where :math:`\beta` is counted: over the whole batch (default) or per image (HED's
        per-image value). Multilabel channels get their own :math:`\beta`.
    ignore_index, mask : optional
        Ignored pixels count nowhere, neither in :math:`\beta` nor in the mean (which divides by
        the counted pixels).

    Returns
    -------
    Tensor
        Plain mean over pixels (not a weighted mean); ``none`` gives per-pixel values.

    Notes
    -----
    :math:`\beta` comes from the target, without gradient. On a target without any positive pixel
    :math:`\beta = 1`, so negatives weigh 0 and the loss is 0 whatever the prediction: the formula's
    own degenerate case, kept as is.

    References
    ----------
    Xie & Tu, "Holistically-nested edge detection", ICCV 2015, :DOI:`10.1109/ICCV.2015.164`.

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[0.5, 0.5, 0.5, 0.5]]])
    >>> g = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])     # beta = 3/4
    >>> round(balanced_ce_loss(p, g, from_logits=False).item(), 4)   # (3/4 + 3 * 1/4) ln 2 / 4
    0.2599
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="balanced_ce")
    logp, _, g = categorical(prep)  # (B, K, P, *S)
    with torch.no_grad():
        dims = tuple(range(3, g.ndim)) if aggregation is Aggregation.IMAGE else (0, *range(3, g.ndim))
        counts = g.detach().sum(dims, keepdim=True)
        total = counts.sum(1, keepdim=True)
        w = 1.0 - safe_divide(counts, total, 0.0)
    pixel = -(w * g * logp).sum(1)
    return reduce(pixel_output(pixel, mode), reduction, counted(prep, pixel))


class BalancedCELoss(LossModule):
    """Module form of :func:`balanced_ce_loss`."""

    function = staticmethod(balanced_ce_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        ignore_index: int | None = None,
        aggregation: Aggregation | str = "batch",
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            ignore_index=ignore_index,
            aggregation=aggregation,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- TopK


@loss_function("topk", k=number(low=0, low_open=True, high=100))
def topk_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "multiclass",
    from_logits: bool = True,
    k: float = 10.0,
    aggregation: Aggregation | str = "batch",
    ignore_index: int | None = -100,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""TopK loss: the mean cross entropy of the hardest k percent of pixels (Wu et al. 2016).

    .. math::

        L = \frac1K\sum_{i \in \text{top-}K} \ell^{CE}_i,\qquad K = \max(1, \lfloor N k / 100 \rfloor)

    Parameters
    ----------
    k : float in (0, 100], default 10
        Percentage (not a count) of the pooled pixels that are kept; :math:`K` is truncated.
    aggregation : {"batch", "image"}, default "batch"
        Pool: all counted pixels of the batch (nnU-Net/SegLoss), or each image separately.
    ignore_index : int or None, default -100
        Ignored pixels (and pixels where ``mask`` is 0) are never selected and do not count in N.

    Returns
    -------
    Tensor
        ``none``: the per-pixel CE map with unselected pixels set to 0 (CE shapes), so
        ``sum`` is its sum and ``mean`` is ``sum / K`` (summed over pools).

    Notes
    -----
    The variant that keeps pixels with :math:`p_{i,y_i} < t` (a threshold instead of a fraction)
    is not implemented. Ties at the K-th value are broken arbitrarily (the value is the same).
    In binary/multilabel mode the pool holds the BCE of every element.

    References
    ----------
    Wu, Shen, van den Hengel, "Bridging category-level and instance-level semantic image
    segmentation", arXiv:1605.06885 (2016).

    Examples
    --------
    >>> import torch
    >>> p = torch.tensor([[[0.9, 0.6, 0.5, 0.99]]])
    >>> g = torch.ones(1, 1, 4)
    >>> round(topk_loss(p, g, mode="binary", from_logits=False, k=50).item(), 4)  # (ln 2 + ln(1/0.6))/2
    0.602
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="topk")
    logp, _, g = categorical(prep)
    pixel, _ = _pixel_ce(logp, g, None)  # (B, P, *S)
    valid = prep.valid if prep.valid is not None else torch.ones_like(pixel[:, :1])
    valid = valid.expand_as(pixel) > 0
    pools = pixel.reshape(1, -1) if aggregation is Aggregation.BATCH else pixel.reshape(pixel.shape[0], -1)
    keep = valid.reshape(pools.shape)
    with torch.no_grad():
        counts = keep.sum(1)
        k_pool = torch.where(counts > 0, (counts * k / 100.0).floor().clamp(min=1), torch.zeros_like(counts)).long()
        # the largest K any pool can have, from the shape (no value read back from the device)
        # (+1 covers a float32 rounding of counts * k / 100 above the float64 floor)
        k_max = min(pools.shape[1], math.floor(pools.shape[1] * k / 100.0) + 1) if pools.numel() else 0
        key = torch.where(keep, pools.detach(), torch.full_like(pools, -torch.inf))
        selected = torch.zeros_like(keep)
        if k_max > 0:
            _, order = key.topk(k_max, dim=1)
            ranks = torch.arange(k_max, device=pools.device).unsqueeze(0)
            selected.scatter_(1, order, ranks < k_pool.unsqueeze(1))
    chosen = (pools * selected).reshape(pixel.shape)
    return reduce(pixel_output(chosen, mode), reduction, k_pool.sum())


class TopKLoss(LossModule):
    """Module form of :func:`topk_loss`."""

    function = staticmethod(topk_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "multiclass",
        from_logits: bool = True,
        k: float = 10.0,
        aggregation: Aggregation | str = "batch",
        ignore_index: int | None = -100,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            k=k,
            aggregation=aggregation,
            ignore_index=ignore_index,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- focal


def _alpha(argument: str, value: Any) -> float | torch.Tensor | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(low=0, high=1)(argument, value)
    return weights()(argument, value)


_alpha.is_tensor = True  # type: ignore[attr-defined]


def _focal_terms(
    logp: torch.Tensor,
    log1mp: torch.Tensor,
    g: torch.Tensor,
    alpha: float | torch.Tensor | None,
    gamma: float,
    mode: Mode,
    loss: str,
    pos_weight: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-pixel focal loss ``-sum_k alpha_k g_k (1 - p_k)^gamma log p_k`` over axis 1 of ``(B, K, P, *S)``.

    ``pos_weight`` (sigmoid modes) multiplies the positive class ``k = 1`` of each channel.
    """
    k = logp.shape[1]
    if pos_weight is not None:
        b = _pos_weight_view(pos_weight, g[:, 1], loss)  # (1, P, 1...) over channels P
        g = torch.stack([g[:, 0], b * g[:, 1]], dim=1)
    if alpha is None:
        w = None
    elif isinstance(alpha, torch.Tensor):
        w = _weights(alpha, k, logp, mode, loss, argument="alpha")
    else:
        w = binary_class_weights(alpha, k, logp.dtype, logp.device).reshape(1, k, *([1] * (logp.ndim - 2)))
    modulator = torch.exp(gamma * log1mp)  # (1 - p_k)^gamma, finite gradient at p_k = 1
    terms = g * modulator * logp
    if w is not None:
        terms = w * terms
    return -terms.sum(1)


@loss_function("focal", alpha=_alpha, gamma=number(low=0), check=_two_class_entries("alpha"))
def focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    alpha: float | torch.Tensor | None = 0.25,
    gamma: float = 2.0,
    weight: torch.Tensor | None = None,
    pos_weight: float | torch.Tensor | None = None,
    ignore_index: int | None = -100,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Focal loss (Lin et al., RetinaNet, ICCV 2017), per pixel.

    .. math::

        FL(p_t) = -\alpha_t (1 - p_t)^\gamma \ln p_t,\qquad
        p_t = \begin{cases} p & g = 1 \\ 1 - p & g = 0\end{cases},\quad
        \alpha_t = \begin{cases} \alpha & g = 1 \\ 1 - \alpha & g = 0\end{cases}

    averaged over pixels. Multi-class (softmax) form:
    :math:`-\alpha_{y_i}(1 - p_{i,y_i})^\gamma \ln p_{i,y_i}`.

    Parameters
    ----------
    mode : default "binary"
        Binary/multilabel: sigmoid focal loss per element (the paper's form).
        Multi-class: softmax focal loss per pixel.
    alpha : float in [0, 1], sequence of K floats, or None; default 0.25 (the paper's)
        A float gives positives (every class but 0 in multi-class mode) :math:`\alpha` and
        negatives/background :math:`1 - \alpha`, so a two-class softmax equals the sigmoid form.
        A sequence gives per-class weights (K = 2 for binary/multilabel, C for multi-class; a
        buffer in :class:`FocalLoss`). None: no :math:`\alpha` weighting.
    gamma : float >= 0, default 2
        :math:`\gamma = 0` with ``alpha=None`` is BCE/CE.
    weight : sequence of C floats, optional
        Per-channel weights multiplying each channel's focal term (binary/multilabel: one per
        sigmoid channel, MONAI's ``weight``); in multi-class mode one per class, multiplying
        :math:`\alpha_{y}`. A buffer in the module.
    pos_weight : float or sequence of C floats, optional
        Binary/multilabel: multiplies the positive term (as in :func:`bce_loss`).
    ignore_index : int or None, default -100
        And ``mask``: ignored pixels count nowhere; ``mean`` divides by the counted pixels.

    Returns
    -------
    Tensor
        Plain mean over the counted pixels; ``none`` gives per-pixel values (CE shapes).

    Notes
    -----
    This is the per-pixel definition. The widespread Kaggle version (bigironsphere, "Loss Function
    Library - Keras & PyTorch", https://www.kaggle.com/code/bigironsphere/loss-function-library-keras-pytorch)
    computes the batch-mean BCE first and returns :math:`\alpha(1 - e^{-\overline{BCE}})^\gamma\,
    \overline{BCE}`, a different and much weaker function. RetinaNet divides the sum by the number
    of positive anchors; segmentation libraries (and segeval) take the mean over pixels. MONAI's
    softmax focal loss averages over :math:`B\cdot C\cdot N` one-hot-masked entries (this value
    divided by C); smp's "multiclass" focal loss is one-vs-rest sigmoid, not softmax. Defaults
    differ: MONAI and smp ``FocalLoss`` use ``alpha=None``; the paper and smp's functional use 0.25.
    :math:`(1 - p_t)^\gamma` is evaluated as :math:`\exp(\gamma \ln(1 - p_t))`.

    References
    ----------
    Lin, Goyal, Girshick, He, Dollár, "Focal loss for dense object detection", ICCV 2017,
    :DOI:`10.1109/ICCV.2017.324`.

    Examples
    --------
    The worked numbers of ``docs/worked-examples.md`` (:math:`\alpha = 0.5`, :math:`\gamma = 2`, natural log):

    >>> import torch
    >>> p = torch.tensor([[[0.9, 0.6]]]); g = torch.ones(1, 1, 2)
    >>> [round(v, 5) for v in focal_loss(p, g, from_logits=False, alpha=0.5, reduction="none").flatten().tolist()]
    [0.00053, 0.04087]
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="focal")
    logp, log1mp, g = categorical(prep)
    pixel = _focal_terms(logp, log1mp, g, alpha, gamma, mode, "focal", pos_weight)  # (B, P, *S)
    if weight is not None:
        if mode is Mode.MULTICLASS:
            per_class = class_weight_view(weight.to(g), g.shape[1], g.ndim, "weight", mode, "focal")
            pixel = pixel * (per_class * g).sum(1)
        else:
            per_channel = class_weight_vector(weight, pixel.shape[1], pixel, "focal", "sigmoid channel")
            pixel = pixel * per_channel.reshape(1, -1, *([1] * (pixel.ndim - 2)))
    return reduce(pixel_output(pixel, mode), reduction, counted(prep, pixel))


class FocalLoss(LossModule):
    """Module form of :func:`focal_loss`; a sequence ``alpha`` is a registered buffer."""

    function = staticmethod(focal_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        alpha: Any = 0.25,
        gamma: float = 2.0,
        weight: Any = None,
        pos_weight: Any = None,
        ignore_index: int | None = -100,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            alpha=alpha,
            gamma=gamma,
            weight=weight,
            pos_weight=pos_weight,
            ignore_index=ignore_index,
            reduction=reduction,
        )


# --------------------------------------------------------------------------- DPCE


def _dpce_penalty(prep_g: torch.Tensor, mode: Mode, spacing: Any, dtype: torch.dtype) -> torch.Tensor:
    """Caliva et al.'s :math:`\\Phi` in the categorical view's pixel shape ``(B, P, *S)``."""
    hard = prep_g > 0.5
    if mode is Mode.MULTICLASS:
        regions = hard  # (B, C, *S): one region per class
        return dpce_penalty_map(regions, spacing, dtype=dtype).sum(1, keepdim=True)
    regions = torch.cat([hard, ~hard], dim=1)  # foreground and background of every channel
    phi = dpce_penalty_map(regions, spacing, dtype=dtype)
    c = hard.shape[1]
    return phi[:, :c] + phi[:, c:]


@loss_function("dpce")
def dpce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    mode: Mode | str = "binary",
    from_logits: bool = True,
    spacing: float | tuple[float, ...] | None = None,
    ignore_index: int | None = None,
    reduction: Reduction | str = "mean",
) -> torch.Tensor:
    r"""Distance-map penalised cross entropy (Caliva et al., MIDL 2019).

    .. math::

        L = \frac1N\sum_i (1 + \Phi_i)\,\ell^{CE}_i,\qquad
        \Phi = \sum_R \Phi_R,\quad
        \Phi_R = \frac{\max_R d_R - d_R}{\max_R(\max_R d_R - d_R)}\ \text{on}\ R

    per image, with :math:`d_R` the Euclidean distance transform inside region :math:`R`.

    Parameters
    ----------
    mode : default "binary"
        Binary/multilabel: the regions are the foreground and the background of each channel
        (SegLoss's construction). Multi-class: one region per class.
    spacing : float or sequence, optional
        Pixel spacing per spatial axis (array order); only the anisotropy matters since
        :math:`\Phi_R` is normalised to :math:`[0, 1]`.
    ignore_index, mask : optional
        The target is set to 0 (background) at ignored pixels before the distance transform; the
        per-pixel terms there are 0 and ``mean`` divides by the counted pixels.

    Returns
    -------
    Tensor
        Plain mean; ``none`` gives per-pixel values (CE shapes).

    Notes
    -----
    :math:`\Phi \in [0, 1]` is largest (1) at region boundaries and 0 deep inside, so mistakes near
    the boundary weigh up to twice as much. The map is computed from the target on the CPU (scipy
    ``distance_transform_edt``), without gradient. A region without interface, or only one pixel
    deep, gets :math:`\Phi_R = 0` (the literal formula divides by zero). SegLoss
    ``DisPenalizedCE`` computes the weighted loss but returns the unweighted mean; here the weights
    are applied.

    References
    ----------
    Caliva, Iriondo, Martinez, Majumdar, Pedoia, "Distance map loss penalty term for semantic
    segmentation", MIDL 2019, arXiv:1908.03679.

    Examples
    --------
    >>> import torch
    >>> p = torch.full((1, 1, 5), 0.5); g = torch.tensor([[[0.0, 1.0, 1.0, 1.0, 0.0]]])
    >>> # Phi = (0, 1, 0, 1, 0): the object's edge pixels weigh 2; the 1-px deep background and
    >>> # the object's centre weigh 1; every CE is ln 2
    >>> round(dpce_loss(p, g, from_logits=False).item(), 4)   # (2 * 2 + 3) ln 2 / 5
    0.9704
    """
    prep = prepare(input, target, mode, from_logits, ignore_index=ignore_index, mask=mask, loss="dpce")
    logp, _, g = categorical(prep)
    pixel, _ = _pixel_ce(logp, g, None)
    phi = _dpce_penalty(prep.g, mode, spacing, pixel.dtype)
    return reduce(pixel_output((1.0 + phi) * pixel, mode), reduction, counted(prep, pixel))


class DPCELoss(LossModule):
    """Module form of :func:`dpce_loss` (CPU distance transform of the target on every call)."""

    function = staticmethod(dpce_loss)

    def __init__(
        self,
        *,
        mode: Mode | str = "binary",
        from_logits: bool = True,
        spacing: float | tuple[float, ...] | None = None,
        ignore_index: int | None = None,
        reduction: Reduction | str = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            from_logits=from_logits,
            spacing=spacing,
            ignore_index=ignore_index,
            reduction=reduction,
        )
