"""Stage 3, decode: turn what a prediction file holds into a label map, in torch on the compute device.

A prediction may be

- an integer label map (also a float array of whole numbers, as some NIfTI writers store them);
- class probabilities or logits with a class axis: the label is the arg-max over that axis
  (ties go to the lowest class index);
- a single-channel foreground probability (labels 0/1 by ``p >= 0.5``) or logit map
  (``z >= 0``; the two agree since sigmoid(0) = 0.5).

The kind is inferred unless forced (``--pred-kind``): integer dtype → labels; floats that are all
whole numbers → labels; floats within [0, 1] → probabilities; other floats → logits. NaN or
infinite values are an input error. Once the case is counted, the count stage checks the inference
against the ground truth: a single-channel integer map follows :func:`integer_map_kind` (a label map,
an 8/16-bit probability image, or an error), and a single-channel float map against a ground truth
with labels other than 0 and 1 is an error unless ``--pred-kind`` forces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from segeval.errors import InputError
from segeval.options import PredKind

DEFAULT_THRESHOLDS = {PredKind.PROBS: 0.5, PredKind.LOGITS: 0.0}

_TORCH_SAFE = {np.dtype(np.uint16): np.int32, np.dtype(np.uint32): np.int64, np.dtype(np.uint64): np.int64}


def to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` as a tensor on ``device`` (native byte order; unsigned 16/32/64-bit widened to a signed type)."""
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype in _TORCH_SAFE:
        array = array.astype(_TORCH_SAFE[array.dtype])
    elif array.dtype == np.bool_:
        array = array.view(np.uint8)
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
        if not array.flags.writeable:
            array = array.copy()
    return torch.from_numpy(array).to(device, non_blocking=True)


def class_axis_for(
    pred_shape: tuple[int, ...],
    gt_shape: tuple[int, ...],
    *,
    requested: int | None,
    format_hint: int | None,
    path: object,
) -> int | None:
    """The class axis of a prediction, or ``None`` when it has the reference's shape.

    With one dimension more than the reference, the class axis is ``requested`` if given, else the
    only axis whose removal leaves the reference's shape, else the format's channel axis (the
    first axis for NumPy files, the 4th NIfTI dimension), else the first candidate.

    Raises
    ------
    InputError
        Shapes that cannot be reconciled, naming both.
    """
    if tuple(pred_shape) == tuple(gt_shape):
        return None
    candidates = [
        axis
        for axis in range(len(pred_shape))
        if len(pred_shape) == len(gt_shape) + 1 and pred_shape[:axis] + pred_shape[axis + 1 :] == tuple(gt_shape)
    ]
    if not candidates:
        raise InputError(
            f"{path}: prediction shape {tuple(pred_shape)} does not match ground-truth shape {tuple(gt_shape)}"
            " (nor with one class axis more)"
        )
    if requested is not None:
        axis = requested % len(pred_shape)
        if axis not in candidates:
            raise InputError(
                f"{path}: --channel-axis {requested} does not leave the ground-truth shape {tuple(gt_shape)}"
                f" from prediction shape {tuple(pred_shape)}; possible axes: {candidates}"
            )
        return axis
    if len(candidates) == 1:
        return candidates[0]
    if format_hint is not None and format_hint % len(pred_shape) in candidates:
        return format_hint % len(pred_shape)
    return candidates[0]


@dataclass(frozen=True)
class DecodedPrediction:
    """A prediction turned into labels, and how."""

    labels: torch.Tensor
    kind: PredKind
    class_axis: int | None
    threshold: float | None
    inferred: bool = False
    """The kind was inferred from the values (``--pred-kind auto``), not forced."""
    value_range: tuple[float, float] | None = None
    """Smallest and largest value of a floating-point prediction."""


