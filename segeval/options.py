"""The option table: every option of ``segeval score`` and of the loss commands, written once.

Each :class:`Option` has its name, value type, default, help text, help panel, command-line flags and
the commands that take it. From :data:`OPTIONS` come

- the fields of :class:`segeval.config.ScoreConfig` (the options with ``config=True``),
- the Typer parameters of ``segeval score``, ``segeval losses run`` and ``segeval losses analyze``
  (:mod:`segeval.cli.options`),
- the keys of a settings file, with the same type coercion (:mod:`segeval.config_file`),
- the option table of docs/cli.md (generated; a test keeps it in sync).

Every value passes through :meth:`Option.coerce`, whether it comes from the command line (text),
a settings file (TOML values) or the library (Python values); a value of the wrong type is a usage
error (exit code 2) that names the option, or the key and the file.

This module imports neither torch, pandas nor scipy: ``segeval --help`` reads it.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segeval.errors import UsageError


class Panel(enum.StrEnum):
    """The groups of ``segeval score --help``."""

    INPUTS = "Inputs"
    LABELS = "Labels"
    PREDICTIONS = "Predictions"
    DISTANCE = "Distance metrics"
    LESION = "Lesion-wise metrics"
    STATISTICS = "Statistics and gates"
    OUTPUT = "Output"
    PERFORMANCE = "Performance"


class Command(enum.StrEnum):
    """The commands that read prediction and ground-truth folders."""

    SCORE = "score"
    LOSSES = "losses"
    ANALYZE = "analyze"


class PredKind(enum.StrEnum):
    """What a prediction file holds (``--pred-kind``)."""

    AUTO = "auto"
    LABELS = "labels"
    PROBS = "probs"
    LOGITS = "logits"


class OutputFormat(enum.StrEnum):
    """What a command prints on stdout (``--format``)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    QUIET = "quiet"


class DistanceEmpty(enum.StrEnum):
    """A distance metric's value when exactly one mask is empty (``--distance-empty``)."""

    WORST = "worst"
    NAN = "nan"
    INF = "inf"


class EmptyPolicy(enum.StrEnum):
    """A preset of the values on empty masks (``--empty-policy``), to reproduce another tool."""

    DEFAULT = "default"
    MONAI = "monai"
    METRICSRELOADED = "metricsreloaded"


@dataclass(frozen=True)
class EmptyPreset:
    """What an :class:`EmptyPolicy` sets (docs/metrics.md, Empty masks)."""

    empty_score: float
    """Default of ``--empty-score``: overlap metrics of a class absent from both sides."""
    distance_empty: DistanceEmpty
    """Default of ``--distance-empty``: distance metrics when exactly one mask is empty."""
    both_empty_distance: float
    """Distance metrics of a class absent from both masks."""
    both_empty_bounded: float
    """NSD and boundary IoU of a class absent from both masks."""
    ref_empty_nan: bool
    """Dice, IoU, volume similarity, F-beta and precision are NaN wherever the reference is empty."""


EMPTY_PRESETS: dict[EmptyPolicy, EmptyPreset] = {
    EmptyPolicy.DEFAULT: EmptyPreset(math.nan, DistanceEmpty.WORST, math.nan, math.nan, False),
    # MONAI 1.x: DiceMetric/MeanIoU(ignore_empty=True); Hausdorff and surface distances inf with one empty mask
    EmptyPolicy.MONAI: EmptyPreset(math.nan, DistanceEmpty.INF, math.nan, math.nan, True),
    # MetricsReloaded: DSC and F-beta 1 when both are empty, distances 0, NSD and boundary IoU 1
    EmptyPolicy.METRICSRELOADED: EmptyPreset(1.0, DistanceEmpty.WORST, 0.0, 1.0, False),
}


class LesionMatching(enum.StrEnum):
    """How reference and predicted lesions are matched (``--lesion-matching``; docs/metrics.md, Lesion-wise)."""

    OVERLAP = "overlap"
    """Any overlap with the reference lesion's matching region (WMH, BraTS); many-to-many."""
    IOU = "iou"
    """IoU > 0.5: one-to-one by construction (panoptic quality)."""
    ASSIGNMENT = "assignment"
    """One-to-one assignment maximising the total IoU of overlapping pairs (Hungarian algorithm)."""


