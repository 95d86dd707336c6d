"""Stage 6, derive: every catalog metric of the scored cases, from their confusion matrices.

Each counted metric of :data:`segeval.metrics.catalog.CATALOG` is computed by its own ``compute``,
vectorised over cases, in float64 on the small C×C matrices; pooled values follow each metric's
:class:`~segeval.metrics.catalog.Pooling`. Distance metrics come from the records (the count stage
computed them) and are laid out the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segeval.metrics.catalog import Derivation, Level, MetricSpec, Pooling, counted_metrics, resolve_metric
from segeval.metrics.confusion import class_matrix
from segeval.metrics.overlap import ClassCounts
from segeval.options import EMPTY_PRESETS, EmptyPolicy, EmptyPreset
from segeval.pipeline.load import BACKGROUND, CaseRecord
from segeval.regions import Region, region_counts
from segeval.status import STATUS_CODES, Status

BOUNDED_DISTANCES = ("nsd", "boundary_iou")
"""Surface metrics on [0, 1] (a both-empty class takes the preset's bounded value)."""
MetricArrays = dict[str, tuple[np.ndarray, np.ndarray]]
"""metric name → (values, statuses): float64 and status-name arrays of shape (cases, classes) or (cases,)."""


@dataclass(frozen=True)
class Derived:
    """Every metric of the scored cases, per case and pooled."""

    per_class: MetricArrays
    """Class-level metrics, (cases, classes) arrays, in catalog order, then the distance metrics."""
    per_case: MetricArrays
    """Case-level metrics, (cases,) arrays, in catalog order."""
    pooled_class: dict[str, np.ndarray]
    """Pooled value of each class-level metric that has one, shape (classes,)."""
    pooled_case: dict[str, float]
    """Case-level metrics of the pooled confusion matrix."""
    confusion: np.ndarray
    """The confusion matrix summed over scored cases (rows = reference, columns = prediction)."""
    region_names: tuple[str, ...] = ()
    """Names of the label regions, whose columns follow the labels' in the class-level arrays."""


def derive(
    records: list[CaseRecord],
    labels: list[int],
    *,
    include_background: bool,
    empty_score: float,
    distance_names: list[str],
    regions: tuple[Region, ...] = (),
    requested: tuple[MetricSpec, ...] = (),
    empty: EmptyPreset = EMPTY_PRESETS[EmptyPolicy.DEFAULT],
) -> Derived:
    """Compute every metric from the scored cases' confusion matrices and distances; ``regions`` get class-level
    metrics from block sums of the same matrices (:func:`segeval.regions.region_counts`), after the labels."""
    scored = [r for r in records if r.scored]
    n_classes = len(labels)
    labels_arr = np.asarray(labels, dtype=np.int64)
    cms = (
        np.stack([class_matrix(r.counts, labels_arr) for r in scored])
        if scored
        else np.zeros((0, n_classes, n_classes), dtype=np.int64)
    )
    foreground = np.array([include_background or v != BACKGROUND for v in labels], dtype=bool)
    voxel_volume = np.array([r.voxel_volume for r in scored])[:, None]
    per_cases = Derivation(empty_score, foreground, voxel_volume, empty.ref_empty_nan)
    pooled = Derivation(empty_score, foreground, np.ones(1), empty.ref_empty_nan)
    counts, pooled_counts = ClassCounts.from_confusion(cms), ClassCounts.from_confusion(cms.sum(axis=0))

    per_class, pooled_class = {}, {}
    for spec in counted_metrics(Level.CLASS, requested):
        per_class[spec.name] = _named(spec.compute(counts, per_cases))
        if spec.pooling is Pooling.CONFUSION:
            pooled_class[spec.name] = spec.compute(pooled_counts, pooled)[0]
        elif spec.pooling is Pooling.SUM:
            pooled_class[spec.name] = per_class[spec.name][0].sum(axis=0)
    if regions:
        _add_regions(
            per_class, pooled_class, cms, labels, regions, empty_score, voxel_volume, ref_empty_nan=empty.ref_empty_nan
        )
    units = [*labels, *(region.name for region in regions)]
    per_class.update(
        distance_arrays(scored, units, distance_names, both_empty=(empty.both_empty_distance, empty.both_empty_bounded))
    )
    lesion_values, lesion_pooled = lesion_arrays(scored, [*labels, *(region.name for region in regions)])
    per_class.update(lesion_values)
    pooled_class.update(lesion_pooled)
    per_case, pooled_case = {}, {}
    for spec in counted_metrics(Level.CASE, requested):
        per_case[spec.name] = _named(spec.compute(counts, per_cases))
        pooled_case[spec.name] = float(spec.compute(pooled_counts, pooled)[0])
    return Derived(
        per_class, per_case, pooled_class, pooled_case, cms.sum(axis=0), tuple(region.name for region in regions)
    )


def _add_regions(
    per_class: MetricArrays,
    pooled_class: dict[str, np.ndarray],
    cms: np.ndarray,
    labels: list[int],
    regions: tuple[Region, ...],
    empty_score: float,
    voxel_volume: np.ndarray,
    *,
    ref_empty_nan: bool = False,
) -> None:
    """Append each region's column to the class-level metrics in ``per_class``, per case and pooled (case-level
    metrics, class means among them, stay over the labels)."""
    every = np.ones(len(regions), dtype=bool)
    counts = region_counts(cms, labels, list(regions))
    pooled_counts = region_counts(cms.sum(axis=0), labels, list(regions))
    per_cases = Derivation(empty_score, every, voxel_volume, ref_empty_nan)
    pooled = Derivation(empty_score, every, np.ones(1), ref_empty_nan)
    for name in list(per_class):
        spec = resolve_metric(name)
        values, status = _named(spec.compute(counts, per_cases))
        per_class[name] = (
            np.concatenate([per_class[name][0], values], 1),
            np.concatenate([per_class[name][1], status], 1),
        )
        if spec.pooling is Pooling.CONFUSION:
            region_pooled = spec.compute(pooled_counts, pooled)[0]
        elif spec.pooling is Pooling.SUM:
            region_pooled = values.sum(axis=0)
        else:
            continue
        pooled_class[name] = np.concatenate([pooled_class[name], region_pooled])


def distance_arrays(
    scored: list[CaseRecord],
    labels: list[int | str],
    names: list[str],
    *,
    both_empty: tuple[float, float] = (np.nan, np.nan),
) -> MetricArrays:
    """Distance metrics of the scored cases as (cases, classes) arrays.

    A label absent from both masks of a case has status ``both_empty`` and the value ``both_empty`` gives (distances,
    then NSD and boundary IoU; NaN unless ``--empty-policy`` says otherwise); the background,
    when it was not computed (``include_background`` off), is NaN with status ``not_computed`` and
    is left out of the tables.
    """
    arrays: MetricArrays = {}
    for name in names:
        values = np.full((len(scored), len(labels)), np.nan)
        status = np.full((len(scored), len(labels)), Status.BOTH_EMPTY.value, dtype=object)
        for i, record in enumerate(scored):
            present = set(record.counts.values.tolist())
            for j, label in enumerate(labels):
                if label in (record.distances or {}):
                    value, value_status = record.distances[label][name]
                    values[i, j], status[i, j] = value, str(value_status)
                elif label in present:
                    status[i, j] = Status.NOT_COMPUTED.value
        values[status == Status.BOTH_EMPTY.value] = both_empty[name in BOUNDED_DISTANCES]
        arrays[name] = (values, status)
    return arrays


def lesion_arrays(scored: list[CaseRecord], units: list[int | str]) -> tuple[MetricArrays, dict[str, np.ndarray]]:
    """Lesion-wise metrics of the scored cases as (cases, classes) arrays, and their pooled values.

    A class absent from both masks of a case takes the case's both-empty result; the background, when it was not
    computed (``include_background`` off), is NaN with status ``not_computed``. Pooled: counts summed;
    detection ratios, SQ and PQ from the summed counts
    (:func:`segeval.metrics.lesion.pooled_detection`); per-lesion scores averaged over every scored lesion of
    every case.
    """
    names = list(next((r.lesions[None].values for r in scored if r.lesions), {}))
    if not names:
        return {}, {}
    from segeval.metrics.lesion import LesionStatus, Side, pooled_detection  # SciPy and cc3d: only when asked for

    results = [[r.lesions.get(unit, r.lesions[None]) for unit in units] for r in scored]
    skipped = np.array(
        [[unit not in r.lesions and unit in set(r.counts.values.tolist()) for unit in units] for r in scored]
    ).reshape(len(scored), len(units))
    arrays: MetricArrays = {}
    for name in names:
        values = np.array([[res.values[name][0] for res in row] for row in results], dtype=float)
        status = np.array([[str(res.values[name][1]) for res in row] for row in results], dtype=object)
        values, status = values.reshape(skipped.shape), status.reshape(skipped.shape)
        values[skipped], status[skipped] = np.nan, Status.NOT_COMPUTED.value
        arrays[name] = (values, status)
    pooled: dict[str, np.ndarray] = {}
    for j in range(len(units)):
        column = [row[j] for row, skip in zip(results, skipped) if not skip[j]]
        sums = {key: sum(getattr(res, key) for res in column) for key in ("tp", "fn", "fp", "tp_pred")}
        rows = [lesion for res in column for lesion in res.lesions]
        matched = [x for x in rows if x.side is Side.REFERENCE and x.status is LesionStatus.MATCHED]
        unmatched = {(Side.REFERENCE, LesionStatus.MISSED), (Side.PREDICTION, LesionStatus.FALSE_POSITIVE)}
        scored_rows = matched + [x for x in rows if (x.side, x.status) in unmatched]
        values = pooled_detection(sums["tp"], sums["fn"], sums["fp"], sums["tp_pred"], sum(x.iou for x in matched))
        for key in ("dice", "iou", "hd95", "assd"):
            values[f"lesion_{key}"] = float(np.mean([getattr(x, key) for x in scored_rows])) if scored_rows else np.nan
        if not scored_rows:  # no lesion that counts in any case: the both-empty values
            empty = scored[0].lesions[None].values
            values = {name: empty[name][0] for name in values if name in empty}
        for name in names:
            if name in values:
                pooled.setdefault(name, np.full(len(units), np.nan))[j] = values[name]
    for name in names:
        if name not in pooled:  # the counts: summed
            pooled[name] = arrays[name][0].sum(axis=0)
    return arrays, pooled


_STATUS_NAMES = np.array([status.value for status in STATUS_CODES], dtype=object)


def _named(computed: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    values, codes = computed
    return values, _STATUS_NAMES[codes]


@dataclass(frozen=True)
class LabelFindings:
    """What the label values of a run say about its inputs, for warnings and ``summary.json``."""

    stray: dict[int, list[str]]
    """Without declared labels: prediction values found in no ground truth (scored as classes) → their cases."""
    warnings: list[str]


def label_findings(records: list[CaseRecord], *, declared: bool, ignore_index: int | None) -> LabelFindings:
    """Stray prediction values, an ignore index that no ground truth holds, 0/255 masks whose 255 is ignored."""
    scored = [r for r in records if r.scored]
    reference = set().union(*(set(r.counts.gt_values.tolist()) for r in scored)) if scored else set()
    stray: dict[int, list[str]] = {}
    if not declared:
        for record in scored:
            for value in sorted(set(record.counts.pred_values.tolist()) - reference):
                stray.setdefault(value, []).append(record.case)
    warnings = []
    if stray:
        listed = "; ".join(
            f"{value} ({', '.join(cases[:3])}{', ...' if len(cases) > 3 else ''})"
            for value, cases in sorted(stray.items())[:10]
        )
        warnings.append(
            f"prediction values found in no ground truth were scored as classes: {listed}; declare the "
            "label set with --labels or --num-classes"
        )
    if ignore_index is not None and scored and not any(r.ignored_pixels for r in scored):
        warnings.append(f"--ignore-index {ignore_index} occurs in no ground truth")
    binary_ignored = [r.case for r in scored if r.gt_binary_255_ignored]
    if binary_ignored:
        warnings.append(
            f"{len(binary_ignored)} case(s) have 0/255 ground-truth masks and --ignore-index 255: their "
            "255 pixels are ignored, not scored as foreground; drop --ignore-index 255 if these are "
            "binary masks"
        )
    return LabelFindings(stray, warnings)
