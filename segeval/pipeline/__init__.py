"""The flow of ``segeval score``, one module per stage, in the order a case goes through them:

1. :mod:`~segeval.pipeline.pair` — match prediction files with ground-truth files;
2. :mod:`~segeval.pipeline.load` — read both files of a case and check their geometry (a :class:`CaseRecord` is born);
3. :mod:`~segeval.pipeline.decode` — turn what a prediction holds (labels, probabilities, logits) into labels;
4. :mod:`~segeval.pipeline.count` — one joint histogram per case on the device, labels normalised
   (0/255 masks, the ignore index) and checked; distance metrics when asked for;
5. :mod:`~segeval.pipeline.chunks` — the work unit (a chunk of pairs → small records) and the local
   thread pool that runs it;
6. :mod:`~segeval.pipeline.derive` — every catalog metric from the cases' confusion matrices;
7. :mod:`~segeval.pipeline.aggregate` — per-case and summary tables;
8. :mod:`~segeval.pipeline.result` — :class:`ScoreResult`, what :func:`segeval.score` returns.

:func:`segeval.api.score` calls them in this order; decisions on a finished result (gates, a
baseline comparison) are in :mod:`segeval.quality`, every output format in :mod:`segeval.report`.
"""
