"""Stage 4, count: one joint histogram per case on the device; labels normalised and checked; distances.

Label normalisation is decided once per case from the histogram (no extra pass over the pixels):
a 0/255 binary image reads as labels 0/1, and reference pixels equal to the ignore index count
nowhere. The same decision, kept as explicit fields of the record, is applied to the label maps
of the distance metrics (:func:`normalised_label_maps`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from segeval.config import ScoreConfig
from segeval.errors import InputError
from segeval.metrics.confusion import RawCounts, drop_reference_value, joint_histograms, remap_values
from segeval.options import PredKind
from segeval.pipeline.decode import (
    DEFAULT_THRESHOLDS,
    DecodedPrediction,
    decode_prediction,
    decode_reference,
    integer_map_kind,
    to_tensor,
)
from segeval.pipeline.load import BACKGROUND, CaseRecord, LoadedCase
from segeval.report.thumbnails import ThumbnailRequest, draw


def count_batch(
    batch: list[LoadedCase],
    config: ScoreConfig,
    device: torch.device,
    distance_names: list[str] | None = None,
    distance_options=None,
    lesion_names: tuple[str, ...] = (),
    thumbnails: ThumbnailRequest | None = None,
) -> list[CaseRecord]:
    """Decode each prediction and reference on ``device``, count the batch's joint histograms in one
    call, and compute the distance metrics ``distance_names`` and lesion-wise metrics ``lesion_names`` of each
    case when asked for; with ``thumbnails``, draw each case's overlay from its label maps as counted (a failed
    case with a decoded reference shows the reference alone)."""
    records: dict[str, CaseRecord] = {}
    ready: list[
        tuple[CaseRecord, LoadedCase, torch.Tensor | None, DecodedPrediction | None, torch.Tensor, torch.Tensor]
    ] = []
    for item in batch:
        record, gt = item.record, None
        try:
            gt = decode_reference(to_tensor(item.gt.array, device), path=item.gt.path)
            raw, decoded = None, None
            if item.pred is None:
                pred = torch.full_like(gt, BACKGROUND)
            else:
                raw = to_tensor(item.pred.array, device)
                decoded = decode_prediction(
                    raw,
                    kind=config.pred_kind,
                    class_axis=record.class_axis,
                    threshold=config.threshold,
                    path=item.pred.path,
                )
                pred = (
                    channel_labels(decoded.labels, item, config) if decoded.class_axis is not None else decoded.labels
                )
                record = replace(record, pred_kind=decoded.kind.value, threshold=decoded.threshold)
            ready.append((record, item, raw, decoded, pred, gt))
        except Exception as exc:
            record = _failed(record, exc, gt, config, thumbnails)
        records[record.case] = record
    histograms = joint_histograms([pred for *_, pred, _ in ready], [gt for *_, gt in ready])
    for (record, item, raw, decoded, pred, gt), counts in zip(ready, histograms):
        try:
            if decoded is not None and decoded.inferred and decoded.class_axis is None:
                record, pred, counts = check_inferred_kind(record, item, raw, decoded, pred, gt, counts, config)
            record = normalise_labels(record, counts, item, config)
            if distance_names or lesion_names or thumbnails is not None:
                pred_np, gt_np = normalised_label_maps(pred, gt, record, config)
            if distance_names:
                distances = case_distances(record, pred_np, gt_np, config, distance_names, distance_options)
                record = replace(record, distances=distances)
            if lesion_names:
                record = replace(record, lesions=case_lesions(record, item, pred_np, gt_np, config, lesion_names))
            if thumbnails is not None:
                record = draw(record, pred_np, gt_np, thumbnails)
        except Exception as exc:
            record = _failed(record, exc, gt, config, thumbnails)
        records[record.case] = record
    return [records[item.record.case] for item in batch]


def _failed(
    record: CaseRecord,
    error: Exception,
    gt: torch.Tensor | None,
    config: ScoreConfig,
    thumbnails: ThumbnailRequest | None,
) -> CaseRecord:
    """``record`` failed with ``error``; with ``thumbnails`` and a decoded reference, drawn as the reference alone."""
    record = record.failed(error)
    if thumbnails is None or gt is None:
        return record
    try:
        _, gt_np = normalised_label_maps(gt, gt, record, config)
    except Exception:  # a picture is a convenience: the case goes without one
        return record
    return draw(record, gt_np, gt_np, thumbnails)


def check_inferred_kind(
    record: CaseRecord,
    item: LoadedCase,
    raw: torch.Tensor,
    decoded: DecodedPrediction,
    pred: torch.Tensor,
    gt: torch.Tensor,
    counts: RawCounts,
    config: ScoreConfig,
) -> tuple[CaseRecord, torch.Tensor, RawCounts]:
    """Check an inferred single-channel kind against the case's ground truth, from the histogram.

    An integer map follows :func:`~segeval.pipeline.decode.integer_map_kind`: read as a probability
    image, it is thresholded again and recounted. A float map read as probabilities or logits needs a
    binary ground truth.

    Raises
    ------
    InputError
        A map that is not what it was inferred to be, naming the file, what it holds and ``--pred-kind``.
    """
    reference = set(counts.gt_values.tolist()) - {config.ignore_index}
    reference_binary = reference <= {0, 1} or (item.gt.format == "image" and reference <= {0, 255})
    if decoded.kind is PredKind.LABELS and not raw.is_floating_point():
        label_set = set(config.labels) if config.labels is not None else reference
        kind = integer_map_kind(
            set(counts.pred_values.tolist()), item.pred.array.dtype, label_set, reference_binary, path=item.pred.path
        )
        if kind is PredKind.PROBS:
            cut = DEFAULT_THRESHOLDS[PredKind.PROBS] if config.threshold is None else config.threshold
            if not 0.0 < cut < 1.0:
                raise InputError(
                    f"{item.pred.path}: read as a probability image, but --threshold {cut:g} is outside (0, 1)"
                )
            scale = float(np.iinfo(item.pred.array.dtype).max)
            pred = (raw.float() / scale >= cut).to(torch.uint8)
            counts = joint_histograms([pred], [gt])[0]
            record = replace(record, pred_kind=PredKind.PROBS.value, threshold=cut, pred_scale=scale)
    elif decoded.kind in (PredKind.PROBS, PredKind.LOGITS) and not reference_binary:
        low, high = decoded.value_range
        distinct = int(torch.unique(raw).numel())
        raise InputError(
            f"{item.pred.path}: a single-channel map of {distinct} distinct values ({low:.6g} to {high:.6g}), not "
            f"all integers, reads as a binary {decoded.kind.value} map, but the ground truth {item.gt.path.name} "
            f"holds labels {sorted(reference)}",
            hint="give --pred-kind probs or logits to score it as a foreground map anyway, or save a label map",
        )
    return record, pred, counts


def channel_labels(channels: torch.Tensor, item: LoadedCase, config: ScoreConfig) -> torch.Tensor:
    """Label values of arg-max channel indices: channel i is ``config.labels[i]`` when labels are declared."""
    if config.labels is None or list(config.labels) == list(range(len(config.labels))):
        return channels
    n_channels = item.pred.array.shape[item.record.class_axis]
    if n_channels != len(config.labels):
        raise InputError(
            f"{item.pred.path}: {n_channels} channels but {len(config.labels)} declared labels "
            f"{list(config.labels)}; channel i is scored as the i-th label"
        )
    return torch.tensor(config.labels, device=channels.device)[channels]


def normalise_labels(record: CaseRecord, counts: RawCounts, item: LoadedCase, config: ScoreConfig) -> CaseRecord:
    """The record with its counts: 0/255 images mapped to 0/1, ignored pixels dropped, labels checked.

    Raises
    ------
    InputError
        A prediction holding the ignore index where the reference is labelled; a label value
        outside the declared labels (naming the file).
    """
    declared = set(config.labels) if config.labels is not None else None
    if declared is None:
        for image, present in ((item.gt, counts.gt_values), (item.pred, counts.pred_values)):
            negative = sorted(v for v in present.tolist() if v < 0 and v != config.ignore_index)
            if negative:
                raise InputError(
                    f"{image.path if image is not None else record.case}: negative label value {negative[0]}",
                    hint="declare every label with --labels to score negative ones",
                )
    gt_present = set(counts.gt_values.tolist())
    ignored_pixels = 0
    if config.ignore_index is not None and config.ignore_index in gt_present:
        ignored_pixels = int(counts.cm[counts.values == config.ignore_index].sum())
    binary_255_ignored = (
        config.ignore_index == 255 and item.gt.format == "image" and gt_present <= {0, 255} and 255 in gt_present
    )
    remapped = {}
    for side, image, present in (("gt", item.gt, counts.gt_values), ("pred", item.pred, counts.pred_values)):
        remapped[side] = (
            image is not None and image.format == "image" and _is_binary_255(present, declared, config.ignore_index)
        )
        if remapped[side]:
            counts = remap_values(counts, {255: 1}, side=side)
    if config.ignore_index is not None:
        counts = drop_reference_value(counts, config.ignore_index)
        if config.ignore_index in counts.pred_values:
            raise InputError(
                f"{item.pred.path if item.pred else record.case}: prediction holds the ignore index "
                f"{config.ignore_index} on pixels the ground truth labels; predictions must hold class labels"
            )
    if declared is not None:
        for image, present in ((item.gt, counts.gt_values), (item.pred, counts.pred_values)):
            unknown = sorted(set(present.tolist()) - declared)
            if unknown:
                path = image.path if image is not None else record.case
                raise InputError(
                    f"{path}: label value {unknown[0]} is not among the declared labels "
                    f"{', '.join(map(str, sorted(declared)))}"
                    + (f" (also {', '.join(map(str, unknown[1:6]))})" if len(unknown) > 1 else "")
                )
    return replace(
        record,
        counts=counts,
        gt_remapped_0_255=remapped["gt"],
        pred_remapped_0_255=remapped["pred"],
        ignored_pixels=ignored_pixels,
        gt_binary_255_ignored=binary_255_ignored,
    )


def _is_binary_255(present: np.ndarray, declared: set[int] | None, ignore_index: int | None) -> bool:
    values = set(present.tolist())
    return 255 in values and values <= {0, 255} and ignore_index != 255 and (declared is None or 255 not in declared)


def normalised_label_maps(
    pred: torch.Tensor, gt: torch.Tensor, record: CaseRecord, config: ScoreConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The label maps as counted: 0/255 mapped to 0/1 as decided for the counts, and reference pixels
    equal to the ignore index set to background on both sides (they belong to no surface)."""
    pred_np, gt_np = pred.cpu().numpy(), gt.cpu().numpy()
    if record.pred_remapped_0_255:
        pred_np = np.where(pred_np == 255, 1, pred_np)
    if record.gt_remapped_0_255:
        gt_np = np.where(gt_np == 255, 1, gt_np)
    if config.ignore_index is not None:
        ignored = gt_np == config.ignore_index
        if ignored.any():
            pred_np, gt_np = np.where(ignored, BACKGROUND, pred_np), np.where(ignored, BACKGROUND, gt_np)
    return pred_np, gt_np


