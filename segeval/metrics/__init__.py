"""Segmentation metrics: the catalog and the confusion-matrix engine."""

from segeval.metrics.catalog import MetricSpec, get_metric, list_metrics

__all__ = ["MetricSpec", "get_metric", "list_metrics"]
