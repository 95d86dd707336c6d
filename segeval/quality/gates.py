"""Quality gates: ``--gate "dice[liver].p05>=0.6"`` turned into pass/fail verdicts.

Grammar (docs/gates.md)::

    gate       := metric [ "[" class "]" ] [ "." statistic ] comparator number
    metric     := a catalog name or alias (dice, hd95, miou, ...) | "failed" | "missing"
    class      := a label value (1), a class name (liver) or a region name (ET, from --regions)
    statistic  := mean (default) | median | min | max | std | q25 | q75 | pNN (e.g. p05, p95) | pooled
    comparator := >= | <= | > | < | == | !=

Without a class, a per-class metric means, per case, the mean over the foreground classes (what
``mean_dice`` is for Dice); its ``pooled`` value is the mean of the classes' pooled values.
``failed`` and ``missing`` count failed cases and cases missing on either side.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from dataclasses import dataclass

import numpy as np

from segeval.errors import UnknownNameError, UsageError
from segeval.metrics.catalog import LOWER, Direction, resolve_metric
from segeval.stats import column_quantiles
from segeval.status import Status

COMPARATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
COUNTERS = ("failed", "missing")
_GATE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_\-]*)\s*(?:\[(?P<cls>[^\]]+)\])?\s*(?:\.(?P<stat>[A-Za-z0-9_]+))?"
    r"\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf)\s*$"
)
_STATISTIC = re.compile(r"^(mean|median|min|max|std|q25|q75|pooled|p(\d{1,2}(?:\.\d+)?|100))$")

_LIMIT = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_\-]*)\s*(?:\[(?P<cls>[^\]]+)\])?\s*=\s*(?P<value>[0-9.eE+-]+)\s*$"
)


@dataclass(frozen=True)
class Gate:
    """One parsed threshold."""

    expression: str
    metric: str
    class_: str | None
    statistic: str
    comparator: str
    threshold: float
    source: str = "cli"

    @property
    def is_metric(self) -> bool:
        """A gate on a catalog metric (not on the ``failed``/``missing`` counters)."""
        return self.metric not in COUNTERS

    @property
    def direction(self) -> Direction:
        """Which way the gated value improves: the metric's catalog direction; counters are better low."""
        return metric_direction(self.metric) if self.is_metric else LOWER


@dataclass(frozen=True)
class GateResult:
    """A gate checked against a result: the value found and the verdict.

    ``margin`` is how far the value is on the passing side of the threshold (negative when it
    fails); for ``==``/``!=`` it is minus the absolute difference.
    """

    gate: Gate
    value: float
    passed: bool
    margin: float
    note: str | None = None

    def as_dict(self) -> dict:
        return {
            "gate": self.gate.expression,
            "metric": self.gate.metric,
            "class": self.gate.class_,
            "statistic": self.gate.statistic,
            "comparator": self.gate.comparator,
            "threshold": self.gate.threshold,
            "value": self.value,
            "margin": self.margin,
            "passed": self.passed,
            "note": self.note,
            "source": self.gate.source,
        }


def metric_direction(name: str) -> Direction:
    """The catalog direction of a metric (``hdNN`` included)."""
    return resolve_metric(name).direction


def canonical_metric(name: str) -> str:
    """Catalog name of ``name`` (an alias, or ``hdNN``); the counters pass through."""
    lowered = name.strip().lower()
    if lowered in COUNTERS:
        return lowered
    return resolve_metric(name).name


def parse_gate(text: str, source: str = "cli") -> Gate:
    """Parse one gate expression.

    Raises
    ------
    UsageError
        Bad syntax, unknown metric (with a did-you-mean suggestion) or statistic.
    """
    match = _GATE.match(text)
    if match is None:
        raise UsageError(
            f"cannot parse gate {text!r}",
            hint='write METRIC[CLASS].STATISTIC OP NUMBER, e.g. "dice>=0.85", "hd95[liver]<=6", "dice.p05>=0.6"',
        )
    metric = canonical_metric(match["metric"])
    statistic = (match["stat"] or "mean").lower()
    if not _STATISTIC.match(statistic):
        close = difflib.get_close_matches(statistic, ["mean", "median", "min", "max", "std", "q25", "q75", "pooled"])
        raise UsageError(
            f"unknown statistic {statistic!r} in gate {text!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
            hint="statistics: mean, median, min, max, std, q25, q75, pNN (p05, p95), pooled",
        )
    cls = match["cls"].strip() if match["cls"] else None
    if metric in COUNTERS and (cls is not None or match["stat"]):
        raise UsageError(f"gate {text!r}: {metric} counts cases; it takes no class or statistic")
    return Gate(
        expression=text.strip(),
        metric=metric,
        class_=cls,
        statistic=statistic,
        comparator=match["op"],
        threshold=float(match["value"]),
        source=source,
    )


def parse_limits(items: list[str] | tuple[str, ...], kind: str) -> list[Gate]:
    """``["dice=0.01", "hd95[liver]=0.5"]`` → gates on the change of the mean (``delta``).

    ``kind`` is ``"drop"`` (the mean may fall by at most the value) or ``"rise"``.
    """
    gates = []
    for item in items:
        match = _LIMIT.match(item)
        if match is None:
            raise UsageError(f"cannot parse --max-{kind} {item!r}", hint="write METRIC[CLASS]=AMOUNT, e.g. dice=0.01")
        metric = canonical_metric(match["metric"])
        amount = float(match["value"])
        if amount < 0:
            raise UsageError(f"--max-{kind} {item!r}: the amount must be >= 0")
        cls = match["cls"].strip() if match["cls"] else None
        target = f"{metric}[{cls}]" if cls else metric
        expression = f"{target}.delta >= {-amount:g}" if kind == "drop" else f"{target}.delta <= {amount:g}"
        gates.append(
            Gate(
                expression=expression,
                metric=metric,
                class_=cls,
                statistic="delta",
                comparator=">=" if kind == "drop" else "<=",
                threshold=-amount if kind == "drop" else amount,
                source=f"--max-{kind}",
            )
        )
    return gates


