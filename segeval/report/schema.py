"""``summary.json``: the document of a ``segeval score`` run (schema in docs/reports.md).

Strict JSON once written (NaN as ``null``, by :func:`segeval.report.writers.json_text`).
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime

from segeval.status import Status

SCHEMA_VERSION = 2
"""Version of the ``summary.json`` layout. 1: the unversioned documents before the key existed; 2: adds
``schema_version`` and, when thumbnails were rendered, ``thumbnails``. A reader takes any version up to
its own and refuses newer ones (:func:`segeval.report.folder.read_summary`)."""


def summary_document(result) -> dict:
    """The content of ``summary.json`` for a :class:`segeval.pipeline.result.ScoreResult`."""
    from segeval.metrics.catalog import resolve_metric

    config = result.config
    document = {
        "schema_version": SCHEMA_VERSION,
        **run_header(result.inputs),
        "config": {**config.as_dict(), "device": result.device},
        "config_sources": config.sources,
        "labels": result.labels,
        "class_names": result.class_names,
        "counts": {
            "cases": len(result.cases),
            "scored": len(result.scored),
            "failed": len(result.failed),
            "missing_pred": len(result.missing_pred),
            "missing_gt": len(result.missing_gt),
            "skipped_files": len(result.skipped_files),
        },
        "failed": failed_entries(result.cases),
        "missing": {"pred": result.missing_pred, "gt": result.missing_gt},
        "missing_pred_policy": "skipped" if config.skip_missing else "scored as empty prediction",
        "skipped_files": result.skipped_files,
        "dataset": result.dataset,
        "confusion_matrix": {
            "labels": result.labels,
            "rows": "reference",
            "columns": "prediction",
            "matrix": result.confusion.tolist(),
        },
        "metrics": {
            spec.name: {
                "level": spec.level.value,
                "family": spec.family.value,
                "formula": spec.formula,
                "direction": str(spec.direction),
                "higher_is_better": spec.direction.higher_is_better,
                "range": list(spec.range),
                "unit": spec.unit,
            }
            for spec in (resolve_metric(name) for name in result.per_case["metric"].unique())
        },
        "units": result.units(),
        "distance": {
            "metrics": result.distance_metrics,
            "convention": config.convention,
            "empty_policy": config.distance_empty.value,
            "nsd_tolerance_mm": config.nsd_tolerance,
            "boundary_iou_width_mm": config.boundary_iou_width,
        },
        "summary": result.summary.to_dict(orient="records"),
        "status_counts": result.status_counts(),
        "stray_labels": {str(value): cases for value, cases in result.stray_labels.items()},
        "warnings": result.warnings,
        "gates": {"passed": result.passed, "results": [g.as_dict() for g in result.gates]},
        "comparison": result.comparison.as_dict() if result.comparison is not None else None,
        "cases": [case_entry(r) for r in result.cases],
        "versions": versions(),
        "timings": result.timings,
    }
    if result.thumbnails is not None:
        document["thumbnails"] = result.thumbnails.as_dict()
    return document


def run_header(inputs: dict) -> dict:
    """The first keys of every report document: version, creation time (UTC) and inputs."""
    return {
        "segeval_version": segeval_version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": inputs,
    }


def case_entry(record) -> dict:
    """One case of ``summary.json``: its files, status, error, how the prediction was read, its geometry."""
    return {
        "case": record.case,
        "status": record.status.value,
        "pred": record.pred,
        "gt": record.gt,
        "error": record.error,
        "pred_kind": record.pred_kind,
        "class_axis": record.class_axis,
        "threshold": record.threshold,
        "shape": record.shape,
        "spacing_mm": record.spacing_mm,
        "spacing_source": None if record.spacing_source is None else record.spacing_source.value,
        "notes": record.notes,
    }


def failed_entries(records) -> list[dict]:
    """The failed cases of a run: case, files and the one-line error."""
    return [
        {"case": r.case, "pred": r.pred, "gt": r.gt, "error": r.error} for r in records if r.status is Status.FAILED
    ]


def segeval_version() -> str:
    from segeval import __version__

    return __version__


def versions() -> dict[str, str]:
    """Versions of segeval and of the libraries that shape its numbers."""
    from importlib.metadata import version

    import numpy as np
    import pandas as pd
    import PIL
    import torch

    return {
        "segeval": segeval_version(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "SimpleITK": version("SimpleITK"),  # from its metadata: importing it for the string costs ~0.2 s
        "pillow": PIL.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
    }
