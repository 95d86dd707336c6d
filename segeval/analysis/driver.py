"""The loss-on-files driver of ``segeval losses run`` and ``segeval losses analyze``.

Same pairing, readers and error handling as ``segeval score``::

    pair files → load (worker threads) → per case: prediction (1, C, *S) + target (1, *S) on the device
               → the command's per-case computation → rows (a case that fails gives one failed row)

A prediction with a class axis is used in ``multiclass`` mode against the class index of each
label (``labels`` gives the label of each channel, default 0..C-1); a single-channel map in
``binary`` mode against the foreground (label 1; 0/255 masks are read as 0/1). A single-channel integer
prediction follows the rule of ``segeval score`` (:func:`segeval.pipeline.decode.integer_map_kind`): an 8- or
16-bit image with many values against a binary mask is a foreground probability (value / 255 or / 65535);
a label map is an input error.
Whether the maps hold logits or probabilities is inferred per case (values within [0, 1] →
probabilities) unless ``from_logits`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from segeval.config import ScoreConfig, default_workers
from segeval.errors import InputError
from segeval.io.pairing import CasePair
from segeval.io.palette import read_palette
from segeval.options import PredKind
from segeval.pipeline.chunks import Progress
from segeval.pipeline.decode import decode_reference, integer_map_kind, to_tensor
from segeval.pipeline.load import CaseRecord, LoadedCase, load_ahead
from segeval.status import Status


@dataclass(frozen=True)
class PreparedCase:
    """One case ready for the losses: prediction (1, C, *S) float, target (1, *S) long, and how it was read."""

    record: CaseRecord
    prediction: torch.Tensor
    target: torch.Tensor
    mode: str
    """``binary`` or ``multiclass``."""
    from_logits: bool


def run_cases(
    pairs: list[CasePair],
    config: ScoreConfig,
    device: torch.device,
    from_logits: bool | None,
    compute: Callable[[PreparedCase], list[dict]],
    progress: Progress | None = None,
) -> tuple[list[CaseRecord], list[dict]]:
    """``compute`` on every case that loads and prepares; one failed row for each case that does not."""
    palette = read_palette(config.palette) if config.palette is not None else None
    records: list[CaseRecord] = []
    rows: list[dict] = []
    for item in load_ahead(pairs, config, palette, config.workers or default_workers()):
        record = item if isinstance(item, CaseRecord) else item.record
        if isinstance(item, LoadedCase):
            try:
                prepared = prepare_case(item, config, from_logits, device)
            except Exception as exc:  # one bad case never stops the run
                record = record.failed(exc)
            else:
                record = prepared.record
                rows += compute(prepared)
        if record.status is Status.FAILED:
            rows.append(failed_row(record))
        records.append(record)
        if progress is not None:
            progress(len(records), len(pairs))
    return records, rows


def failed_row(record: CaseRecord) -> dict:
    """The one row of a case that could not be read or prepared."""
    return {
        "case": record.case,
        "loss": "",
        "family": "",
        "mode": "",
        "value": math.nan,
        "status": Status.FAILED.value,
        "error": record.error,
    }


def _integer_probabilities(pred: torch.Tensor, gt: torch.Tensor, item: LoadedCase, config: ScoreConfig) -> torch.Tensor:
    """A single-channel integer prediction as probabilities, by the rule ``segeval score`` uses
    (:func:`~segeval.pipeline.decode.integer_map_kind`); a label map is an input error."""
    values, reference = set(torch.unique(pred).tolist()), set(torch.unique(gt).tolist())
    label_set = set(config.labels) if config.labels is not None else reference
    kind = integer_map_kind(values, item.pred.array.dtype, label_set, reference <= {0, 1}, path=item.pred.path)
    if kind is PredKind.LABELS:
        shown = ", ".join(map(str, sorted(values)[:6])) + (", ..." if len(values) > 6 else "")
        raise InputError(
            f"{item.pred.path}: the prediction is a label map (values {shown}), not a probability or logit map; "
            f"losses need probabilities or logits (ground truth: {item.gt.path.name})",
            hint="give the network's probability or logit output, e.g. NPY/NPZ maps with a class axis",
        )
    return pred.float() / float(np.iinfo(item.pred.array.dtype).max)


def prepare_case(item: LoadedCase, config: ScoreConfig, from_logits: bool | None, device: torch.device) -> PreparedCase:
    """The prediction and target tensors of one case (module docstring for the rules)."""
    record, pred_image = item.record, item.pred
    if pred_image is None:
        raise InputError(f"{record.case}: no prediction")
    pred = to_tensor(pred_image.array, device)
    gt = decode_reference(to_tensor(item.gt.array, device), path=item.gt.path).long()
    if item.gt.format == "image" and bool(((gt == 0) | (gt == 255)).all()) and bool((gt == 255).any()):
        gt = gt // 255
    if not pred.is_floating_point() and record.class_axis is None:
        pred = _integer_probabilities(pred, gt, item, config)
    if not pred.is_floating_point():
        raise InputError(f"{pred_image.path}: losses need probability or logit maps; the file holds integer labels")
    low, high = (float(v) for v in torch.aminmax(pred))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(f"{pred_image.path}: prediction holds NaN or infinite values")
    logits = from_logits if from_logits is not None else not (low >= 0.0 and high <= 1.0)
    record = replace(record, pred_kind="logits" if logits else "probs")
    axis = record.class_axis
    if axis is None or pred.shape[axis] == 1:
        prediction = (pred if axis is None else pred.squeeze(axis)).float()[None, None]
        values = set(torch.unique(gt).tolist())
        if not values <= {0, 1}:
            raise InputError(
                f"{item.gt.path}: a single-channel prediction needs a binary mask; found labels {sorted(values)}"
            )
        return PreparedCase(record, prediction, gt[None], "binary", logits)
    prediction = torch.movedim(pred, axis, 0).float()[None]
    n_classes = prediction.shape[1]
    labels = list(config.labels) if config.labels is not None else list(range(n_classes))
    if len(labels) != n_classes:
        raise InputError(f"{pred_image.path}: {n_classes} channels but {len(labels)} labels {labels}")
    lookup = torch.full((max(max(labels), int(gt.max())) + 1,), -1, dtype=torch.long, device=device)
    lookup[torch.tensor(labels, device=device)] = torch.arange(n_classes, device=device)
    if int(gt.min()) < 0 or bool((lookup[gt] < 0).any()):
        unknown = sorted(set(torch.unique(gt).tolist()) - set(labels))
        raise InputError(f"{item.gt.path}: label value {unknown[0]} has no channel; channels are labels {labels}")
    return PreparedCase(record, prediction, lookup[gt][None], "multiclass", logits)
