"""Stage 8, result: :class:`ScoreResult`, what :func:`segeval.score` returns.

The tables are pandas DataFrames with exactly the data of ``per_case.csv`` and ``summary.csv``;
``summary.json`` is built by :mod:`segeval.report.schema`, the files are written by
:mod:`segeval.report.writers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segeval.config import ScoreConfig
from segeval.errors import UsageError
from segeval.pipeline.load import BACKGROUND, CaseRecord, SpacingSource
from segeval.status import Status

if TYPE_CHECKING:
    from segeval.report.thumbnails import ThumbnailSet


@dataclass
class ScoreResult:
    """The report tables of a run, and how they were made."""

    per_case: pd.DataFrame
    summary: pd.DataFrame
    dataset: dict[str, float]
    """Case-level metrics of the pooled confusion matrix."""
    labels: list[int]
    class_names: list[str]
    confusion: np.ndarray
    """The confusion matrix summed over scored cases (rows = reference, columns = prediction)."""
    cases: list[CaseRecord]
    config: ScoreConfig
    distance_metrics: list[str]
    """The distance metrics computed (from ``--metrics``, ``--hd-percentile`` and the gates)."""
    inputs: dict[str, str | None]
    missing_gt: list[str] = field(default_factory=list)
    skipped_missing: list[str] = field(default_factory=list)
    """Cases without prediction left out of the scores (``skip_missing``)."""
    skipped_files: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    gates: list = field(default_factory=list)
    """:class:`segeval.quality.gates.GateResult` of the gates and of the baseline limits."""
    comparison: object | None = None
    """The :class:`segeval.quality.compare.Comparison` with ``config.baseline``, when one was given."""
    stray_labels: dict[int, list[str]] = field(default_factory=dict)
    """Without declared labels: prediction values found in no ground truth (scored as classes) → their cases."""
    warnings: list[str] = field(default_factory=list)
    """What the inputs suggest is wrong without failing a case (stray labels, an ignore index never seen, …)."""
    thumbnails: ThumbnailSet | None = None
    """Overlay thumbnails of the worst and the failed cases, when the run drew them (``--html``, ``--worst``)."""

    @property
    def foreground_labels(self) -> list[int]:
        """Labels that class means average: all but the background (0) unless it is included."""
        return [v for v in self.labels if self.config.include_background or v != BACKGROUND]

    @property
    def regions(self) -> tuple:
        """The label regions scored after the labels (:class:`segeval.regions.Region`), by name in the tables."""
        return self.config.region_definitions()

    @property
    def passed(self) -> bool:
        """Every gate passed (True when there are none)."""
        return all(g.passed for g in self.gates)

    @property
    def scored(self) -> list[CaseRecord]:
        """Cases with scores."""
        return [r for r in self.cases if r.scored]

    @property
    def failed(self) -> list[CaseRecord]:
        """Cases that could not be scored, each with its one-line ``error``."""
        return [r for r in self.cases if r.status is Status.FAILED]

    @property
    def missing_pred(self) -> list[str]:
        """Cases with a ground truth and no prediction: scored as empty predictions, or skipped."""
        return sorted([r.case for r in self.cases if r.status is Status.MISSING_PRED] + self.skipped_missing)

    def metric(self, name: str, class_: int | str | None = None, statistic: str = "mean") -> float:
        """One number of the summary, e.g. ``result.metric("dice", 1)`` or ``("miou", statistic="pooled")``.

        Without a class, a per-class metric gives what a gate on it means (docs/gates.md): the mean over
        cases of each case's foreground mean (``"dice"`` is ``mean_dice``); ``statistic`` is then a gate
        statistic, and ``"pooled"`` the mean of the foreground classes' pooled values.
        """
        from segeval.metrics.catalog import resolve_metric
        from segeval.quality.gates import metric_value

        canonical = resolve_metric(name).name
        rows = self.summary[self.summary["metric"] == canonical]
        if rows.empty:
            raise UsageError(f"metric {canonical!r} was not computed in this run")
        if class_ is None and not (rows["class"] == "all").all():
            return metric_value(self, canonical, None, statistic)
        rows = rows[rows["class"] == str("all" if class_ is None else class_)]
        if rows.empty:
            raise UsageError(f"no summary value for metric {canonical!r} and class {class_!r}")
        return float(rows.iloc[0][statistic])

    def status_counts(self) -> dict[str, dict[str, int]]:
        """For each metric, how many per-case values took each branch (ok, both_empty, one_empty, …)."""
        counts = self.per_case.groupby(["metric", "status"], sort=False).size()
        out: dict[str, dict[str, int]] = {}
        for (metric, status), n in counts.items():
            out.setdefault(metric, {})[status] = int(n)
        return out

    def units(self) -> dict[str, str]:
        """Units of lengths and volumes in this run: ``mm``/``mm^d`` when every case has a physical
        spacing (from a file or ``--spacing``), ``px`` when none has, ``mixed`` otherwise."""
        physical = {r.spacing_source is not SpacingSource.DEFAULT for r in self.scored}
        dims = {len(r.spacing_mm) for r in self.scored if r.spacing_mm}
        if physical == {True}:
            length, volume = "mm", f"mm^{dims.pop()}" if len(dims) == 1 else "mm^d"
        elif physical == {False}:
            length, volume = "px", "px"
        else:
            length, volume = "mixed", "mixed"
        return {"distance": length, "volume": volume}

    @property
    def lesions(self) -> pd.DataFrame | None:
        """``lesions.csv``: one row per lesion (:func:`segeval.pipeline.aggregate.lesion_table`), or ``None`` when
        no lesion-wise metric was computed."""
        from segeval.pipeline.aggregate import lesion_table

        names = [region.name for region in self.regions]
        return lesion_table(self.cases, [*self.labels, *names], [*self.class_names, *names])

    def to_dict(self) -> dict:
        """The content of ``summary.json`` as plain JSON values (NaN as ``None``, paths as text), so that
        ``json.dumps(result.to_dict())`` works; see :mod:`segeval.report.schema`."""
        from segeval.report.schema import summary_document
        from segeval.report.writers import to_json_value

        return to_json_value(summary_document(self))

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write ``per_case.csv``, ``summary.csv`` and ``summary.json`` into ``out`` (atomically), after the
        thumbnails (``thumbnails/``) when the run drew them."""
        from segeval.report.thumbnails import write_thumbnails
        from segeval.report.writers import prepare_out_dir, write_report

        folder = None
        if self.thumbnails is not None:
            folder = write_thumbnails(prepare_out_dir(Path(out)), self.thumbnails)
        paths = write_report(out, self.per_case, self.summary, self.to_dict(), lesions=self.lesions)
        return paths if folder is None else {**paths, "thumbnails": folder}
