"""Decisions on a finished result: quality gates (:mod:`~segeval.quality.gates`) and the comparison with a
baseline report (:mod:`~segeval.quality.compare`)."""

from __future__ import annotations

from pathlib import Path


def check(
    result,
    *,
    gates: list | None = None,
    baseline: str | Path | None = None,
    limits: list | None = None,
    level: float = 0.95,
):
    """Fill ``result.gates`` (and ``result.comparison``) with the verdicts of ``gates`` and of the baseline ``limits``.

    Parameters
    ----------
    result : segeval.pipeline.result.ScoreResult
    gates : list of Gate, optional
        Parsed gates (:func:`segeval.quality.gates.parse_gate`).
    baseline : path, optional
        A previous report (folder, summary.json or per_case.csv) to compare ``result`` with.
    limits : list of Gate, optional
        ``max_drop``/``max_rise`` limits on the change of the means (:func:`segeval.quality.compare.parse_limits`).
    level : float
        Coverage of the bootstrap interval of each change.

    Returns
    -------
    The same ``result``, for chaining.
    """
    from segeval.quality.compare import compare_reports, read_report, report_from_result
    from segeval.quality.gates import evaluate_gates

    result.gates = evaluate_gates(gates or [], result)
    if baseline is not None:
        result.comparison = compare_reports(
            read_report(baseline), report_from_result(result), level=level, limits=limits or []
        )
        result.gates += result.comparison.gates
    return result
