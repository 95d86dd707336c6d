"""Per-case and summary tables from the scored cases.

- ``per_case``: long/tidy, one row per (case, class, metric): ``case, class, class_name, metric,
  value, status``; case-level metrics have class ``all``; failed cases have one row per case-level
  metric with an empty value and status ``failed``.
- ``summary``: one row per (class, metric): ``class, class_name, metric, mean, std, median, q25,
  q75, min, max, n, n_nan, pooled, ci_low, ci_high``. Statistics run over the scored cases whose
  value is not NaN (``n``); ``n_nan`` counts the NaN values (e.g. both-empty classes). ``std`` is
  the sample standard deviation (ddof = 1). ``pooled`` is the metric of the confusion matrix
  summed over all scored cases (FCN / mmsegmentation style), or empty where that has no meaning.
  ``ci_low``/``ci_high`` bound a seeded percentile-bootstrap interval of the mean (empty when
  turned off with ``ci=0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segeval.cases import BACKGROUND, CaseRecord
from segeval.metrics.confusion import class_matrix
from segeval.metrics.overlap import CASE_METRICS, STATUSES, case_metrics, class_metrics
from segeval.stats import bootstrap_mean_cis

PER_CASE_COLUMNS = ["case", "class", "class_name", "metric", "value", "status"]
SUMMARY_COLUMNS = [
    "class",
    "class_name",
    "metric",
    "mean",
    "std",
    "median",
    "q25",
    "q75",
    "min",
    "max",
    "n",
    "n_nan",
    "pooled",
    "ci_low",
    "ci_high",
]
VOLUME_METRICS = ("ref_volume", "pred_volume")

MetricArrays = dict[str, tuple[np.ndarray, np.ndarray]]
"""metric name → (values, statuses): float64 and str arrays of shape (cases, classes) or (cases,)."""


@dataclass
class Tables:
    """The aggregated results of a run."""

    per_case: pd.DataFrame
    summary: pd.DataFrame
    dataset: dict[str, float]
    """Case-level metrics of the pooled confusion matrix."""
    confusion: np.ndarray
    """The confusion matrix summed over scored cases (rows = reference, columns = prediction)."""


def build_tables(
    records: list[CaseRecord],
    labels: list[int],
    class_names: list[str],
    *,
    include_background: bool,
    empty_score: float,
    ci: float = 0.95,
    extra_class_metrics: MetricArrays | None = None,
) -> Tables:
    """Compute every metric from the cases' confusion matrices and lay them out as tables."""
    scored = [r for r in records if r.scored]
    labels_arr = np.asarray(labels, dtype=np.int64)
    n_classes = len(labels)
    cms = (
        np.stack([class_matrix(r.counts, labels_arr) for r in scored])
        if scored
        else np.zeros((0, n_classes, n_classes), dtype=np.int64)
    )
    foreground = np.array([include_background or v != BACKGROUND for v in labels], dtype=bool)

    per_class = _with_status_names(class_metrics(cms, empty_score))
    voxel = np.array([r.voxel_volume for r in scored])[:, None]
    per_class["ref_volume"] = (per_class["tp"][0] + per_class["fn"][0]) * voxel, per_class["tp"][1]
    per_class["pred_volume"] = (per_class["tp"][0] + per_class["fp"][0]) * voxel, per_class["tp"][1]
    per_class.update(extra_class_metrics or {})
    per_case_level = _with_status_names(case_metrics(cms, foreground, empty_score))

    pooled_cm = cms.sum(axis=0)
    pooled_class = {name: values for name, (values, _) in class_metrics(pooled_cm, empty_score).items()}
    pooled_class["ref_volume"] = (per_class["ref_volume"][0]).sum(axis=0)
    pooled_class["pred_volume"] = (per_class["pred_volume"][0]).sum(axis=0)
    pooled_case = {
        name: float(values) for name, (values, _) in case_metrics(pooled_cm, foreground, empty_score).items()
    }

    per_case = _per_case_table(records, scored, labels, class_names, per_class, per_case_level)
    summary = _summary_table(labels, class_names, per_class, per_case_level, pooled_class, pooled_case, ci)
    return Tables(per_case=per_case, summary=summary, dataset=pooled_case, confusion=pooled_cm)


