"""The one vocabulary of statuses: of a metric value, of a case, of a loss value.

Every ``status`` column of every report (``per_case.csv`` of ``segeval score`` and of the loss
commands) holds one of these values; docs/reports.md says what each means.
"""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """Why a value is what it is (``ok``), or why it is missing."""

    OK = "ok"
    """A value computed from non-degenerate inputs."""
    BOTH_EMPTY = "both_empty"
    """The class is absent from both prediction and reference: the empty policy gives the value."""
    REF_EMPTY = "ref_empty"
    """The class is absent from the reference only."""
    PRED_EMPTY = "pred_empty"
    """The class is absent from the prediction only."""
    ONE_EMPTY = "one_empty"
    """A distance metric whose class is absent from exactly one side."""
    REF_FULL = "ref_full"
    """The class fills the whole reference: no negative pixel (specificity is NaN)."""
    PRED_FULL = "pred_full"
    """The class fills the whole prediction, not the reference: no predicted negative pixel (NPV is NaN)."""
    NO_VALID_PIXEL = "no_valid_pixel"
    """Every reference pixel of the case is ignored."""
    NO_VALID_CLASS = "no_valid_class"
    """A class mean over no class with a value."""
    NOT_COMPUTED = "not_computed"
    """A value left out on purpose (the background of a distance metric without ``include_background``)."""
    NON_FINITE = "non_finite"
    """A loss value that is NaN or infinite."""
    ZERO_GRADIENT = "zero_gradient"
    """A loss whose gradient is zero everywhere on the case (gradient anatomy)."""
    SKIPPED = "skipped"
    """A sweep level that cannot be made on this mask (the note says why)."""
    MISSING_PRED = "missing_pred"
    """A case without prediction, scored as an empty prediction."""
    FAILED = "failed"
    """A case (or a loss on a case) that could not be computed; its ``error`` says why."""


STATUS_CODES: tuple[Status, ...] = tuple(Status)
"""Status by integer code: the vectorised kernels return ``int8`` codes into this tuple."""
CODE = {status: code for code, status in enumerate(STATUS_CODES)}
"""Integer code of each status."""
