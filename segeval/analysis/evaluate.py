"""``segeval losses PREDS GTS``: every selected loss on each case's probability or logit map.

Cases are paired, read and prepared by :mod:`segeval.analysis.driver` (the rules for binary and
multi-class maps are there); each loss gives one row per case::

    pair files → load → prepare → each loss → per-case and summary tables (→ per_case.csv, summary.csv, summary.json)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from segeval.analysis.driver import PreparedCase, run_cases
from segeval.config import ScoreConfig, build_config
from segeval.errors import SegevalError, UsageError
from segeval.losses import get_loss, list_losses, loss_spec
from segeval.pipeline.aggregate import column_statistics
from segeval.pipeline.chunks import Progress, resolve_device
from segeval.pipeline.load import CaseRecord
from segeval.pipeline.pair import pair_inputs, run_inputs
from segeval.report.schema import failed_entries, run_header, versions
from segeval.report.writers import write_report
from segeval.status import Status

PER_CASE_COLUMNS = ["case", "loss", "family", "mode", "value", "status", "error"]
SUMMARY_COLUMNS = ["loss", "family", "mean", "std", "median", "q25", "q75", "min", "max", "n", "n_nan", "n_failed"]


@dataclass
class LossResult:
    """Per-case and summary loss tables, and how they were made."""

    per_case: pd.DataFrame
    summary: pd.DataFrame
    losses: list[str]
    cases: list[CaseRecord]
    config: ScoreConfig
    from_logits: bool | None
    inputs: dict[str, str | None]
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def failed(self) -> list[CaseRecord]:
        """Cases that could not be read or prepared."""
        return [r for r in self.cases if r.status is Status.FAILED]

    def to_dict(self) -> dict:
        return {
            **run_header(self.inputs),
            "losses": self.losses,
            "config": {**self.config.as_dict(), "from_logits": self.from_logits, "device": self.device},
            "failed": failed_entries(self.cases),
            "summary": self.summary.to_dict(orient="records"),
            "cases": [
                {
                    "case": r.case,
                    "status": r.status.value,
                    "pred_kind": r.pred_kind,
                    "class_axis": r.class_axis,
                    "shape": r.shape,
                    "spacing_mm": r.spacing_mm,
                }
                for r in self.cases
            ],
            "versions": versions(),
            "timings": self.timings,
        }

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write ``per_case.csv``, ``summary.csv`` and ``summary.json`` into ``out``, atomically."""
        return write_report(out, self.per_case, self.summary, self.to_dict())


def select_losses(names: list[str] | None, family: str | None) -> list[str]:
    """The losses to compute: ``names`` (canonical, checked), or a family's, or all."""
    if names:
        chosen = [loss_spec(name).name for name in names]
        if family is not None:
            outside = [n for n in chosen if loss_spec(n).family.value != family]
            if outside:
                raise UsageError(f"--loss {', '.join(outside)} not in family {family!r}")
        return chosen
    return list_losses(family)


def evaluate_losses(
    preds: str | Path | None = None,
    gts: str | Path | None = None,
    *,
    losses: list[str] | None = None,
    family: str | None = None,
    from_logits: bool | None = None,
    progress: Progress | None = None,
    **options,
) -> LossResult:
    """Compute each selected loss on every case.

    Parameters
    ----------
    preds, gts : str or Path
        Folders (or files) of probability/logit maps and label masks, paired like ``segeval.score``.
    losses, family : optional
        Loss names, or a family (distribution, region, boundary, compound); default every loss.
    from_logits : bool, optional
        Force logits (True) or probabilities (False); inferred per case by default.
    **options
        Pairing and reading options of :class:`segeval.config.ScoreConfig` (``labels``,
        ``channel_axis``, ``recursive``, ``pairs``, ``device`` …).

    Returns
    -------
    LossResult
        A case that cannot be read fails alone (status ``failed``); a loss that cannot be computed
        on a case gives one failed row.
    """
    started = time.perf_counter()
    names = select_losses(losses, family)
    config = build_config(**options)
    device = resolve_device(config.device)
    pairs = pair_inputs(preds, gts, config).pairs
    modules: dict[tuple[str, str, bool], torch.nn.Module] = {}

    def compute(case: PreparedCase) -> list[dict]:
        return [_loss_row(case, name, modules, device) for name in names]

    records, rows = run_cases(pairs, config, device, from_logits, compute, progress)
    per_case = pd.DataFrame(rows, columns=PER_CASE_COLUMNS)
    return LossResult(
        per_case=per_case,
        summary=_summary(per_case, names),
        losses=names,
        cases=records,
        config=config,
        from_logits=from_logits,
        inputs=run_inputs(preds, gts, config),
        timings={"total_s": time.perf_counter() - started},
        device=str(device),
    )


def _loss_row(case: PreparedCase, name: str, modules: dict, device: torch.device) -> dict:
    spec = loss_spec(name)
    mode, logits, prediction, target = case.mode, case.from_logits, case.prediction, case.target
    row = {"case": case.record.case, "loss": name, "family": spec.family.value, "mode": mode}
    try:
        if spec.input_kind == "log-probabilities" and not logits:
            key, given = (name, mode, False), torch.log(prediction.clamp_min(torch.finfo(prediction.dtype).tiny))
        else:
            key, given = (name, mode, logits), prediction
        if key not in modules:
            modules[key] = get_loss(name, mode=mode, from_logits=key[2]).to(device)
        with torch.no_grad():
            value = float(modules[key](given, target))
        return {
            **row,
            "value": value,
            "status": (Status.OK if math.isfinite(value) else Status.NON_FINITE).value,
            "error": None,
        }
    except SegevalError as exc:
        return {**row, "value": math.nan, "status": Status.FAILED.value, "error": exc.message}
    except (RuntimeError, ValueError) as exc:
        return {**row, "value": math.nan, "status": Status.FAILED.value, "error": f"{type(exc).__name__}: {exc}"}


def _summary(per_case: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per loss: statistics of its values; ``n_failed`` counts its failed cases, including the
    cases that could not be read or prepared (their one row has no loss)."""
    failed = per_case["status"] == Status.FAILED.value
    unread = int((failed & (per_case["loss"] == "")).sum())
    rows = []
    for name in names:
        selected = per_case[per_case["loss"] == name]
        values = selected[selected["status"] != Status.FAILED.value]["value"].to_numpy(float)
        stats = column_statistics(values[:, None])
        rows.append(
            {
                "loss": name,
                "family": loss_spec(name).family.value,
                **{k: v[0] for k, v in stats.items()},
                "n_failed": int((selected["status"] == Status.FAILED.value).sum()) + unread,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
