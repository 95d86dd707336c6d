"""segeval: trustworthy segmentation metrics and losses.

>>> import segeval
>>> result = segeval.score("preds/", "gts/", num_classes=3)   # doctest: +SKIP
>>> result.summary                                             # doctest: +SKIP

The names below are imported on first use (PEP 562), so ``import segeval`` and ``segeval --help``
stay fast: torch, pandas and scipy load only when a run needs them.
"""

from __future__ import annotations

import importlib

from segeval._version import __version__

_LAZY = {
    "score": "segeval.api",
    "ScoreResult": "segeval.pipeline.result",
    "ScoreConfig": "segeval.config",
    "read_image": "segeval.io.readers",
    "ImageData": "segeval.io.readers",
    "get_metric": "segeval.metrics.catalog",
    "list_metrics": "segeval.metrics.catalog",
    "MetricSpec": "segeval.metrics.catalog",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'segeval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
