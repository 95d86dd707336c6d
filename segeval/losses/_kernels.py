"""Shared kernels: input/target preparation, the categorical view, reductions and region statistics.

Everything a loss needs from ``(input, target)`` goes through :func:`prepare`, so the shape rules,
the activation, the numerically stable logarithms and the target checks live in one place:

- compute dtype: float64 stays float64, every other floating dtype (float16, bfloat16, float32) is
  computed in float32; losses return the compute dtype;
- logits: ``log p`` comes from ``logsigmoid``/``log_softmax`` (finite at logits of +-50 and beyond);
- probabilities: ``log p`` is ``log(max(p, tiny))`` with ``tiny`` the smallest normal float of the
  compute dtype, so ``-log p <= 87.3`` in float32 (torch's ``BCELoss`` clamps the log at -100);
- region statistics are soft counts ``TP = sum p g``, ``FP = sum p (1-g)``, ``FN = sum (1-p) g``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from segeval.errors import UsageError
from segeval.losses._enums import Aggregation, Average, Mode, Reduction

LN2 = math.log(2.0)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; half, bfloat16 and float32 are computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def tiny(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).tiny


def eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, stable on both sides of ``-ln 2`` with finite gradients.

    ``x`` is clamped to ``<= -tiny`` first, so ``log(1 - p)`` of a probability that rounds to 1
    is about -87 (float32) instead of ``-inf``. Each branch receives an input clamped to its own
    domain so the branch that is not selected never produces ``inf`` (and no ``0 * inf`` gradient).
    """
    x = x.clamp(max=-tiny(x.dtype))
    near = torch.log(-torch.expm1(x.clamp(min=-LN2)))
    far = torch.log1p(-torch.exp(x.clamp(max=-LN2)))
    return torch.where(x > -LN2, near, far)


def safe_divide(num: torch.Tensor, den: torch.Tensor, zero_division: float) -> torch.Tensor:
    """``num / den`` where ``den != 0``, ``zero_division`` where ``den == 0`` (finite gradients)."""
    zero = den == 0
    ratio = num / torch.where(zero, torch.ones_like(den), den)
    return torch.where(zero, torch.full_like(ratio, zero_division), ratio)


def spatial_dims(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(2, x.ndim))


class _cached:
    """:func:`functools.cached_property` without the lock Python 3.11 takes (``torch.compile`` cannot trace it)."""

    def __init__(self, compute):  # type: ignore[no-untyped-def]
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, obj, owner=None):  # type: ignore[no-untyped-def]
        if obj is None:
            return self
        value = self.compute(obj)
        obj.__dict__[self.name] = value  # found before this (non-data) descriptor from now on
        return value


