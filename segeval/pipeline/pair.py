"""Stage 1, pair: the cases of a run, from two folders (or files) or a ``--pairs`` manifest.

Matching by case name is :mod:`segeval.io.pairing`; this stage applies the run's policy on
unmatched files (an error unless ``allow_missing``).
"""

from __future__ import annotations

from segeval.config import ScoreConfig
from segeval.errors import PairingError, UsageError
from segeval.io.pairing import CasePair, Pairing, discover_pairs, read_manifest


def pair_inputs(preds, gts, config: ScoreConfig) -> Pairing:
    """Pair the inputs as ``config`` says; unmatched files are an error unless ``allow_missing``."""
    if config.pairs is not None:
        if preds is not None or gts is not None:
            raise UsageError("give either PREDS and GTS folders or --pairs, not both")
        pairing = read_manifest(config.pairs)
    else:
        if preds is None or gts is None:
            raise UsageError("give the PREDS and GTS folders (or --pairs manifest.csv)")
        pairing = discover_pairs(
            preds, gts, recursive=config.recursive, pred_suffix=config.pred_suffix, gt_suffix=config.gt_suffix
        )
    missing_pred = [p.case for p in pairing.missing_pred]
    if (missing_pred or pairing.missing_gt) and not config.allow_missing:
        parts = []
        if missing_pred:
            parts.append(f"{len(missing_pred)} ground truth(s) without prediction: {few(missing_pred)}")
        if pairing.missing_gt:
            parts.append(f"{len(pairing.missing_gt)} prediction(s) without ground truth: {few(pairing.missing_gt)}")
        raise PairingError(
            "unmatched files: " + "; ".join(parts),
            hint="--allow-missing scores what matches (a missing prediction counts as empty unless --skip-missing);"
            " --pred-suffix/--gt-suffix strip name suffixes; --pairs gives explicit pairs",
        )
    if not pairing.pairs and not (config.allow_missing and not config.skip_missing and pairing.missing_pred):
        raise PairingError("no prediction matches a ground truth: nothing to score")
    return pairing


def cases_to_score(pairing: Pairing, config: ScoreConfig) -> list[CasePair]:
    """The pairs to score, by case name: the matches, plus missing predictions unless they are skipped."""
    pairs = list(pairing.pairs)
    if config.allow_missing and not config.skip_missing:
        pairs += pairing.missing_pred
        pairs.sort(key=lambda p: p.case)
    return pairs


def run_inputs(preds, gts, config: ScoreConfig) -> dict[str, str | None]:
    """The inputs of a run as given (``summary.json`` ``inputs``): the two folders, or the manifest."""
    return {
        name: None if value is None else str(value)
        for name, value in (("preds", preds), ("gts", gts), ("pairs", config.pairs))
    }


def few(names: list[str], limit: int = 5) -> str:
    """The first ``limit`` names, and how many more there are."""
    shown = ", ".join(names[:limit])
    return shown + (f" … (+{len(names) - limit} more)" if len(names) > limit else "")
