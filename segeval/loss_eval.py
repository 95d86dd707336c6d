"""``segeval losses PREDS GTS``: every selected loss on each case's probability or logit map.

Same readers, pairing, error handling and report writer as ``segeval score``::

    pair files → load (worker threads) → per case: prediction + target tensors on the device
               → each loss → per-case and summary tables (→ per_case.csv, summary.csv, summary.json)

A prediction with a class axis is scored in ``multiclass`` mode against the class index of each
label (``labels`` gives the label of each channel, default 0..C-1); a single-channel map in
``binary`` mode against the foreground (label 1; 0/255 masks are read as 0/1). A grayscale PNG/TIFF
prediction is a foreground probability scaled to its range (value / 255, or / 65535 for 16 bits). Whether the maps
hold logits or probabilities is inferred per case (values within [0, 1] → probabilities) unless
``from_logits`` is given.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from segeval import __version__
from segeval.aggregate import column_statistics
from segeval.api import Progress, load_ahead, pair_inputs, versions
from segeval.cases import CaseRecord, LoadedCase
from segeval.config import ScoreConfig, default_workers, resolve_device
from segeval.errors import InputError, SegevalError, UsageError
from segeval.io.palette import read_palette
from segeval.losses import get_loss, list_losses, loss_spec
from segeval.predictions import decode_reference, to_tensor
from segeval.report.writers import write_report

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
        return [r for r in self.cases if r.status == "failed"]

    def to_dict(self) -> dict:
        return {
            "segeval_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "inputs": self.inputs,
            "losses": self.losses,
            "config": {**self.config.as_dict(), "from_logits": self.from_logits, "device": self.device},
            "failed": [{"case": r.case, "pred": r.pred, "gt": r.gt, "error": r.error} for r in self.failed],
            "summary": self.summary.to_dict(orient="records"),
            "cases": [
                {
                    "case": r.case,
                    "status": r.status,
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
    config = ScoreConfig(**options)
    device = resolve_device(config.device)
    pairing = pair_inputs(preds, gts, config)
    pairs = pairing.pairs
    palette = read_palette(config.palette) if config.palette is not None else None
    modules: dict[tuple[str, str, bool], torch.nn.Module] = {}
    rows: list[dict] = []
    records: list[CaseRecord] = []
    for item in load_ahead(pairs, config, palette, config.workers or default_workers()):
        record = item if isinstance(item, CaseRecord) else item.record
        records.append(record)
        if isinstance(item, LoadedCase):
            try:
                prediction, target, mode, logits = prepare_case(item, config, from_logits, device)
            except Exception as exc:  # one bad case never stops the run
                record.fail(exc)
            else:
                rows += [
                    _loss_row(record.case, name, mode, logits, prediction, target, modules, device) for name in names
                ]
        if record.status == "failed":
            rows.append(
                {
                    "case": record.case,
                    "loss": "",
                    "family": "",
                    "mode": "",
                    "value": math.nan,
                    "status": "failed",
                    "error": record.error,
                }
            )
        if progress is not None:
            progress(len(records), len(pairs))
    per_case = pd.DataFrame(rows, columns=PER_CASE_COLUMNS)
    return LossResult(
        per_case=per_case,
        summary=_summary(per_case, names),
        losses=names,
        cases=records,
        config=config,
        from_logits=from_logits,
        inputs={
            "preds": None if preds is None else str(preds),
            "gts": None if gts is None else str(gts),
            "pairs": None if config.pairs is None else str(config.pairs),
        },
        timings={"total_s": time.perf_counter() - started},
        device=str(device),
    )


def prepare_case(item: LoadedCase, config: ScoreConfig, from_logits: bool | None, device: torch.device):
    """(prediction (1, C, *S) float, target (1, *S) long, mode, from_logits) of one case."""
    record, pred_image = item.record, item.pred
    if pred_image is None:
        raise InputError(f"{record.case}: no prediction")
    pred = to_tensor(pred_image.array, device)
    if not pred.is_floating_point() and pred_image.format == "image" and record.class_axis is None:
        # an 8- or 16-bit grayscale image is a foreground probability scaled to the full range
        pred = pred.float() / (255.0 if pred_image.array.dtype == np.uint8 else 65535.0)
    if not pred.is_floating_point():
        raise InputError(f"{pred_image.path}: losses need probability or logit maps; the file holds integer labels")
    low, high = (float(v) for v in torch.aminmax(pred))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(f"{pred_image.path}: prediction holds NaN or infinite values")
    logits = from_logits if from_logits is not None else not (low >= 0.0 and high <= 1.0)
    record.pred_kind = "logits" if logits else "probs"
    gt = decode_reference(to_tensor(item.gt.array, device), path=item.gt.path).long()
    if item.gt.format == "image" and bool(((gt == 0) | (gt == 255)).all()) and bool((gt == 255).any()):
        gt = gt // 255
    axis = record.class_axis
    if axis is None or pred.shape[axis] == 1:
        prediction = (pred if axis is None else pred.squeeze(axis)).float()[None, None]
        values = set(torch.unique(gt).tolist())
        if not values <= {0, 1}:
            raise InputError(
                f"{item.gt.path}: a single-channel prediction needs a binary mask; found labels {sorted(values)}"
            )
        return prediction, gt[None], "binary", logits
    prediction = torch.movedim(pred, axis, 0).float()[None]
    n_classes = prediction.shape[1]
    labels = list(config.labels) if config.labels is not None else list(range(n_classes))
    if len(labels) != n_classes:
        raise InputError(f"{pred_image.path}: {n_classes} channels but {len(labels)} labels {labels}")
    lookup = torch.full((max(max(labels), int(gt.max())) + 1,), -1, dtype=torch.long, device=device)
    lookup[torch.tensor(labels, device=device)] = torch.arange(n_classes, device=device)
    if int(gt.min()) < 0 or bool((lookup[gt] < 0).any()):
        unknown = sorted(set(torch.unique(gt).tolist()) - set(labels))
        raise InputError(f"{item.gt.path}: label value {unknown[0]} has no channel; channels are labels {labels}")
    return prediction, lookup[gt][None], "multiclass", logits


def _loss_row(case, name, mode, logits, prediction, target, modules, device) -> dict:
    spec = loss_spec(name)
    row = {"case": case, "loss": name, "family": spec.family.value, "mode": mode}
    try:
        if spec.input_kind == "log-probabilities" and not logits:
            key, given = (name, mode, False), torch.log(prediction.clamp_min(torch.finfo(prediction.dtype).tiny))
        else:
            key, given = (name, mode, logits), prediction
        if key not in modules:
            modules[key] = get_loss(name, mode=mode, from_logits=key[2]).to(device)
        with torch.no_grad():
            value = float(modules[key](given, target))
        return {**row, "value": value, "status": "ok" if math.isfinite(value) else "non_finite", "error": None}
    except SegevalError as exc:
        return {**row, "value": math.nan, "status": "failed", "error": exc.message}
    except (RuntimeError, ValueError) as exc:
        return {**row, "value": math.nan, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def _summary(per_case: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    rows = []
    for name in names:
        selected = per_case[per_case["loss"] == name]
        values = selected[selected["status"] != "failed"]["value"].to_numpy(float)
        stats = column_statistics(values[:, None])
        rows.append(
            {
                "loss": name,
                "family": loss_spec(name).family.value,
                **{k: v[0] for k, v in stats.items()},
                "n_failed": int((selected["status"] == "failed").sum()),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