def direction_warning(gate: Gate) -> str | None:
    """A warning when a gate checks the wrong direction, e.g. ``hd95>=5`` (lower is better)."""
    better = gate.direction.higher_is_better
    if better is None or gate.comparator in ("==", "!="):
        return None
    asks_high = gate.comparator in (">=", ">")
    if asks_high != better:
        way = "higher" if better else "lower"
        return (
            f"gate {gate.expression!r} asks for {'high' if asks_high else 'low'} values, "
            f"but {gate.metric} is better when {way}"
        )
    return None


def resolve_class(name: str, labels: list[int], class_names: list[str], regions: list[str] = ()) -> str:
    """The ``class`` column value that ``name`` (a label value, a class name or a region name) refers to."""
    values = [str(v) for v in labels] + list(regions)
    names = list(class_names) + list(regions)
    if name in values:
        return name
    lowered = [n.lower() for n in names]
    if name.lower() in lowered:
        return values[lowered.index(name.lower())]
    close = difflib.get_close_matches(name, names + values, n=3)
    raise UnknownNameError(
        f"unknown class {name!r} in a gate" + (f"; did you mean {', '.join(map(repr, close))}?" if close else ""),
        hint="classes: "
        + ", ".join(f"{v} ({n})" for v, n in zip(values, class_names))
        + "".join(f", {r} (region)" for r in regions),
    )


def case_values(result, metric: str, class_: str | None) -> np.ndarray:
    """Per-case values of ``metric`` for one class, or the foreground mean per case when ``class_`` is None."""
    rows = result.per_case[(result.per_case["metric"] == metric) & (result.per_case["status"] != Status.FAILED.value)]
    if class_ is not None or (rows["class"] == "all").all():
        selected = rows[rows["class"] == (class_ or "all")]
        return selected["value"].to_numpy(dtype=float)
    foreground = {str(v) for v in result.foreground_labels}
    selected = rows[rows["class"].isin(foreground)]
    per_case = selected.groupby("case", sort=False)["value"].mean()  # pandas mean skips NaN
    return per_case.to_numpy(dtype=float)


def statistic_of(values: np.ndarray, statistic: str) -> float:
    """``statistic`` of ``values`` ignoring NaN (NaN when no value is left)."""
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return math.nan
    if statistic == "mean":
        return float(finite.mean())
    if statistic == "std":
        return float(finite.std(ddof=1)) if finite.size > 1 else math.nan
    if statistic == "min":
        return float(finite.min())
    if statistic == "max":
        return float(finite.max())
    q = {"median": 50.0, "q25": 25.0, "q75": 75.0}.get(statistic)
    if q is None:
        q = float(statistic[1:])
    return float(column_quantiles(finite[:, None], (q / 100.0,))[0][0])


def gate_value(gate: Gate, result) -> float:
    """The number ``gate`` compares, read from a :class:`segeval.pipeline.result.ScoreResult`."""
    if gate.metric == "failed":
        return float(len(result.failed))
    if gate.metric == "missing":
        return float(len(result.missing_pred) + len(result.missing_gt))
    known = set(result.per_case["metric"])
    if gate.metric not in known:
        raise UsageError(
            f"gate {gate.expression!r}: metric {gate.metric!r} was not computed in this run",
            hint="computed metrics: " + ", ".join(sorted(known)),
        )
    regions = [region.name for region in result.regions]
    class_ = resolve_class(gate.class_, result.labels, result.class_names, regions) if gate.class_ is not None else None
    return metric_value(result, gate.metric, class_, gate.statistic)


def metric_value(result, metric: str, class_: str | None, statistic: str) -> float:
    """``statistic`` of a computed catalog ``metric`` for a label value, or without one what a gate means:
    the per-case foreground mean (``pooled``: the mean of the foreground classes' pooled values)."""
    if not _STATISTIC.match(statistic):
        raise UsageError(
            f"unknown statistic {statistic!r}",
            hint="statistics: mean, median, min, max, std, q25, q75, pNN (p05, p95), pooled",
        )
    if statistic == "pooled":
        summary = result.summary[result.summary["metric"] == metric]
        if class_ is not None or (summary["class"] == "all").all():
            rows = summary[summary["class"] == (class_ or "all")]["pooled"]
            return float(rows.iloc[0]) if len(rows) else math.nan
        foreground = {str(v) for v in result.foreground_labels}
        return float(np.nanmean(summary[summary["class"].isin(foreground)]["pooled"])) if foreground else math.nan
    return statistic_of(case_values(result, metric, class_), statistic)


def verdict(gate: Gate, value: float, note: str | None = None) -> GateResult:
    """Compare ``value`` with the gate's threshold; NaN never passes."""
    if math.isnan(value):
        return GateResult(gate, value, False, math.nan, note or "no value (every case NaN or none scored)")
    passed = bool(COMPARATORS[gate.comparator](value, gate.threshold))
    if gate.comparator in (">=", ">"):
        margin = value - gate.threshold
    elif gate.comparator in ("<=", "<"):
        margin = gate.threshold - value
    else:
        margin = 0.0 - abs(value - gate.threshold)
    return GateResult(gate, value, passed, margin, note)


def evaluate_gates(gates: list[Gate], result) -> list[GateResult]:
    """Check every gate against ``result``."""
    return [verdict(gate, gate_value(gate, result)) for gate in gates]
