"""segeval: trustworthy segmentation metrics and losses.

>>> import segeval
>>> result = segeval.score("preds/", "gts/", num_classes=3)   # doctest: +SKIP
>>> result.summary                                             # doctest: +SKIP
"""

__version__ = "0.1.0"

from segeval.api import ScoreResult, score  # noqa: E402
from segeval.config import ScoreConfig  # noqa: E402
from segeval.io.readers import ImageData, read_image  # noqa: E402
from segeval.metrics.catalog import MetricSpec, get_metric, list_metrics  # noqa: E402

__all__ = [
    "__version__",
    "score",
    "ScoreResult",
    "ScoreConfig",
    "read_image",
    "ImageData",
    "get_metric",
    "list_metrics",
    "MetricSpec",
]