def distance_arrays(records: list[CaseRecord], labels: list[int], names: list[str]) -> MetricArrays:
    """Distance metrics of the scored cases as (cases, classes) arrays.

    A label absent from both masks of a case is NaN with status ``both_empty``; the background,
    when it was not computed (``include_background`` off), is NaN with status ``not_computed`` and
    is left out of the tables.
    """
    scored = [r for r in records if r.scored]
    arrays: MetricArrays = {}
    for name in names:
        values = np.full((len(scored), len(labels)), np.nan)
        status = np.full((len(scored), len(labels)), "both_empty", dtype=object)
        for i, record in enumerate(scored):
            present = set(record.counts.values.tolist())
            for j, label in enumerate(labels):
                if label in (record.distances or {}):
                    values[i, j], status[i, j] = record.distances[label][name]
                elif label in present:
                    status[i, j] = "not_computed"
        arrays[name] = (values, status)
    return arrays


def _with_status_names(metrics: dict[str, tuple[np.ndarray, np.ndarray]]) -> MetricArrays:
    names = np.array(STATUSES, dtype=object)
    return {name: (values, names[status]) for name, (values, status) in metrics.items()}


def _per_case_table(
    records, scored, labels, class_names, per_class: MetricArrays, per_case_level: MetricArrays
) -> pd.DataFrame:
    order = {r.case: i for i, r in enumerate(records)}
    n, c = len(scored), len(labels)
    class_names_metric = list(per_class)
    m = len(class_names_metric)
    case_names = np.array([r.case for r in scored], dtype=object)
    blocks = []
    if n and c and m:
        values = np.stack([per_class[k][0] for k in class_names_metric], axis=-1)  # (n, c, m)
        status = np.stack([per_class[k][1] for k in class_names_metric], axis=-1)
        blocks.append(
            pd.DataFrame(
                {
                    "case": np.repeat(case_names, c * m),
                    "class": np.tile(np.repeat(np.array([str(v) for v in labels], dtype=object), m), n),
                    "class_name": np.tile(np.repeat(np.array(class_names, dtype=object), m), n),
                    "metric": np.tile(np.array(class_names_metric, dtype=object), n * c),
                    "value": values.ravel(),
                    "status": status.ravel(),
                    "_order": np.repeat([order[r.case] for r in scored], c * m),
                    "_level": 0,
                }
            )
        )
    if n:
        values = np.stack([per_case_level[k][0] for k in CASE_METRICS], axis=-1)
        status = np.stack([per_case_level[k][1] for k in CASE_METRICS], axis=-1)
        blocks.append(
            pd.DataFrame(
                {
                    "case": np.repeat(case_names, len(CASE_METRICS)),
                    "class": "all",
                    "class_name": "all",
                    "metric": np.tile(np.array(CASE_METRICS, dtype=object), n),
                    "value": values.ravel(),
                    "status": status.ravel(),
                    "_order": np.repeat([order[r.case] for r in scored], len(CASE_METRICS)),
                    "_level": 1,
                }
            )
        )
    failed = [r for r in records if not r.scored]
    if failed:
        blocks.append(
            pd.DataFrame(
                {
                    "case": np.repeat(np.array([r.case for r in failed], dtype=object), len(CASE_METRICS)),
                    "class": "all",
                    "class_name": "all",
                    "metric": np.tile(np.array(CASE_METRICS, dtype=object), len(failed)),
                    "value": np.nan,
                    "status": "failed",
                    "_order": np.repeat([order[r.case] for r in failed], len(CASE_METRICS)),
                    "_level": 1,
                }
            )
        )
    if not blocks:
        return pd.DataFrame({col: pd.Series(dtype=float if col == "value" else object) for col in PER_CASE_COLUMNS})
    table = pd.concat(blocks, ignore_index=True).sort_values(["_order", "_level"], kind="stable")
    table = table[table["status"] != "not_computed"]
    return table[PER_CASE_COLUMNS].reset_index(drop=True)


