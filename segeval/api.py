"""``segeval.score``: the one entry point of the library, which the CLI calls too.

It runs the stages of :mod:`segeval.pipeline` in order, then the decisions of :mod:`segeval.quality`::

    pair → load → decode → count   (chunks of pairs, in a thread pool or on a Dask cluster, on the device)
         → derive → aggregate → result → quality.check (gates, baseline)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from segeval.config import ScoreConfig, build_config, default_workers
from segeval.io.palette import read_palette
from segeval.pipeline.chunks import Plan, Progress, chunked, default_batch_size, resolve_device, run_local
from segeval.pipeline.derive import derive, label_findings
from segeval.pipeline.load import CaseRecord
from segeval.pipeline.pair import cases_to_score, pair_inputs, run_inputs
from segeval.report.thumbnails import ThumbnailRequest

if TYPE_CHECKING:
    from segeval.pipeline.result import ScoreResult


def score(
    preds: str | Path | None = None,
    gts: str | Path | None = None,
    config: ScoreConfig | None = None,
    *,
    progress: Progress | None = None,
    thumbnails: ThumbnailRequest | None = None,
    client=None,
    **overrides,
) -> ScoreResult:
    """Score every prediction in ``preds`` against its ground truth in ``gts``.

    Parameters
    ----------
    preds, gts : str or Path
        Folders (or two single files). Leave both out when ``pairs=`` gives a manifest.
    config : ScoreConfig, optional
        The options; ``overrides`` replace some of them (or of the defaults).
    progress : callable, optional
        ``progress(done, total)`` after each case (a run-time argument, not an option).
    thumbnails : ThumbnailRequest, optional
        Draw an overlay thumbnail of each case while scoring and keep those of the worst cases and the
        failed ones (``result.thumbnails``; :mod:`segeval.report.thumbnails`).
    client : distributed.Client, optional
        Run the cases on this Dask cluster's workers instead of local threads (docs/distributed.md);
        the files must be readable by the workers at the same paths. Same results as locally.
    **overrides
        Fields of :class:`segeval.config.ScoreConfig` (``labels=``, ``num_classes=``,
        ``ignore_index=``, ``metrics=``, ``gates=``, ``baseline=``, ``device=`` …).

    Returns
    -------
    ScoreResult
        Per-case and summary tables; failed and missing cases are listed, never raised; gate and
        baseline verdicts in ``result.gates`` (:func:`segeval.quality.check`).

    Raises
    ------
    UsageError, PairingError
        Bad options; folders that cannot be paired (unmatched files without ``allow_missing``).

    Examples
    --------
    >>> result = segeval.score("preds/", "gts/", num_classes=3)        # doctest: +SKIP
    >>> result.metric("dice", 1), result.metric("miou", statistic="pooled")  # doctest: +SKIP
    """
    from segeval.quality import check

    started = time.perf_counter()
    config = build_config(config, **overrides) if overrides or config is None else config
    device = resolve_device(config.device) if client is None else None
    pairing = pair_inputs(preds, gts, config)
    pairs = cases_to_score(pairing, config)
    paired = time.perf_counter()

    plan = Plan(
        config=config,
        palette=read_palette(config.palette) if config.palette is not None else None,
        distance_names=tuple(config.distance_metrics()),
        lesion_names=tuple(config.lesion_metrics()),
        thumbnails=thumbnails,
    )
    if client is None:
        chunks = chunked(pairs, config.batch_size or default_batch_size(device))
        stream = run_local(chunks, plan, config.workers or default_workers())
        devices = str(device)
    else:
        from segeval.pipeline.dask_run import check_cluster, run_dask

        devices = check_cluster(client, pairs, plan)  # the device is resolved on each worker
        stream = run_dask(pairs, plan, client)
    keeper = thumbnails.keeper(config) if thumbnails is not None else None
    records: list[CaseRecord] = []
    for record in stream:
        records.append(record if keeper is None else keeper.offer(record))
        if progress is not None:
            progress(len(records), len(pairs))
    order = {pair.case: i for i, pair in enumerate(pairs)}
    records.sort(key=lambda record: order[record.case])  # a cluster completes cases in any order
    counted = time.perf_counter()

    # the tables are pandas DataFrames: pandas is imported once the cases are scored, not before the first one
    from segeval.pipeline.aggregate import per_case_table, summary_table
    from segeval.pipeline.result import ScoreResult

    labels = label_set(records, config)
    findings = label_findings(records, declared=config.labels is not None, ignore_index=config.ignore_index)
    class_names = config.named_classes(labels)
    derived = derive(
        records,
        labels,
        include_background=config.include_background,
        empty_score=config.empty_score,
        distance_names=list(plan.distance_names),
        regions=config.region_definitions(),
        requested=config.counted_metrics(),
        empty=config.empty_preset(),
    )
    per_case = per_case_table(records, labels, class_names, derived)
    summary = summary_table(labels, class_names, derived, config.ci)
    finished = time.perf_counter()
    n_scored = max(1, sum(r.scored for r in records))
    result = ScoreResult(
        per_case=per_case,
        summary=summary,
        dataset=derived.pooled_case,
        labels=labels,
        class_names=class_names,
        confusion=derived.confusion,
        cases=records,
        config=config,
        distance_metrics=list(plan.distance_names),
        inputs=run_inputs(preds, gts, config),
        missing_gt=pairing.missing_gt,
        skipped_missing=[p.case for p in pairing.missing_pred] if config.skip_missing else [],
        skipped_files=[str(p) for p in pairing.skipped_files],
        timings={
            "total_s": finished - started,
            "pairing_s": paired - started,
            "load_and_count_s": counted - paired,
            "aggregate_s": finished - counted,
            "per_case_ms": 1000 * (counted - paired) / n_scored,
        },
        device=devices,
        stray_labels=findings.stray,
        warnings=findings.warnings,
        thumbnails=None if keeper is None else keeper.result(),
    )
    return check(
        result,
        gates=config.parsed_gates(),
        baseline=config.baseline,
        limits=config.parsed_limits(),
        level=config.ci or 0.95,
    )


def label_set(records: list[CaseRecord], config: ScoreConfig) -> list[int]:
    """The labels of the run: the declared ones, else every value present in a scored case."""
    if config.labels is not None:
        return list(config.labels)
    present: set[int] = set()
    for record in records:
        if record.scored:
            present |= set(record.counts.values.tolist())
    return sorted(present)