def case_lesions(
    record: CaseRecord, item: LoadedCase, pred_np: np.ndarray, gt_np: np.ndarray, config: ScoreConfig, names: list[str]
) -> dict[int | None, object]:
    """Lesion-wise results (:func:`segeval.metrics.lesion.lesion_metrics`) of every label present in the case
    (background only with ``include_background``) and of every label region (by name, from its union masks), each
    keeping the case values of ``names`` only; under the key ``None``, the result of a label absent from both masks
    (:func:`segeval.metrics.lesion.empty_result`)."""
    from segeval.metrics.lesion import Geometry, empty_result, lesion_metrics

    options = config.lesion_options()
    geometry = Geometry(record.spacing_mm, item.gt.origin_mm, item.gt.direction)
    results = {None: empty_result(options)}
    for label in (int(v) for v in record.counts.values if config.include_background or v != BACKGROUND):
        results[label] = lesion_metrics(pred_np == label, gt_np == label, geometry, options)
    for region in config.region_definitions():
        pred_mask, gt_mask = np.isin(pred_np, region.labels), np.isin(gt_np, region.labels)
        if pred_mask.any() or gt_mask.any():
            results[region.name] = lesion_metrics(pred_mask, gt_mask, geometry, options)
    return {key: replace(result, values={n: result.values[n] for n in names}) for key, result in results.items()}


def case_distances(
    record: CaseRecord, pred_np: np.ndarray, gt_np: np.ndarray, config: ScoreConfig, names: list[str], options
) -> dict[int, dict[str, tuple[float, str]]]:
    """Distance metrics of every label present in the case (background only with ``include_background``), and of
    every label region (keyed by its name) from its union masks."""
    from segeval.metrics.distance import distance_metrics

    labels = [int(v) for v in record.counts.values if config.include_background or v != BACKGROUND]
    out = distance_metrics(pred_np, gt_np, labels, record.spacing_mm, names, options)
    for region in config.region_definitions():
        pred_mask, gt_mask = (np.isin(side, region.labels).astype(np.uint8) for side in (pred_np, gt_np))
        region_options = options
        if "nsd" in names:  # the config checked that the region's labels share one tolerance
            region_options = replace(options, nsd_tolerance_mm=options.tolerance_for(region.labels[0]))
        out[region.name] = distance_metrics(pred_mask, gt_mask, [1], record.spacing_mm, names, region_options)[1]
    return out
