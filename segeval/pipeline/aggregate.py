"""Stage 7, aggregate: the per-case and summary tables of a run.

- ``per_case``: long/tidy, one row per (case, class, metric): ``case, class, class_name, metric,
  value, status``; case-level metrics have class ``all``; failed cases have one row per case-level
  metric with an empty value and status ``failed``.
- ``summary``: one row per (class, metric): ``class, class_name, metric, mean, std, median, q25,
  q75, min, max, n, n_nan, pooled, ci_low, ci_high``. Statistics run over the scored cases whose
  value is not NaN (``n``); ``n_nan`` counts the NaN values (e.g. both-empty classes). ``std`` is
  the sample standard deviation (ddof = 1). ``pooled`` follows the metric's catalog pooling (the
  metric of the summed confusion matrix, FCN / mmsegmentation style), or is empty where that has no
  meaning. ``ci_low``/``ci_high`` bound a seeded percentile-bootstrap interval of the mean (empty
  when turned off with ``ci=0``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segeval.pipeline.derive import Derived
from segeval.pipeline.load import CaseRecord
from segeval.stats import bootstrap_mean_cis, column_quantiles
from segeval.status import Status

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


def per_case_table(
    records: list[CaseRecord], labels: list[int | str], class_names: list[str], derived: Derived
) -> pd.DataFrame:
    """The long per-case table: every scored case's values, then one row per case-level metric of a failed case.

    Label regions (``derived.region_names``) follow the labels, their name in both ``class`` and ``class_name``."""
    labels, class_names = [*labels, *derived.region_names], [*class_names, *derived.region_names]
    scored = [r for r in records if r.scored]
    order = {r.case: i for i, r in enumerate(records)}
    n, c = len(scored), len(labels)
    class_level, case_level = list(derived.per_class), list(derived.per_case)
    m = len(class_level)
    case_names = np.array([r.case for r in scored], dtype=object)
    blocks = []
    if n and c and m:
        values = np.stack([derived.per_class[k][0] for k in class_level], axis=-1)  # (n, c, m)
        status = np.stack([derived.per_class[k][1] for k in class_level], axis=-1)
        blocks.append(
            pd.DataFrame(
                {
                    "case": np.repeat(case_names, c * m),
                    "class": np.tile(np.repeat(np.array([str(v) for v in labels], dtype=object), m), n),
                    "class_name": np.tile(np.repeat(np.array(class_names, dtype=object), m), n),
                    "metric": np.tile(np.array(class_level, dtype=object), n * c),
                    "value": values.ravel(),
                    "status": status.ravel(),
                    "_order": np.repeat([order[r.case] for r in scored], c * m),
                    "_level": 0,
                }
            )
        )
    if n:
        values = np.stack([derived.per_case[k][0] for k in case_level], axis=-1)
        status = np.stack([derived.per_case[k][1] for k in case_level], axis=-1)
        blocks.append(
            _case_level_block(case_names, case_level, values.ravel(), status.ravel(), [order[r.case] for r in scored])
        )
    failed = [r for r in records if not r.scored]
    if failed:
        blocks.append(
            _case_level_block(
                np.array([r.case for r in failed], dtype=object),
                case_level,
                np.nan,
                Status.FAILED.value,
                [order[r.case] for r in failed],
            )
        )
    if not blocks:
        return pd.DataFrame({col: pd.Series(dtype=float if col == "value" else object) for col in PER_CASE_COLUMNS})
    table = pd.concat(blocks, ignore_index=True).sort_values(["_order", "_level"], kind="stable")
    table = table[table["status"] != Status.NOT_COMPUTED.value]
    return table[PER_CASE_COLUMNS].reset_index(drop=True)


def _case_level_block(case_names: np.ndarray, metrics: list[str], values, status, order: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case": np.repeat(case_names, len(metrics)),
            "class": "all",
            "class_name": "all",
            "metric": np.tile(np.array(metrics, dtype=object), len(case_names)),
            "value": values,
            "status": status,
            "_order": np.repeat(order, len(metrics)),
            "_level": 1,
        }
    )


LESION_COLUMNS = [
    "case",
    "class",
    "class_name",
    "side",
    "lesion_id",
    "volume_voxels",
    "volume_mm3",
    "centroid_index_zyx",
    "centroid_mm_xyz",
    "matched_id",
    "overlapping",
    "dice",
    "iou",
    "hd95",
    "assd",
    "status",
]


def lesion_table(records: list[CaseRecord], units: list[int | str], class_names: list[str]) -> pd.DataFrame | None:
    """``lesions.csv``: one row per lesion of every scored case and class (reference lesions, then predicted ones),
    or ``None`` when no lesion metric was computed. Centroids and matched ids are space-separated numbers."""
    scored = [r for r in records if r.scored and r.lesions]
    if not scored:
        return None
    rows = []
    for record in scored:
        for unit, name in zip(units, class_names):
            result = record.lesions.get(unit)
            for lesion in result.lesions if result is not None else ():
                rows.append(
                    (
                        record.case,
                        str(unit),
                        name,
                        lesion.side.value,
                        lesion.id,
                        lesion.voxels,
                        lesion.volume_mm3,
                        " ".join(f"{v:.6g}" for v in lesion.centroid_index_zyx),
                        " ".join(f"{v:.6g}" for v in lesion.centroid_mm_xyz),
                        " ".join(map(str, lesion.matched)),
                        lesion.overlapping,
                        lesion.dice,
                        lesion.iou,
                        lesion.hd95,
                        lesion.assd,
                        lesion.status.value,
                    )
                )
    return pd.DataFrame(rows, columns=LESION_COLUMNS)


def column_statistics(values: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics over axis 0 (cases) of ``values``, ignoring NaN; quantiles interpolate linearly."""
    valid = ~np.isnan(values)
    n = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(valid, values, 0.0)
        mean = np.where(n > 0, safe.sum(axis=0) / np.maximum(n, 1), np.nan)
        sq = np.where(valid, (values - mean) ** 2, 0.0).sum(axis=0)
        std = np.where(n > 1, np.sqrt(sq / np.maximum(n - 1, 1)), np.nan)
    quantiles = column_quantiles(values, (0.0, 0.25, 0.5, 0.75, 1.0))
    named = dict(zip(("min", "q25", "median", "q75", "max"), quantiles))
    return {"mean": mean, "std": std, **named, "n": n, "n_nan": values.shape[0] - n}


