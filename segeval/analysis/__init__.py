"""Loss analysis: gradient anatomy, sensitivity sweeps and benchmarks of the loss catalog.

>>> from segeval.analysis import gradient_anatomy
>>> import numpy as np
>>> table = gradient_anatomy(np.zeros((1, 1, 4)), np.array([[0, 0, 1, 1]]), ["bce"])
>>> float(table.loc[0, "fg_share"])                       # BCE at p = 0.5: |p - g| alike everywhere
0.5

Library entry points (each returns pandas DataFrames; the CLI ``segeval losses analyze | sweep |
bench`` calls them):

- :func:`gradient_anatomy` (one prediction map) and :func:`analyze_losses` (folders of files):
  where each loss puts its gradient, :mod:`segeval.analysis.anatomy`;
- :func:`run_sweep`: each loss against controlled degradations of a mask, :mod:`segeval.analysis.sweep`;
- :func:`bench_losses`: forward + backward time and peak memory, :mod:`segeval.analysis.bench`.

Figures are drawn by :mod:`segeval.analysis.plots` (matplotlib, Agg canvas). The definitions are in
``docs/loss-analysis.md``.
"""

from segeval.analysis.analyze import AnalysisResult, CaseMaps, analyze_losses, summarize_anatomy
from segeval.analysis.anatomy import AnatomyOptions, boundary_distance_mm, gradient_anatomy
from segeval.analysis.bench import BenchResult, bench_losses
from segeval.analysis.gradients import loss_gradient, pixel_magnitude, reference_probability, to_logits
from segeval.analysis.sweep import SweepOptions, SweepResult, run_sweep

__all__ = [
    "AnalysisResult",
    "AnatomyOptions",
    "BenchResult",
    "CaseMaps",
    "SweepOptions",
    "SweepResult",
    "analyze_losses",
    "bench_losses",
    "boundary_distance_mm",
    "gradient_anatomy",
    "loss_gradient",
    "pixel_magnitude",
    "reference_probability",
    "run_sweep",
    "summarize_anatomy",
    "to_logits",
]