class LesionPreset(enum.StrEnum):
    """Published lesion-wise rules (``--lesion-preset``)."""

    NONE = "none"
    BRATS2023_GLI = "brats2023-gli"
    BRATS2023_SSA = "brats2023-ssa"
    BRATS2023_PED = "brats2023-ped"
    BRATS2023_MEN = "brats2023-men"
    BRATS2023_MET = "brats2023-met"


# ----------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class ValueType:
    """How an option's value is read from text, TOML and Python values.

    ``metavar`` names the type in ``--help``; ``repeatable`` options take the flag several times.
    """

    metavar: str
    parse: Callable[[object], object]
    """Turns a value into the option's type; raises ``ValueError``/``TypeError`` when it cannot."""
    expects: str
    """What the error message says the option expects."""
    flag: bool = False
    repeatable: bool = False
    text_in_files: bool = True
    """Whether a settings file may give the value as a string (``num-classes = "4"`` may not)."""


def _int(value: object) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError
    return int(value) if isinstance(value, (int, str)) else int(value.__index__())


def _float(value: object) -> float:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, str):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return float(value.__float__())


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError


def _path(value: object) -> Path:
    if isinstance(value, (str, Path)):
        return Path(value)
    raise TypeError


def _items(value: object) -> list:
    """A comma-separated string or a list/tuple, as a list of items (spaces around items dropped)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip() != ""]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError


def _int_list(value: object) -> tuple[int, ...]:
    return tuple(_int(item) for item in _items(value))


def _float_list(value: object) -> tuple[float, ...]:
    if isinstance(value, str):
        value = value.replace("x", ",")
    return tuple(_float(item) for item in _items(value))


def _name_list(value: object) -> tuple[str, ...]:
    return tuple(_text(item).strip() for item in _items(value))


def _repeated(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(_text(item) for item in value)
    raise TypeError


def _limits(value: object) -> tuple[str, ...]:
    """``--max-drop`` items: repeated ``METRIC=AMOUNT`` texts, or a TOML table ``{dice = 0.01}``."""
    if isinstance(value, dict):
        return tuple(f"{metric}={_float(amount):g}" for metric, amount in value.items())
    return _repeated(value)


def _regions(value: object) -> tuple[str, ...]:
    """``--regions`` items: repeated ``NAME=LABELS`` texts, or a TOML table ``{WT = [1, 2, 3]}``."""
    if isinstance(value, dict):
        return tuple(
            f"{name}={','.join(str(_int(v)) for v in (labels if isinstance(labels, list) else [labels]))}"
            for name, labels in value.items()
        )
    return _repeated(value)


def _float_or_nan(value: object) -> float:
    return math.nan if isinstance(value, str) and value.strip().lower() == "nan" else _float(value)


def _tolerance(value: object) -> float | tuple[tuple[int, float], ...]:
    """One tolerance in mm, or per label: ``"1=1.5,2=3"``, ``{1: 1.5}`` or ``((1, 1.5),)``."""
    if isinstance(value, str) and "=" in value:
        value = dict(item.split("=", 1) for item in _items(value))
    if isinstance(value, dict):
        value = tuple(value.items())
    if isinstance(value, tuple) and value and all(isinstance(item, tuple) for item in value):
        return tuple(sorted((_int(label), _float(mm)) for label, mm in value))
    return _float(value)


def _choice(kind: type[enum.Enum]) -> ValueType:
    def parse(value: object) -> enum.Enum:
        if isinstance(value, kind):
            return value
        return kind(_text(value).strip().lower())

    return ValueType("[" + "|".join(k.value for k in kind) + "]", parse, "one of " + ", ".join(k.value for k in kind))


INT = ValueType("INT", _int, "an integer", text_in_files=False)
FLOAT = ValueType("FLOAT", _float, "a number", text_in_files=False)
FLOAT_OR_NAN = ValueType("FLOAT", _float_or_nan, "nan or a number")
FLAG = ValueType("", _bool, "true or false", flag=True)
TEXT = ValueType("TEXT", _text, "a text")
PATH = ValueType("PATH", _path, "a path")
INT_LIST = ValueType("INTS", _int_list, "comma-separated integers")
FLOAT_LIST = ValueType("NUMBERS", _float_list, "comma-separated numbers")
NAME_LIST = ValueType("NAMES", _name_list, "comma-separated names")
EXPRESSIONS = ValueType("EXPR", _repeated, "a text or a list of texts", repeatable=True)
LIMITS = ValueType("METRIC=AMOUNT", _limits, "METRIC=AMOUNT items", repeatable=True)
TOLERANCE = ValueType("MM", _tolerance, "a number or LABEL=MM items")
REGIONS = ValueType("NAME=LABELS", _regions, "NAME=LABELS items", repeatable=True)


# ----------------------------------------------------------------------------- checks of one value


def _at_least_one(value: int) -> None:
    if value < 1:
        raise ValueError("must be at least 1")


def _non_negative(value: float) -> None:
    if not value >= 0 or not math.isfinite(value):
        raise ValueError("must be a finite number >= 0")


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")


def _distinct_labels(value: tuple[int, ...]) -> None:
    if not value or len(set(value)) != len(value):
        raise ValueError("must be distinct label values")


def _unit_interval_or_nan(value: float) -> None:
    if not (math.isnan(value) or 0.0 <= value <= 1.0):
        raise ValueError("must be nan or within [0, 1]")


def _positive_spacing(value: tuple[float, ...]) -> None:
    if not value or not all(s > 0 and math.isfinite(s) for s in value):
        raise ValueError("must be positive numbers")


def _coverage(value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError("must be in [0, 1)")


def _percentile(value: float) -> None:
    if not 0.0 <= value <= 100.0:
        raise ValueError("must be between 0 and 100")


def _tolerances(value: float | tuple[tuple[int, float], ...]) -> None:
    for _, mm in value if isinstance(value, tuple) else ((None, value),):
        _non_negative(mm)


def _convention(value: str) -> None:
    from segeval.metrics.surface import get_convention

    get_convention(value)


def _region_items(value: tuple[str, ...]) -> None:
    from segeval.regions import parse_region

    for item in value:
        parse_region(item)


_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _device(value: str) -> None:
    if not _DEVICE.match(value):
        raise ValueError("must be auto, cpu, cuda or cuda:N")


_SCHEDULER = re.compile(r"^((tcp|tls)://\S+|local:[1-9]\d*)$")


def _scheduler(value: str) -> None:
    if not _SCHEDULER.match(value):
        raise ValueError("must be tcp://HOST:PORT, tls://HOST:PORT or local:N (N worker processes here)")


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Option:
    """One option: its name (the ``ScoreConfig`` field and settings-file key), type, default and help."""

    name: str
    type: ValueType
    default: object
    help: str
    panel: Panel
    commands: frozenset[Command] = frozenset({Command.SCORE})
    short: str | None = None
    flag_name: str | None = None
    """The long flag without ``--`` when it differs from the name (``gate`` for ``gates``)."""
    config: bool = True
    """A field of :class:`~segeval.config.ScoreConfig`; otherwise a run option of the command (``--out``)."""
    check: Callable[[object], None] | None = None
    """Raises ``ValueError`` with what is wrong with a parsed value."""
    in_file: bool = True
    """Whether a settings file may set it."""

    @property
    def flag(self) -> str:
        """The long command-line flag, e.g. ``--num-classes``."""
        return "--" + (self.flag_name or self.name).replace("_", "-")

    @property
    def file_keys(self) -> tuple[str, ...]:
        """Keys of a settings file for this option (``-`` and ``_`` are the same in a key)."""
        key = (self.flag_name or self.name).replace("-", "_")
        return (key,) if key == self.name else (key, self.name)

    def coerce(self, value: object, where: str | None = None, *, from_file: bool = False) -> object:
        """``value`` in the option's type and checked; ``None`` stays ``None`` (the option is unset).

        Text is parsed (the command line gives text), except from a settings file (``from_file``)
        for types that TOML writes as numbers.

        Raises
        ------
        UsageError
            Naming ``where`` (default: the flag), what the option expects and the value given.
        """
        if value is None:
            return None
        where = where or self.flag
        if from_file and isinstance(value, str) and not self.type.text_in_files:
            raise UsageError(f"{where} expects {self.type.expects}, got {value!r}")
        parsed = parse_value(self.type, value, where)
        if self.check is not None:
            try:
                self.check(parsed)
            except ValueError as exc:
                raise UsageError(f"{where} {exc}, got {_shown(parsed)}") from None
        return parsed


def parse_value(value_type: ValueType, value: object, where: str) -> object:
    """``value`` parsed as ``value_type`` (``None`` stays ``None``); a usage error naming ``where`` when it cannot be."""
    if value is None:
        return None
    try:
        return value_type.parse(value)
    except (TypeError, ValueError, AttributeError):
        raise UsageError(f"{where} expects {value_type.expects}, got {value!r}") from None


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return repr(list(value))
    return repr(value.value) if isinstance(value, enum.Enum) else repr(value)


_READ = frozenset({Command.SCORE, Command.LOSSES, Command.ANALYZE})

OPTIONS: tuple[Option, ...] = (
    # inputs
    Option(
        "pairs", PATH, None, "CSV manifest with columns pred,gt[,case] instead of PREDS and GTS.", Panel.INPUTS, _READ
    ),
    Option(
        "recursive",
        FLAG,
        False,
        "Search sub-folders; case names keep their relative path.",
        Panel.INPUTS,
        _READ,
        short="-r",
    ),
    Option(
        "pred_suffix",
        TEXT,
        "",
        "Strip this suffix from prediction names (case_1_pred.png → case_1).",
        Panel.INPUTS,
        _READ,
    ),
    Option("gt_suffix", TEXT, "", "Strip this suffix from ground-truth names.", Panel.INPUTS, _READ),
    Option(
        "allow_missing", FLAG, False, "Score what matches; a missing prediction counts as an empty one.", Panel.INPUTS
    ),
    Option(
        "skip_missing",
        FLAG,
        False,
        "With missing predictions, skip the case instead (implies --allow-missing).",
        Panel.INPUTS,
    ),
    Option(
        "palette", PATH, None, 'Colour→label map for RGB masks: CSV label,r,g,b or JSON {"1": [255,0,0]}.', Panel.INPUTS
    ),
    Option(
        "spacing",
        FLOAT_LIST,
        None,
        "Spacing in mm in array-axis order (z,y,x: the reverse of NIfTI's x,y,z), "
        "overriding the files'; one value = isotropic.",
        Panel.INPUTS,
        frozenset({Command.SCORE, Command.ANALYZE}),
        check=_positive_spacing,
    ),
    Option(
        "geometry_tolerance",
        FLOAT,
        1e-3,
        "Tolerance when comparing prediction and ground-truth spacing, origin and direction.",
        Panel.INPUTS,
        check=_non_negative,
    ),
    Option(
        "max_voxels",
        INT,
        800_000_000,
        "Most values (voxels × channels) one file may hold, checked on its header before decoding; "
        "also the most values decoded at once across the --workers threads (docs/cli.md, Input safety).",
        Panel.INPUTS,
        _READ,
        check=_at_least_one,
    ),
    # labels
    Option(
        "labels",
        INT_LIST,
        None,
        "Label values to score, e.g. 0,1,2,4 (channel i of a probability map is the "
        "i-th label). Default: inferred from the data (loss commands: 0..C-1).",
        Panel.LABELS,
        _READ,
        check=_distinct_labels,
    ),
    Option("num_classes", INT, None, "Score labels 0..N-1.", Panel.LABELS, check=_at_least_one),
    Option(
        "class_names",
        NAME_LIST,
        None,
        "Names in label order (bg,liver,tumour) or VALUE=NAME items (0=bg,4=enhancing).",
        Panel.LABELS,
    ),
    Option(
        "regions",
        REGIONS,
        (),
        "Label region scored as one binary mask (the union of its labels), repeatable: NAME=LABELS, e.g. "
        "WT=1,2,3 (regions may overlap; reported and gated under NAME; docs/metrics.md, Regions).",
        Panel.LABELS,
        check=_region_items,
    ),
    Option(
        "dataset_json",
        PATH,
        None,
        "nnU-Net dataset.json: a name mapped to a label names it, a name mapped to a list of labels is a "
        "region, 'ignore' is the ignore index. --class-names and --ignore-index win.",
        Panel.LABELS,
    ),
    Option(
        "ignore_index",
        INT,
        None,
        "Reference label whose pixels are excluded from every metric, e.g. 255.",
        Panel.LABELS,
    ),
    Option(
        "include_background",
        FLAG,
        False,
        "Average label 0 in mean_dice too (pixel accuracy, MPA, mIoU and FWIoU always include it).",
        Panel.LABELS,
    ),
    Option(
        "empty_score",
        FLOAT_OR_NAN,
        None,
        "Dice/IoU/precision/recall when a class is absent from both sides: nan (excluded from means) or e.g. 1. "
        "Default: from --empty-policy (nan).",
        Panel.LABELS,
        check=_unit_interval_or_nan,
    ),
    Option(
        "empty_policy",
        _choice(EmptyPolicy),
        EmptyPolicy.DEFAULT,
        "Empty-mask preset: default, monai (MONAI's ignore_empty=True: overlap NaN wherever the reference is "
        "empty, distances inf with one empty mask) or metricsreloaded (both empty: overlap 1, distances 0, NSD and "
        "boundary IoU 1). Sets the defaults of --empty-score and --distance-empty; an explicit option wins.",
        Panel.LABELS,
    ),
    # predictions
    Option(
        "pred_kind",
        _choice(PredKind),
        PredKind.AUTO,
        "What predictions hold; auto infers it from dtype and values.",
        Panel.PREDICTIONS,
    ),
    Option(
        "channel_axis",
        INT,
        None,
        "Class axis of probability/logit maps. Default: the axis that leaves the "
        "ground-truth shape; if several, the first (NPY) or the 4th NIfTI dimension.",
        Panel.PREDICTIONS,
        _READ,
    ),
    Option(
        "threshold",
        FLOAT,
        None,
        "Cut for single-channel maps (>= is foreground). Default 0.5 on probabilities, 0 on logits.",
        Panel.PREDICTIONS,
        check=_finite,
    ),
    # distance metrics
    Option(
        "metrics",
        NAME_LIST,
        None,
        "Metrics to compute beside the default overlap metrics, comma-separated: distances hd, hd95 (any hdNN; "
        "directed hd_pred_to_gt, hd95_gt_to_pred), assd, masd, msd_pred_to_gt, msd_gt_to_pred, nsd, boundary_iou; "
        "confusion-matrix metrics mcc, kappa, fbeta2 (any fbetaB), npv, ..., class averages dice_macro, "
        "mcc_weighted, iou_micro; or a family: cm, distance, lesion (all in 'segeval metrics'). Default: none; "
        "a --gate on a metric computes it.",
        Panel.DISTANCE,
        short="-m",
    ),
    Option(
        "convention",
        TEXT,
        "segeval",
        "Distance-metric convention: segeval (default), or monai, medpy, deepmind to reproduce that library exactly.",
        Panel.DISTANCE,
        check=_convention,
    ),
    Option(
        "hd_percentile",
        FLOAT,
        None,
        "Also compute the Hausdorff distance at this percentile (metric hdNN).",
        Panel.DISTANCE,
        check=_percentile,
    ),
    Option(
        "nsd_tolerance",
        TOLERANCE,
        1.0,
        "NSD tolerance in mm: one value, or LABEL=MM items (1=1.5,2=3).",
        Panel.DISTANCE,
        check=_tolerances,
    ),
    Option("boundary_iou_width", FLOAT, 2.0, "Boundary IoU band width in mm.", Panel.DISTANCE, check=_non_negative),
    Option(
        "distance_empty",
        _choice(DistanceEmpty),
        None,
        "Distance when exactly one mask is empty: worst (the image diagonal), nan or inf. Default: from "
        "--empty-policy (worst). Both empty: nan, or what --empty-policy says.",
        Panel.DISTANCE,
    ),
    # lesion-wise metrics (computed when named in --metrics, 'lesion' for all, or in a gate)
    Option(
        "lesion_preset",
        _choice(LesionPreset),
        LesionPreset.NONE,
        "Published lesion-wise rules: brats2023-gli, -ssa, -ped (3 dilations, lesions of <= 50 voxels ignored), "
        "-men (1, 50), -met (1, 2); the lesion options below override it. Lesion metrics are computed when "
        "named in --metrics ('lesion' for all) or a gate.",
        Panel.LESION,
    ),
    Option(
        "lesion_matching",
        _choice(LesionMatching),
        None,
        "Lesion matching: overlap (any overlap, WMH/BraTS; the default), iou (IoU > 0.5, panoptic) or "
        "assignment (one-to-one, maximum total IoU).",
        Panel.LESION,
    ),
    Option(
        "lesion_connectivity",
        INT,
        None,
        "Lesion connectivity: 4 or 8 in 2-D, 6, 18 or 26 in 3-D. Default: 8 / 26.",
        Panel.LESION,
        check=_at_least_one,
    ),
    Option(
        "lesion_dilation",
        INT,
        None,
        "Dilate the reference by this many iterations of the 3x3(x3) cross-plus-edges element before "
        "labelling, so nearby fragments count as one lesion (the mask itself is unchanged).",
        Panel.LESION,
        check=_non_negative,
    ),
    Option(
        "lesion_dilation_mm",
        FLOAT,
        None,
        "Dilate the reference by a ball of this radius in mm instead (not with --lesion-dilation).",
        Panel.LESION,
        check=_non_negative,
    ),
    Option(
        "lesion_min_voxels",
        INT,
        None,
        "Ignore reference lesions of at most this many voxels (predicted lesions of any size count).",
        Panel.LESION,
        check=_non_negative,
    ),
    Option(
        "lesion_min_mm3",
        FLOAT,
        None,
        "Ignore reference lesions of at most this volume in mm^3 (mm^2 in 2-D).",
        Panel.LESION,
        check=_non_negative,
    ),
    Option(
        "lesion_unmatched_hd",
        FLOAT,
        374.0,
        "HD95 and ASSD (mm) of a missed or false-positive lesion (BraTS 2023: 374, its image diagonal).",
        Panel.LESION,
        check=_non_negative,
    ),
    # statistics and gates
    Option(
        "ci",
        FLOAT,
        0.95,
        "Coverage of the bootstrap confidence intervals of the means (seeded); 0 turns them off.",
        Panel.STATISTICS,
        check=_coverage,
    ),
    Option(
        "gates",
        EXPRESSIONS,
        (),
        "Quality gate, repeatable: METRIC[CLASS].STAT OP NUMBER, e.g. 'dice>=0.85', "
        "'hd95[liver]<=6', 'dice.p05>=0.6', 'failed==0'. Exit code 1 when one fails.",
        Panel.STATISTICS,
        short="-g",
        flag_name="gate",
    ),
    Option(
        "baseline",
        PATH,
        None,
        "Compare with a previous report folder (paired change, bootstrap CI, Wilcoxon p).",
        Panel.STATISTICS,
    ),
    Option(
        "max_drop",
        LIMITS,
        (),
        "With --baseline: largest allowed fall of a mean, e.g. dice=0.01 (repeatable).",
        Panel.STATISTICS,
    ),
    Option(
        "max_rise",
        LIMITS,
        (),
        "With --baseline: largest allowed rise of a mean, e.g. hd95=0.5 (repeatable).",
        Panel.STATISTICS,
    ),
    # output (run options, not part of the numbers)
    Option(
        "out",
        PATH,
        None,
        "Write per_case.csv, summary.csv and summary.json into this folder.",
        Panel.OUTPUT,
        _READ,
        short="-o",
        config=False,
    ),
    Option(
        "format",
        _choice(OutputFormat),
        OutputFormat.TABLE,
        "What to print on stdout.",
        Panel.OUTPUT,
        _READ,
        short="-f",
        config=False,
    ),
    Option("junit", PATH, None, "Write gate verdicts and failed cases as JUnit XML.", Panel.OUTPUT, config=False),
    Option(
        "markdown",
        PATH,
        None,
        "Append a Markdown summary to this file (e.g. $GITHUB_STEP_SUMMARY).",
        Panel.OUTPUT,
        config=False,
    ),
    Option(
        "html",
        PATH,
        None,
        "Write a self-contained HTML report here (a view of the --out folder; a temporary one without --out).",
        Panel.OUTPUT,
        frozenset({Command.SCORE, Command.ANALYZE}),
        config=False,
        in_file=False,
    ),
    Option(
        "worst",
        INT,
        None,
        "Draw overlay thumbnails of this many worst cases (and the failed ones) into --out/thumbnails/; "
        "default 20 with --html, else none.",
        Panel.OUTPUT,
        config=False,
        check=_non_negative,
    ),
    Option(
        "worst_by",
        TEXT,
        None,
        "Metric that ranks the worst cases, e.g. dice, hd95 or dice[liver]. Default: the first gate's metric, "
        "else dice (the foreground mean).",
        Panel.OUTPUT,
        config=False,
    ),
    Option(
        "images",
        PATH,
        None,
        "Folder of images named like the cases: thumbnails draw the errors over the image instead of the "
        "reference label map.",
        Panel.OUTPUT,
        config=False,
        in_file=False,
    ),
    Option(
        "progress",
        FLAG,
        True,
        "Progress bar on stderr (only on a terminal).",
        Panel.OUTPUT,
        _READ,
        config=False,
        in_file=False,
    ),
    Option(
        "config",
        PATH,
        None,
        "Settings file: segeval.toml or a pyproject.toml with a [tool.segeval] table. "
        "Default: ./segeval.toml, then ./pyproject.toml. Command-line options win.",
        Panel.OUTPUT,
        config=False,
        in_file=False,
    ),
    # performance
    Option(
        "device",
        TEXT,
        "auto",
        "auto (CUDA when available), cpu, cuda or cuda:N.",
        Panel.PERFORMANCE,
        _READ,
        check=_device,
    ),
    Option(
        "batch_size",
        INT,
        None,
        "Cases per kernel call (default 1 on CPU, 8 on CUDA).",
        Panel.PERFORMANCE,
        check=_at_least_one,
    ),
    Option(
        "workers",
        INT,
        None,
        "Threads that read the files (in score each also decodes and counts its cases); default min(4, CPUs).",
        Panel.PERFORMANCE,
        _READ,
        check=_at_least_one,
    ),
    Option(
        "scheduler",
        TEXT,
        None,
        "Score the cases on a Dask cluster: tcp://HOST:PORT, tls://HOST:PORT, or local:N for N worker processes "
        'on this machine (pip install "segeval[dask]"; workers read the files at the same paths).',
        Panel.PERFORMANCE,
        config=False,
        check=_scheduler,
    ),
    Option(
        "scheduler_file",
        PATH,
        None,
        "Score the cases on the Dask cluster whose scheduler wrote this file (dask-jobqueue, dask scheduler "
        "--scheduler-file).",
        Panel.PERFORMANCE,
        config=False,
    ),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
CONFIG_OPTIONS: tuple[Option, ...] = tuple(option for option in OPTIONS if option.config)
"""The options that shape the numbers: the fields of :class:`~segeval.config.ScoreConfig`."""
EXCLUSIVE = (("labels", "num_classes"), ("scheduler", "scheduler_file"))
"""Options that say the same thing two ways: a source that sets one overrides the other from a weaker source."""


def options_for(command: Command) -> list[Option]:
    """The options of ``command``, in table order."""
    return [option for option in OPTIONS if command in option.commands]


def merge(*layers: tuple[str, dict[str, object]]) -> tuple[dict[str, object], dict[str, str]]:
    """Settings from ``(source, values)`` layers, weakest first, and where each came from.

    Values must already be coerced; ``None`` means unset. A layer that sets one option of an
    :data:`EXCLUSIVE` pair drops the other option's value from the weaker layers.
    """
    settings: dict[str, object] = {}
    sources: dict[str, str] = {}
    for source, values in layers:
        for group in EXCLUSIVE:
            given = [BY_NAME[name].flag for name in group if values.get(name) is not None]
            if len(given) > 1:
                raise UsageError(
                    f"give either {' or '.join(given)}, not both" + ("" if source == "cli" else f" ({source})")
                )
        for name, value in values.items():
            if value is None:
                continue
            for group in EXCLUSIVE:
                if name in group:
                    for other in group:
                        if other != name:
                            settings.pop(other, None)
                            sources.pop(other, None)
            settings[name], sources[name] = value, source
    return settings, sources


def markdown_table() -> str:
    """The option table as Markdown, by panel (docs/cli.md embeds it; a test keeps it in sync)."""
    lines = []
    for panel in Panel:
        rows = [option for option in OPTIONS if option.panel is panel]
        lines += [
            f"**{panel.value}**",
            "",
            "| option | value | default | settings-file key | commands | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for option in rows:
            flag = f"`{option.flag}`" + (f", `{option.short}`" if option.short else "")
            if option.type.flag:
                flag = f"`{option.flag}/--no-{option.flag[2:]}`" + (f", `{option.short}`" if option.short else "")
            value = "flag" if option.type.flag else f"`{option.type.metavar}`"
            if option.type.repeatable:
                value += " (repeatable)"
            default = (
                "" if option.default in (None, (), "") else f"`{getattr(option.default, 'value', option.default)}`"
            )
            key = f"`{option.file_keys[0].replace('_', '-')}`" if option.in_file else "—"
            commands = ", ".join(command.value for command in Command if command in option.commands)
            lines.append(f"| {flag} | {value} | {default} | {key} | {commands} | {option.help.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)