class Prepared:
    """Validated input and target of one loss call, in the compute dtype.

    Attributes
    ----------
    mode : Mode
    z : Tensor ``(B, C, *S)``
        The input (logits, probabilities or log-probabilities) in the compute dtype.
    g : Tensor ``(B, C, *S)``
        Targets in ``[0, 1]``: one-hot for multi-class index targets; zero at ignored pixels.
    valid : Tensor ``(B, 1, *S)``, ``(B, C, *S)`` (multilabel, per element) or None
        1 where the pixel counts, 0 where ``target == ignore_index`` or ``mask == 0``; None when
        neither ``ignore_index`` nor ``mask`` was given.
    index : Tensor ``(B, *S)`` long or None
        Class indices (multi-class index targets only; ignored pixels hold 0).
    """

    def __init__(
        self,
        mode: Mode,
        from_logits: bool,
        z: torch.Tensor,
        g: torch.Tensor,
        valid: torch.Tensor | None,
        index: torch.Tensor | None,
        log_input: bool,
    ) -> None:
        self.mode = mode
        self.from_logits = from_logits
        self.log_input = log_input
        self.z = z
        self.g = g
        self.valid = valid
        self.index = index
        self.dtype = z.dtype

    @property
    def sigmoid(self) -> bool:
        return self.mode is not Mode.MULTICLASS

    @_cached
    def logp(self) -> torch.Tensor:
        if self.from_logits:
            return F.logsigmoid(self.z) if self.sigmoid else F.log_softmax(self.z, dim=1)
        if self.log_input:
            return self.z
        return torch.log(self.z.clamp(min=tiny(self.dtype)))

    @_cached
    def log1mp(self) -> torch.Tensor:
        """``log(1 - p)`` (stable for logits in sigmoid modes; clamped near p = 1 otherwise)."""
        if self.from_logits and self.sigmoid:
            return F.logsigmoid(-self.z)
        if self.from_logits or self.log_input:
            return log1mexp(self.logp)
        return torch.log((1.0 - self.z).clamp(min=tiny(self.dtype)))

    @_cached
    def p(self) -> torch.Tensor:
        if self.from_logits:
            return torch.sigmoid(self.z) if self.sigmoid else torch.softmax(self.z, dim=1)
        if self.log_input:
            return torch.exp(self.z)
        return self.z

    @property
    def num_channels(self) -> int:
        return self.z.shape[1]

    def channels(self, include_background: bool) -> slice:
        """Channels a region loss uses: all, or all but class 0 in multi-class mode."""
        if self.mode is Mode.MULTICLASS and not include_background:
            return slice(1, None)
        return slice(None)

    def masked(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with ignored pixels set to zero."""
        return x if self.valid is None else x * self.valid

    def hard_target(self) -> torch.Tensor:
        """Boolean target masks ``(B, C, *S)`` (soft targets thresholded at 0.5)."""
        return self.g > 0.5


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def value_checks_enabled(x: torch.Tensor) -> bool:
    """Whether :func:`prepare` checks tensor *values* (label range, ``[0, 1]`` targets and probabilities).

    Only for CPU tensors in eager mode: reading a minimum back from an accelerator would stop the
    host until the device catches up at every training step, and ``torch.compile`` would break the
    graph there. Shapes, dtypes and options are always checked. On CUDA an out-of-range class index
    still fails loudly (``one_hot``'s device-side assert); check value ranges once in the data
    pipeline, or run one batch on the CPU.
    """
    return x.device.type == "cpu" and not torch.compiler.is_compiling()


def _mask_view(mask: object, input: torch.Tensor, mode: Mode, loss: str) -> torch.Tensor:
    """``mask`` as a boolean ``(B | 1, 1 | C, *S | 1)`` tensor on the input's device; nonzero = counted.

    Accepted shapes: ``(B, *S)``, ``(B, 1, *S)``, and ``(B, C, *S)`` in multilabel mode (one mask per
    label); any axis may be 1 (broadcast).
    """
    if not isinstance(mask, torch.Tensor):
        raise UsageError(f"{loss}: expected `mask` to be a torch tensor or None, got {type(mask).__name__}")
    if mask.ndim == input.ndim - 1:
        mask = mask.unsqueeze(1)
    channels_ok = mask.ndim == input.ndim and mask.shape[1] in (
        (1, input.shape[1]) if mode is Mode.MULTILABEL else (1,)
    )
    others_ok = mask.ndim == input.ndim and all(
        m in (1, n) for i, (m, n) in enumerate(zip(mask.shape, input.shape, strict=True)) if i != 1
    )
    if not (channels_ok and others_ok):
        batch, spatial = input.shape[0], ", ".join(map(str, input.shape[2:]))
        per_label = f" or ({batch}, {input.shape[1]}, {spatial})" if mode is Mode.MULTILABEL else ""
        raise UsageError(
            f"{loss}: expected `mask` of shape ({batch}, {spatial}) or ({batch}, 1, {spatial}){per_label} "
            f"(axes of size 1 broadcast), got {_shape(mask)}"
        )
    return mask.to(input.device) != 0


def prepare(
    input: torch.Tensor,
    target: torch.Tensor,
    mode: Mode,
    from_logits: bool,
    *,
    ignore_index: int | None = None,
    mask: torch.Tensor | None = None,
    log_input: bool = False,
    loss: str = "loss",
) -> Prepared:
    """Check shapes and values, move ``target`` to ``input``'s device, and build :class:`Prepared`.

    ``ignore_index`` and ``mask`` select the pixels that count (``Prepared.valid``). Ignored pixels
    count nowhere: their input is replaced by 0 before the activation (so whatever it holds, even
    inf or NaN, changes neither value nor gradient) and their target by 0. Losses then multiply
    every per-pixel term and every soft count by ``valid`` (:meth:`Prepared.masked`,
    :func:`region_maps`). ``log_input`` (NLL only): with ``from_logits=False`` the input holds
    log-probabilities.
    """
    if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise UsageError(
            f"{loss}: expected `input` and `target` to be torch tensors, got "
            f"{type(input).__name__} and {type(target).__name__}"
        )
    if not input.is_floating_point():
        raise UsageError(f"{loss}: expected a floating-point `input`, got dtype {input.dtype}")
    if input.ndim < 3:
        raise UsageError(
            f"{loss}: expected `input` of shape (B, C, *spatial) with at least one spatial axis, "
            f"got shape {_shape(input)}"
        )
    dtype = compute_dtype(input.dtype)
    z = input.to(dtype)
    batch, channels, spatial = input.shape[0], input.shape[1], tuple(input.shape[2:])
    target = target.to(input.device)
    index: torch.Tensor | None = None
    keep: torch.Tensor | None = None  # boolean, True where the pixel counts
    check_values = value_checks_enabled(z)

    if mode is Mode.BINARY and channels != 1:
        raise UsageError(
            f"{loss}: binary mode expects `input` of shape (B, 1, *spatial), got {_shape(input)}",
            hint="use mode='multiclass' for C-channel softmax output or mode='multilabel' for C sigmoid channels",
        )
    if mode is Mode.MULTICLASS and channels < 2:
        raise UsageError(
            f"{loss}: multiclass mode expects `input` with C >= 2 channels, got {_shape(input)}",
            hint="use mode='binary' for a single sigmoid channel",
        )

    if mode is Mode.MULTICLASS:
        if target.shape == input.shape:  # one-hot / soft one-hot
            g = target.to(dtype)
        elif tuple(target.shape) in ((batch, *spatial), (batch, 1, *spatial)):
            if target.is_floating_point() or target.dtype == torch.bool or target.is_complex():
                raise UsageError(
                    f"{loss}: class-index targets of shape {_shape(target)} must have an integer "
                    f"dtype, got {target.dtype}",
                    hint="pass target.long(), or a one-hot target of the input's shape",
                )
            labels = target.reshape(batch, *spatial).long()
            if ignore_index is not None:
                kept = labels != ignore_index
                labels = torch.where(kept, labels, torch.zeros_like(labels))
                keep = kept.unsqueeze(1)
            if check_values and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= channels):
                raise UsageError(
                    f"{loss}: expected class indices in [0, {channels - 1}] for {channels} input "
                    f"channels, got values from {int(labels.min())} to {int(labels.max())}"
                    + ("" if ignore_index is None else f" (ignore_index={ignore_index})")
                )
            index = labels
            g = F.one_hot(labels, channels).movedim(-1, 1).to(dtype)
        else:
            raise UsageError(
                f"{loss}: multiclass mode expects `target` of shape (B, *spatial) = "
                f"({batch}, {', '.join(map(str, spatial))}) with class indices or one-hot "
                f"{_shape(input)}, got {_shape(target)}"
            )
    else:
        if mode is Mode.BINARY and tuple(target.shape) == (batch, *spatial):
            target = target.unsqueeze(1)
        if target.shape != input.shape:
            expected = (
                f"(B, 1, *spatial) or (B, *spatial) matching input {_shape(input)}"
                if mode is Mode.BINARY
                else f"{_shape(input)} (one channel per label)"
            )
            raise UsageError(f"{loss}: {mode.value} mode expects `target` of shape {expected}, got {_shape(target)}")
        if ignore_index is not None:
            keep = target != ignore_index  # per element: (B, C, *S)
            target = torch.where(keep, target, torch.zeros_like(target))
        g = target.to(dtype)

    if mask is not None:
        m = _mask_view(mask, input, mode, loss)
        keep = m if keep is None else keep & m
    valid: torch.Tensor | None = None
    if keep is not None:
        shape = (batch, channels if keep.shape[1] > 1 else 1, *spatial)
        keep = torch.broadcast_to(keep, shape)
        valid = keep.to(dtype)
        g = g * valid
        z = torch.where(keep, z, torch.zeros_like(z))

    if check_values and g.numel():
        low, high = float(g.min()), float(g.max())
        if low < 0 or high > 1 or math.isnan(low) or math.isnan(high):
            raise UsageError(
                f"{loss}: expected target values in [0, 1] ({mode.value} mode), got values from "
                f"{low:g} to {high:g}" + ("" if ignore_index is None else f" (ignore_index={ignore_index})")
            )
    if not from_logits and z.numel():
        if log_input:
            if check_values:
                top = float(z.detach().max())
                if top > 1e-6:
                    raise UsageError(
                        f"{loss}: expected log-probabilities (<= 0) as input, got a maximum of {top:g}",
                        hint="pass from_logits=True for raw network outputs",
                    )
            z = z.clamp(max=0.0)
        elif check_values:
            low, high = float(z.detach().min()), float(z.detach().max())
            if low < 0 or high > 1:
                raise UsageError(
                    f"{loss}: expected probabilities in [0, 1] with from_logits=False, got values "
                    f"from {low:g} to {high:g}",
                    hint="pass from_logits=True for raw network outputs",
                )
    return Prepared(mode, from_logits, z, g, valid, index, log_input)


def region_maps(prep: Prepared, include_background: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(p, g, valid)`` of the channels a region loss uses, ``p`` and ``g`` zero at ignored pixels.

    Soft counts of these maps (:func:`region_counts`) leave ignored pixels out of TP, FP and FN; a
    loss that needs true negatives multiplies ``(1 - p)(1 - g)`` by ``valid`` (None: all count).
    """
    channels = prep.channels(include_background)
    valid = prep.valid
    if valid is not None and valid.shape[1] > 1:
        valid = valid[:, channels]
    return prep.masked(prep.p)[:, channels], prep.g[:, channels], valid


def counted(prep: Prepared, like: torch.Tensor) -> torch.Tensor | None:
    """The number of counted elements of a per-pixel map ``like`` ``(B, 1 | C, *S)``: the ``mean`` denominator.

    None when every pixel counts (``reduce`` then divides by ``like.numel()``).
    """
    return None if prep.valid is None else prep.valid.expand_as(like).sum()


# --------------------------------------------------------------------------- categorical view


def categorical(prep: Prepared) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pixel class view ``(B, K, P, *S)``: ``(log p_k, log(1 - p_k), g_k)``.

    Multi-class: ``K = C`` classes, ``P = 1``. Binary and multilabel: every channel is a two-class
    problem, ``K = 2`` (index 0 = negative/background ``1 - p``, 1 = positive ``p``), ``P = C``.
    Ignored pixels have ``g_k = 0`` for every ``k``.
    """
    if prep.mode is Mode.MULTICLASS:
        return prep.logp.unsqueeze(2), prep.log1mp.unsqueeze(2), prep.g.unsqueeze(2)
    logp = torch.stack([prep.log1mp, prep.logp], dim=1)
    log1mp = torch.stack([prep.logp, prep.log1mp], dim=1)
    g = torch.stack([1.0 - prep.g, prep.g], dim=1)
    if prep.valid is not None:
        g = g * prep.valid.unsqueeze(1)
    return logp, log1mp, g


def pixel_output(x: torch.Tensor, mode: Mode) -> torch.Tensor:
    """Per-pixel values ``(B, P, *S)`` → ``(B, *S)`` in multi-class mode, unchanged otherwise."""
    return x.squeeze(1) if mode is Mode.MULTICLASS else x


def class_weight_view(weight: torch.Tensor, k: int, ndim: int, argument: str, mode: Mode, loss: str) -> torch.Tensor:
    """Check a class-weight vector against ``K`` and shape it to broadcast over ``(B, K, P, *S)``."""
    if weight.numel() != k:
        what = f"one per class, C = {k}" if mode is Mode.MULTICLASS else "negative and positive class of each channel"
        raise UsageError(f"{loss}: expected `{argument}` to have {k} entries ({what}), got {weight.numel()}")
    return weight.reshape(1, k, *([1] * (ndim - 2)))


def binary_class_weights(alpha: float, k: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Weights ``[1 - alpha, alpha, ..., alpha]`` (background gets ``1 - alpha``)."""
    w = torch.full((k,), alpha, dtype=dtype, device=device)
    w[0] = 1.0 - alpha
    return w


# --------------------------------------------------------------------------- reductions


def reduce(x: torch.Tensor, reduction: Reduction, denominator: torch.Tensor | None = None) -> torch.Tensor:
    """``none`` → ``x``; ``sum`` → ``x.sum()``; ``mean`` → ``x.sum() / denominator`` (default ``x.numel()``).

    A zero denominator (every pixel ignored) gives 0, not NaN.
    """
    if reduction is Reduction.NONE:
        return x
    total = x.sum()
    if reduction is Reduction.SUM:
        return total
    if reduction is Reduction.MEAN:
        if denominator is None:
            return x.mean() if x.numel() else total
        return safe_divide(total, denominator.to(total.dtype), 0.0)
    raise AssertionError(f"unhandled reduction {reduction!r}")  # pragma: no cover - enum is closed


def across_processes(counts: torch.Tensor, aggregation: Aggregation) -> torch.Tensor:
    """Soft counts summed over every process of the default ``torch.distributed`` group (``distributed``).

    nnU-Net's batch Dice under DDP: each process sums its part of the batch, one ``all_reduce``
    adds them, and every process computes the same loss from the global counts. The all-reduce is
    differentiable (``torch.distributed.nn.functional.all_reduce``): each process receives
    ``world_size`` times the gradient of the global loss with respect to its own pixels, which
    DDP's gradient averaging divides back. Identity for ``image``/``batch``, and when
    ``torch.distributed`` is not initialised.
    """
    if (
        aggregation is Aggregation.DISTRIBUTED
        and torch.distributed.is_available()
        and torch.distributed.is_initialized()
    ):
        from torch.distributed.nn.functional import all_reduce

        return all_reduce(counts)
    return counts


def sum_dims(x: torch.Tensor, aggregation: Aggregation) -> tuple[int, ...]:
    """Axes summed for region statistics of ``(B, K, *S)``: spatial (per image) or batch + spatial."""
    dims = spatial_dims(x)
    return dims if aggregation is Aggregation.IMAGE else (0, *dims)


def tversky_index(
    tp: torch.Tensor,
    fp: torch.Tensor,
    fn: torch.Tensor,
    alpha: float,
    beta: float,
    smooth_nr: float,
    smooth_dr: float | None = None,
) -> torch.Tensor:
    """The one region kernel: ``(TP + s_nr) / (TP + alpha FP + beta FN + s_dr)``; ``0/0`` → 1.

    ``smooth_dr`` defaults to ``smooth_nr``. Dice with smoothing placed as
    ``(2TP + s_nr)/(2TP + FP + FN + s_dr)`` is ``alpha=beta=1/2`` with both halved; IoU
    ``(TP + s)/(TP + FP + FN + s)`` is ``alpha=beta=1``. An empty target with an empty prediction
    (all counts 0, no smoothing) scores 1.
    """
    num = tp + smooth_nr
    den = tp + alpha * fp + beta * fn + (smooth_nr if smooth_dr is None else smooth_dr)
    return safe_divide(num, den, 1.0)


def soft_intersection(p: torch.Tensor, g: torch.Tensor, soft_label: bool) -> torch.Tensor:
    """Element-wise intersection: ``p g``, or with ``soft_label`` the L1 form ``(p + g - |p - g|)/2``.

    The L1 form equals ``min(p, g)``: for a soft target it is largest (``= g``) at ``p = g``, where
    ``p g < g``; its gradient is 1/2 at ``p = g`` (torch's ``abs`` has gradient 0 at 0). MONAI's
    ``soft_label=True``; for 0/1 targets both forms agree.
    """
    if soft_label:
        return (p + g - (p - g).abs()) / 2.0
    return p * g


def region_counts(
    p: torch.Tensor,
    g: torch.Tensor,
    aggregation: Aggregation,
    *,
    squared: bool = False,
    soft_label: bool = False,
    weight: torch.Tensor | None = None,
    average: Average = Average.MACRO,
    loss: str = "loss",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Soft ``(TP, FP, FN)`` of ``(B, K, *S)`` maps per class, optionally pooled over the classes.

    ``TP = sum p g`` (or the L1 form with ``soft_label``, :func:`soft_intersection`),
    ``FP = sum p - TP``, ``FN = sum g - TP``; with ``squared=True`` (V-Net) the sizes are
    ``sum p^2`` and ``sum g^2``, so ``2TP + FP + FN = sum p^2 + sum g^2``, and ``soft_label`` has no
    effect (the L2 form of the intersection, ``(|p|^2 + |g|^2 - |p - g|^2)/2``, is ``sum p g``; MONAI
    likewise). Shapes ``(B, K)``
    (image) or ``(K,)`` (batch).
    ``average="micro"`` sums the counts of the K classes (weighted by ``weight`` when given) into one
    set per image (``(B, 1)``) or for the batch (``(1,)``); ``macro`` leaves ``(B, K)`` / ``(K,)``.
    """
    dims = sum_dims(p, aggregation)
    tp = soft_intersection(p, g, soft_label and not squared).sum(dims)
    size_p, size_g = ((p * p).sum(dims), (g * g).sum(dims)) if squared else (p.sum(dims), g.sum(dims))
    tp, size_p, size_g = across_processes(torch.stack([tp, size_p, size_g]), aggregation).unbind(0)
    fp, fn = size_p - tp, size_g - tp
    if average is Average.MICRO:
        if weight is not None:
            w = class_weight_vector(weight, tp.shape[-1], tp, loss)
            tp, fp, fn = tp * w, fp * w, fn * w
        tp, fp, fn = (x.sum(-1, keepdim=True) for x in (tp, fp, fn))
    return tp, fp, fn


def class_weight_vector(
    weight: torch.Tensor, k: int, like: torch.Tensor, loss: str, what: str = "class the loss keeps"
) -> torch.Tensor:
    """``weight`` checked against its ``K`` classes (or channels), in ``like``'s dtype and device."""
    if weight.numel() != k:
        raise UsageError(f"{loss}: expected `weight` to have {k} entries (one per {what}), got {weight.numel()}")
    return weight.to(like)


def class_weighted(per_class: torch.Tensor, weight: torch.Tensor | None, loss: str) -> torch.Tensor:
    """Per-class losses ``(..., K)`` times the class weights (MONAI's meaning: before the reduction)."""
    if weight is None:
        return per_class
    return per_class * class_weight_vector(weight, per_class.shape[-1], per_class, loss)


def dice_score(
    p: torch.Tensor,
    g: torch.Tensor,
    aggregation: Aggregation,
    smooth_nr: float,
    smooth_dr: float | None = None,
    *,
    squared: bool = False,
    soft_label: bool = False,
    weight: torch.Tensor | None = None,
    average: Average = Average.MACRO,
    loss: str = "loss",
) -> torch.Tensor:
    """Soft Dice ``(2TP + s_nr)/(|P| + |G| + s_dr)`` per image and class, or per class (batch).

    ``average="micro"``: one value per image (``(B, 1)``) or for the batch (``(1,)``).
    """
    tp, fp, fn = region_counts(
        p, g, aggregation, squared=squared, soft_label=soft_label, weight=weight, average=average, loss=loss
    )
    dr = smooth_nr if smooth_dr is None else smooth_dr
    return tversky_index(tp, fp, fn, 0.5, 0.5, smooth_nr / 2.0, dr / 2.0)


def safe_pow(x: torch.Tensor, exponent: float) -> torch.Tensor:
    """``x ** exponent`` for ``x >= 0`` with a finite gradient where ``exponent < 1``.

    The value is exact; the gradient is that of ``max(x, eps) ** exponent`` (``eps`` = machine
    epsilon of the dtype), i.e. 0 below ``eps`` instead of the infinite slope of ``x**a`` at 0,
    which a perfect prediction reaches in ``(1 - TI)**0.75`` or ``(-ln Dice)**0.3``.
    """
    clamped = x.clamp(min=eps(x.dtype))
    powered = clamped**exponent
    exact = x.detach().clamp(min=0.0) ** exponent
    return powered + (exact - powered.detach())