def column_statistics(values: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics over axis 0 (cases) of ``values``, ignoring NaN; quantiles interpolate linearly."""
    valid = ~np.isnan(values)
    n = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(valid, values, 0.0)
        mean = np.where(n > 0, safe.sum(axis=0) / np.maximum(n, 1), np.nan)
        sq = np.where(valid, (values - mean) ** 2, 0.0).sum(axis=0)
        std = np.where(n > 1, np.sqrt(sq / np.maximum(n - 1, 1)), np.nan)
    ordered = np.sort(values, axis=0)  # NaN sorts last, so the first n[j] entries of column j are its values
    quantiles = {
        key: _quantile(ordered, n, q)
        for key, q in (("min", 0.0), ("q25", 0.25), ("median", 0.5), ("q75", 0.75), ("max", 1.0))
    }
    return {"mean": mean, "std": std, **quantiles, "n": n, "n_nan": values.shape[0] - n}


def _quantile(ordered: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolation quantile (NumPy's default) of each column's first ``n`` sorted values."""
    if ordered.shape[0] == 0:
        return np.full(ordered.shape[1:], np.nan)
    position = np.maximum(n - 1, 0) * q
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(n - 1, 0))
    low = np.take_along_axis(ordered, below[None], axis=0)[0]
    high = np.take_along_axis(ordered, above[None], axis=0)[0]
    fraction = position - below
    with np.errstate(invalid="ignore"):
        result = np.where(fraction > 0, low + (high - low) * fraction, low)
    return np.where(n > 0, result, np.nan)


def _summary_table(
    labels,
    class_names,
    per_class: MetricArrays,
    per_case_level: MetricArrays,
    pooled_class: dict[str, np.ndarray],
    pooled_case: dict[str, float],
    ci: float,
) -> pd.DataFrame:
    # every (metric, class) column side by side, so that statistics and intervals take one pass
    blocks = [values for values, _ in per_class.values()] + [values[:, None] for values, _ in per_case_level.values()]
    columns = np.concatenate(blocks, axis=1) if blocks else np.zeros((0, 0))
    stats = column_statistics(columns)
    low, high = bootstrap_mean_cis(columns, ci) if ci > 0 else (np.full(columns.shape[1], np.nan),) * 2
    rows, k = [], 0
    for metric, (values, status) in per_class.items():
        pooled = pooled_class.get(metric)
        for j, (label, name) in enumerate(zip(labels, class_names)):
            if not (status.shape[0] and (status[:, j] == "not_computed").all()):
                rows.append(
                    {
                        "class": str(label),
                        "class_name": name,
                        "metric": metric,
                        **{key: v[k] for key, v in stats.items()},
                        "pooled": float(pooled[j]) if pooled is not None else np.nan,
                        "ci_low": low[k],
                        "ci_high": high[k],
                    }
                )
            k += 1
    for metric in per_case_level:
        rows.append(
            {
                "class": "all",
                "class_name": "all",
                "metric": metric,
                **{key: v[k] for key, v in stats.items()},
                "pooled": pooled_case.get(metric, np.nan),
                "ci_low": low[k],
                "ci_high": high[k],
            }
        )
        k += 1
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    order = {"all": len(labels)}
    order.update({str(v): i for i, v in enumerate(labels)})
    table["_class_order"] = table["class"].map(order)
    table = table.sort_values("_class_order", kind="stable").drop(columns="_class_order").reset_index(drop=True)
    return table.astype({"n": int, "n_nan": int})