def summary_table(labels: list[int], class_names: list[str], derived: Derived, ci: float) -> pd.DataFrame:
    """One row per (class, metric): statistics over cases, the pooled value and the bootstrap interval (label
    regions after the labels, named as in :func:`per_case_table`)."""
    labels, class_names = [*labels, *derived.region_names], [*class_names, *derived.region_names]
    # every (metric, class) column side by side, so that statistics and intervals take one pass
    blocks = [values for values, _ in derived.per_class.values()]
    blocks += [values[:, None] for values, _ in derived.per_case.values()]
    columns = np.concatenate(blocks, axis=1) if blocks else np.zeros((0, 0))
    stats = column_statistics(columns)
    low, high = bootstrap_mean_cis(columns, ci) if ci > 0 else (np.full(columns.shape[1], np.nan),) * 2
    rows, k = [], 0
    for metric, (_values, status) in derived.per_class.items():
        pooled = derived.pooled_class.get(metric)
        for j, (label, name) in enumerate(zip(labels, class_names)):
            if not (status.shape[0] and (status[:, j] == Status.NOT_COMPUTED.value).all()):
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
    for metric in derived.per_case:
        rows.append(
            {
                "class": "all",
                "class_name": "all",
                "metric": metric,
                **{key: v[k] for key, v in stats.items()},
                "pooled": derived.pooled_case.get(metric, np.nan),
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