def decode_prediction(
    x: torch.Tensor, *, kind: PredKind, class_axis: int | None, threshold: float | None, path: object
) -> DecodedPrediction:
    """Labels from a prediction tensor (see the module docstring for the rules)."""
    if class_axis is not None and x.shape[class_axis] == 1:
        x, class_axis = x.squeeze(class_axis), None
    if not x.is_floating_point():
        if class_axis is None:
            if kind in (PredKind.PROBS, PredKind.LOGITS):
                raise InputError(f"{path}: --pred-kind {kind.value} but the file holds integers ({_dtype(x)})")
            return DecodedPrediction(x, PredKind.LABELS, None, None, inferred=kind is PredKind.AUTO)
        if kind is PredKind.LABELS:
            raise InputError(f"{path}: --pred-kind labels but the file has a class axis {class_axis}")
        return DecodedPrediction(torch.argmax(x, dim=class_axis), PredKind.PROBS, class_axis, None)

    low, high = (float(v) for v in torch.aminmax(x))
    if not (np.isfinite(low) and np.isfinite(high)):
        n_nan, n_inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
        raise InputError(f"{path}: prediction holds {n_nan} NaN and {n_inf} infinite values")
    inferred = kind is PredKind.AUTO
    if inferred:
        if class_axis is None and bool((x == torch.round(x)).all()):
            kind = PredKind.LABELS
        elif low >= 0.0 and high <= 1.0:
            kind = PredKind.PROBS
        else:
            kind = PredKind.LOGITS
    if class_axis is not None:
        if kind is PredKind.LABELS:
            raise InputError(f"{path}: --pred-kind labels but the file has a class axis {class_axis}")
        return DecodedPrediction(torch.argmax(x, dim=class_axis), kind, class_axis, None, inferred, (low, high))
    if kind is PredKind.LABELS:
        if not bool((x == torch.round(x)).all()):
            raise InputError(f"{path}: --pred-kind labels but the file holds non-integer values")
        return DecodedPrediction(x.long(), kind, None, None, inferred, (low, high))
    if kind is PredKind.PROBS and (low < 0.0 or high > 1.0):
        raise InputError(f"{path}: probabilities outside [0, 1] (min {low:.6g}, max {high:.6g})")
    cut = DEFAULT_THRESHOLDS[kind] if threshold is None else threshold
    if kind is PredKind.PROBS and not 0.0 < cut < 1.0:
        raise InputError(
            f"{path}: read as probabilities, but --threshold {cut:g} is outside (0, 1)",
            hint="give a threshold in (0, 1), or --pred-kind logits for logit maps",
        )
    return DecodedPrediction((x >= cut).to(torch.uint8), kind, None, cut, inferred, (low, high))


MAX_STRAY_VALUES = 16
"""A single-channel integer prediction may hold at most this many values outside the label set and still be
read as a label map (false positives of classes absent from the case); more is not a label map."""
PROBABILITY_IMAGE_MIN_VALUES = 16
"""An 8- or 16-bit single-channel prediction with more distinct values than this, against a binary reference,
is a probability image (value / 255, or / 65535)."""


def integer_map_kind(
    values: set[int], dtype: np.dtype, label_set: set[int], reference_binary: bool, *, path: object
) -> PredKind:
    """What a single-channel integer prediction holding ``values`` is: the one rule of ``score`` and ``losses``.

    - a label map when its values are within ``label_set`` (the declared labels, else the case's
      ground-truth labels), 255 allowed in a 0/255 mask;
    - else, against a binary reference, an 8- or 16-bit image with more than
      :data:`PROBABILITY_IMAGE_MIN_VALUES` distinct values is a probability map (value / 255 or / 65535);
    - else a label map when at most :data:`MAX_STRAY_VALUES` values are outside the label set (they are
      scored as classes, and reported);
    - else not a label map: an input error naming the values and ``--pred-kind``.
    """
    allowed = label_set | {255} if values <= {0, 255} else label_set
    if values <= allowed:
        return PredKind.LABELS
    if reference_binary and dtype in (np.uint8, np.uint16) and len(values) > PROBABILITY_IMAGE_MIN_VALUES:
        return PredKind.PROBS
    extra = sorted(values - allowed)
    if len(extra) <= MAX_STRAY_VALUES:
        return PredKind.LABELS
    shown = ", ".join(map(str, extra[:5]))
    raise InputError(
        f"{path}: {len(values)} distinct values ({min(values)} to {max(values)}) where the label set is "
        f"{sorted(label_set)}; {len(extra)} of them ({shown}, ...) are not labels: this is not a label map",
        hint="give --pred-kind probs or logits for a probability or logit map, or --labels for the label set",
    )


def decode_reference(x: torch.Tensor, *, path: object) -> torch.Tensor:
    """A ground-truth label map as an integer tensor; fractional or non-finite values are an input error."""
    if not x.is_floating_point():
        return x
    if not bool(torch.isfinite(x).all()):
        raise InputError(f"{path}: ground truth holds NaN or infinite values")
    if not bool((x == torch.round(x)).all()):
        raise InputError(
            f"{path}: ground truth holds non-integer values (e.g. {float(x[x != torch.round(x)][0]):.6g});"
            " it must be a label map"
        )
    return x.long()


def _dtype(x: torch.Tensor) -> str:
    return str(x.dtype).replace("torch.", "")
