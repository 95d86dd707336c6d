"""The vocabularies of the loss catalog: one ``StrEnum`` per axis.

Every loss takes these as plain strings or as enum members; an unknown value raises
:class:`~segeval.errors.UsageError` naming the argument, the valid values and the closest match.
"""

from __future__ import annotations

import difflib
import enum
from typing import TypeVar

from segeval.errors import UsageError

__all__ = ["Aggregation", "Average", "Family", "Mode", "Reduction", "UnifiedVariant", "WeightType", "as_enum"]

StrEnum = enum.StrEnum


class Mode(StrEnum):
    """How channels and targets are read (the shapes are documented once, in :mod:`segeval.losses`).

    - ``binary``: input ``(B, 1, *S)``, one foreground channel, sigmoid; target ``(B, 1, *S)`` or
      ``(B, *S)`` with values in ``{0, 1}`` (soft values in ``[0, 1]`` where the loss allows them).
    - ``multiclass``: input ``(B, C, *S)`` with ``C >= 2`` mutually exclusive classes, softmax;
      target ``(B, *S)`` integer class indices or ``(B, C, *S)`` one-hot.
    - ``multilabel``: input ``(B, C, *S)``, ``C`` independent labels, sigmoid per channel;
      target ``(B, C, *S)`` with values in ``{0, 1}``.
    """

    BINARY = "binary"
    MULTICLASS = "multiclass"
    MULTILABEL = "multilabel"


class Reduction(StrEnum):
    """What a loss returns: ``none`` (its unreduced values, shape stated per loss), ``mean`` or ``sum``."""

    NONE = "none"
    MEAN = "mean"
    SUM = "sum"


class Aggregation(StrEnum):
    """Where region statistics (soft TP/FP/FN, frequencies, top-k pools) are summed.

    - ``image``: per image and class, then reduced ("per-image Dice", MONAI's default).
    - ``batch``: summed over the whole batch first ("batch Dice": smp, MONAI ``batch=True``,
      nnU-Net ``batch_dice``; the Keras blog code's flattened tensor is the same thing).
    - ``distributed``: ``batch``, then summed over every process of the default
      ``torch.distributed`` group (nnU-Net's batch Dice under DDP). Region losses built on soft
      counts only; the same as ``batch`` when ``torch.distributed`` is not initialised.
    """

    IMAGE = "image"
    BATCH = "batch"
    DISTRIBUTED = "distributed"


class Average(StrEnum):
    """How a region loss combines its classes.

    - ``macro``: one score per class, then their mean (the default of every region loss).
    - ``micro``: the soft counts of the kept classes are pooled first, one score from the pooled
      counts (one value per image, or one for the batch).
    """

    MACRO = "macro"
    MICRO = "micro"


class WeightType(StrEnum):
    """Class weights of the generalised Dice loss from the target volume ``G_c`` (MONAI's ``w_type``)."""

    SQUARE = "square"  #: 1 / G_c^2 (Sudre et al.)
    SIMPLE = "simple"  #: 1 / G_c
    UNIFORM = "uniform"  #: 1


class Family(StrEnum):
    """The four families of the survey by Ma et al. (2021)."""

    DISTRIBUTION = "distribution"
    REGION = "region"
    BOUNDARY = "boundary"
    COMPOUND = "compound"


class UnifiedVariant(StrEnum):
    """The two forms of the unified focal loss (Yeung et al. 2022)."""

    ASYMMETRIC = "asymmetric"
    SYMMETRIC = "symmetric"


E = TypeVar("E", bound=StrEnum)


def as_enum(enum_type: type[E], value: object, argument: str) -> E:
    """Return ``value`` as a member of ``enum_type``; raise :class:`UsageError` otherwise.

    Strings are matched case-insensitively, with ``-`` and spaces read as ``_``.
    """
    if isinstance(value, enum_type):
        return value
    options = [member.value for member in enum_type]
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
        if key in options:
            return enum_type(key)
        close = difflib.get_close_matches(key, options, n=1, cutoff=0.5)
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
    else:
        suggestion = ""
    raise UsageError(
        f"Expected `{argument}` to be one of {', '.join(repr(o) for o in options)}, got {value!r}{suggestion}"
    )
