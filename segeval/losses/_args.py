"""Argument validation shared by every loss function and module.

Each public loss function is wrapped by :func:`loss_function`, which validates its keyword-only
options once with a table of validators (common ones by parameter name, loss-specific ones given
to the decorator). The wrapper exposes

- ``fn.validate(**options) -> dict``: the normalised options (enums, floats, tensors), raising
  :class:`~segeval.errors.UsageError` with the loss name, the argument, what was expected and what
  was given; unknown option names are refused the same way;
- ``fn.raw(input, target, mask, **options)``: the unvalidated kernel, used by the modules, which
  validate once in their constructor. Kernels run with autocast disabled: under
  ``torch.autocast`` they still compute in float32 (float64 for float64 input).

Every kernel's third parameter is ``mask`` (a per-call tensor, not an option): the public function
and ``LossModule.forward`` take it as ``loss(input, target, mask)`` or ``mask=``.

:class:`LossModule` is the thin ``torch.nn.Module`` base: it validates its options with the
function's validator, stores tensors (class weights) as registered buffers and calls ``fn.raw``.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from segeval.errors import UsageError
from segeval.losses._enums import Aggregation, Average, Mode, Reduction, UnifiedVariant, WeightType, as_enum

Validator = Callable[[str, Any], Any]

__all__ = ["LossModule", "loss_function"]


# --------------------------------------------------------------------------- validators


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Validator:
    """A finite real number in the given (closed unless ``*_open``) interval, returned as float."""
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    wanted = "a finite number" + (" " + " and ".join(parts) if parts else "")

    def check(argument: str, value: Any) -> float:
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        ok = _is_number(value) and math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            raise UsageError(f"Expected `{argument}` to be {wanted}, got {value!r}")
        return float(value)

    return check


def integer(*, low: int | None = None) -> Validator:
    """An ``int`` (not a bool), at least ``low``."""

    def check(argument: str, value: Any) -> int:
        if not (isinstance(value, int) and not isinstance(value, bool)) or (low is not None and value < low):
            bound = f" >= {low}" if low is not None else ""
            raise UsageError(f"Expected `{argument}` to be an integer{bound}, got {value!r}")
        return int(value)

    return check


def boolean(argument: str, value: Any) -> bool:
    """``True`` or ``False`` exactly (strings such as ``"false"`` are refused)."""
    if not isinstance(value, bool):
        raise UsageError(f"Expected `{argument}` to be True or False, got {value!r}")
    return value


def optional(inner: Validator) -> Validator:
    """``None`` or what ``inner`` accepts."""

    def check(argument: str, value: Any) -> Any:
        return None if value is None else inner(argument, value)

    check.is_tensor = getattr(inner, "is_tensor", False)  # type: ignore[attr-defined]
    return check


def enum_of(enum_type: type) -> Validator:
    def check(argument: str, value: Any) -> Any:
        return as_enum(enum_type, value, argument)

    return check


def local_aggregation(argument: str, value: Any) -> Aggregation:
    """``image`` or ``batch``: the losses whose statistics are not soft counts cannot pool across processes."""
    aggregation = as_enum(Aggregation, value, argument)
    if aggregation is Aggregation.DISTRIBUTED:
        raise UsageError(
            f"Expected `{argument}` to be one of 'image', 'batch', got 'distributed' (pooling across "
            "processes is for the losses built on soft counts: dice, iou, tversky, focal_tversky, "
            "focal_dice, log_cosh_dice, mcc, generalized_dice, bce_dice, ce_dice)"
        )
    return aggregation


#: ``aggregation`` of the losses that pool soft counts across ``torch.distributed`` processes.
ANY_AGGREGATION = enum_of(Aggregation)


def weights(*, allow_scalar: bool = False) -> Validator:
    """A 1-D sequence/tensor of finite non-negative numbers with a positive sum.

    Returned as a float64 tensor; losses cast it to the compute dtype at use.
    """

    def check(argument: str, value: Any) -> torch.Tensor:
        if allow_scalar and _is_number(value):
            return number(low=0)(argument, value)  # type: ignore[return-value]
        try:
            tensor = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
        except (TypeError, ValueError, RuntimeError):
            tensor = None
        if (
            tensor is None
            or isinstance(value, (str, bytes))
            or tensor.ndim != 1
            or tensor.numel() == 0
            or not bool(torch.isfinite(tensor).all())
            or bool((tensor < 0).any())
            or not float(tensor.sum()) > 0
        ):
            shape = f"a scalar {value!r}" if _is_number(value) else repr(value)
            raise UsageError(
                f"Expected `{argument}` to be a 1-D sequence of finite non-negative numbers "
                f"(one per class) with a positive sum, got {shape}"
            )
        return tensor

    check.is_tensor = True  # type: ignore[attr-defined]
    return check


def spacing(argument: str, value: Any) -> tuple[float, ...] | None:
    """``None`` (unit spacing), one positive number, or one positive number per spatial axis."""
    if value is None:
        return None
    values = (value,) if _is_number(value) else value
    good = False
    out: tuple[float, ...] = ()
    if not isinstance(values, (str, bytes)):
        try:
            values = tuple(values)
            good = len(values) > 0 and all(_is_number(v) and math.isfinite(v) and v > 0 for v in values)
            out = tuple(float(v) for v in values) if good else ()
        except TypeError:
            good = False
    if not good:
        raise UsageError(
            f"Expected `{argument}` to be a positive number or a sequence of positive numbers "
            f"(one per spatial axis, in array-axis order), got {value!r}"
        )
    return out


def ignore_index(argument: str, value: Any) -> int | None:
    if value is None:
        return None
    return integer()(argument, value)


def positive_weight(argument: str, value: Any) -> float | torch.Tensor:
    """``pos_weight``: one positive number, or one per channel (a tensor, a buffer in the module)."""
    if _is_number(value):
        return number(low=0, low_open=True)(argument, value)
    tensor = weights()(argument, value)
    if bool((tensor <= 0).any()):
        raise UsageError(f"Expected `{argument}` to hold positive numbers, got {tensor.tolist()}")
    return tensor


positive_weight.is_tensor = True  # type: ignore[attr-defined]


def check_smoothing(options: dict[str, Any]) -> None:
    """``smooth`` sets both ``smooth_nr`` and ``smooth_dr``: giving it with either is ambiguous."""
    if options.get("smooth") is not None and (
        options.get("smooth_nr") is not None or options.get("smooth_dr") is not None
    ):
        raise UsageError(
            "give either `smooth` (numerator and denominator) or `smooth_nr`/`smooth_dr`, not both",
            hint="smooth=s is smooth_nr=s, smooth_dr=s",
        )


#: ``smooth`` of the losses that also take ``smooth_nr``/``smooth_dr`` (None: the loss's default).
OPTIONAL_SMOOTH = optional(number(low=0))


def smoothing(
    smooth: float | None, smooth_nr: float | None, smooth_dr: float | None, default: float
) -> tuple[float, float]:
    """``(numerator, denominator)`` smoothing from the three options (validated by :func:`check_smoothing`)."""
    base = default if smooth is None else smooth
    return (base if smooth_nr is None else smooth_nr), (base if smooth_dr is None else smooth_dr)


COMMON: dict[str, Validator] = {
    "mode": enum_of(Mode),
    "from_logits": boolean,
    "reduction": enum_of(Reduction),
    "aggregation": local_aggregation,
    "variant": enum_of(UnifiedVariant),
    "include_background": boolean,
    "ignore_index": ignore_index,
    "smooth": number(low=0),
    "smooth_nr": optional(number(low=0)),
    "smooth_dr": optional(number(low=0)),
    "spacing": spacing,
    "weight": optional(weights()),
    "pos_weight": optional(positive_weight),
    "label_smoothing": number(low=0, high=1),
    "average": enum_of(Average),
    "w_type": enum_of(WeightType),
    "soft_label": boolean,
}


# --------------------------------------------------------------------------- decorator


def loss_function(
    name: str,
    *,
    check: Callable[[dict[str, Any]], None] | None = None,
    **validators: Validator,
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Wrap a loss kernel ``fn(input, target, *, **options)`` with option validation.

    ``validators`` override or extend :data:`COMMON` by parameter name; ``check`` receives the
    normalised options and may raise :class:`UsageError` for combinations that cannot work
    (:func:`check_smoothing` runs for every loss with ``smooth_nr``).
    The kernel's signature is ``fn(input, target, mask=None, *, ...options)``.
    """

    def wrap(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        signature = list(inspect.signature(fn).parameters)
        if signature[:3] != ["input", "target", "mask"]:  # a programming error in this package
            raise TypeError(f"{name}: a loss kernel takes (input, target, mask=None, *, ...), got {signature}")
        params = [p for p in inspect.signature(fn).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        table: dict[str, Validator] = {}
        for p in params:
            validator = validators.get(p.name, COMMON.get(p.name))
            if validator is None:  # a programming error in this package, not user input
                raise TypeError(f"{name}: no validator for option {p.name!r}")
            table[p.name] = validator
        names = [p.name for p in params]

        def validate(**options: Any) -> dict[str, Any]:
            unknown = sorted(set(options) - set(names))
            if unknown:
                raise UsageError(
                    f"{name}: unknown option(s) {', '.join(repr(u) for u in unknown)}; "
                    f"valid options are {', '.join(names)}"
                )
            out: dict[str, Any] = {}
            for p in params:
                value = options.get(p.name, p.default)
                try:
                    out[p.name] = table[p.name](p.name, value)
                except UsageError as error:
                    raise UsageError(f"{name}: {error.message}", hint=error.hint) from None
            checks = [c for c in (check_smoothing if "smooth_nr" in out else None, check) if c is not None]
            for each in checks:
                try:
                    each(out)
                except UsageError as error:
                    raise UsageError(f"{name}: {error.message}", hint=error.hint) from None
            return out

        @functools.wraps(fn)
        def kernel(
            input: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, **options: Any
        ) -> torch.Tensor:
            device = input.device.type if isinstance(input, torch.Tensor) else "cpu"
            if torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device):
                # the kernels choose their dtypes (float32 or float64); autocast would run matmuls and
                # convolutions in half precision inside them
                with torch.autocast(device, enabled=False):
                    return fn(input, target, mask, **options)
            return fn(input, target, mask, **options)

        @functools.wraps(fn)
        def public(
            input: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, **options: Any
        ) -> torch.Tensor:
            return kernel(input, target, mask, **validate(**options))

        public.validate = validate  # type: ignore[attr-defined]
        public.raw = kernel  # type: ignore[attr-defined]
        public.loss_name = name  # type: ignore[attr-defined]
        public.tensor_options = tuple(  # type: ignore[attr-defined]
            n for n in names if getattr(table[n], "is_tensor", False)
        )
        return public

    return wrap


def in_unit_interval(argument: str, value: Any) -> float:
    return number(low=0, high=1)(argument, value)


# --------------------------------------------------------------------------- module base


class LossModule(nn.Module):
    """Base of the catalog's modules: validated options, buffers for tensors, ``forward`` calls the function.

    Subclasses set ``function`` (the public loss function) and give ``__init__`` an explicit
    keyword-only signature with the same defaults as the function.
    """

    function: ClassVar[Callable[..., torch.Tensor]]

    def __init__(self, **options: Any) -> None:
        super().__init__()
        fn = type(self).function
        config = fn.validate(**options)  # type: ignore[attr-defined]
        self._options: dict[str, Any] = {}
        self._tensor_names: tuple[str, ...] = fn.tensor_options  # type: ignore[attr-defined]
        for key, value in config.items():
            if key in self._tensor_names:
                self.register_buffer(key, value if isinstance(value, torch.Tensor) else None)
                if not isinstance(value, torch.Tensor):
                    self._options[key] = value  # a scalar allowed in place of a tensor
            else:
                self._options[key] = value

    @property
    def options(self) -> dict[str, Any]:
        """The validated options, buffers included (a copy)."""
        out = dict(self._options)
        for key in self._tensor_names:
            buffer = getattr(self, key, None)
            if buffer is not None:
                out[key] = buffer
        return out

    def forward(self, input: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss of ``input`` (logits or probabilities) against ``target``.

        ``mask`` (optional, per call): pixels where it is 0 count nowhere (shapes: :func:`prepare`).
        """
        return type(self).function.raw(input, target, mask, **self.options)  # type: ignore[attr-defined]

    def extra_repr(self) -> str:
        parts = []
        for key, value in self.options.items():
            if isinstance(value, torch.Tensor):
                value = [round(v, 6) for v in value.tolist()]
            parts.append(f"{key}={str(value) if hasattr(value, 'value') else value!r}")
        return ", ".join(parts)
