"""Label regions: unions of labels scored as one binary mask (``--regions``, ``--dataset-json``).

A region ``WT=1,2,3`` is, on each side, the mask of the pixels whose label is 1, 2 or 3; regions may
overlap (``TC=1,3`` shares labels with ``WT``). Its counts are block sums of the case's label confusion
matrix ``cm`` (rows reference, columns prediction), so no second pass over the pixels::

    TP = Σ_{i∈R, j∈R} cm[i, j]    FN = Σ_{i∈R} Σ_j cm[i, j] − TP    FP = Σ_{j∈R} Σ_i cm[i, j] − TP

and TN the rest of the case's valid pixels. This is how nnU-Net's evaluator scores regions, and how the
BraTS challenge defines whole tumour, tumour core and enhancing tumour (Isensee et al., "nnU-Net: a
self-configuring method for deep learning-based biomedical image segmentation", Nature Methods 2021,
https://doi.org/10.1038/s41592-020-01008-z; Menze et al., "The Multimodal Brain Tumor Image Segmentation
Benchmark (BRATS)", IEEE TMI 2015, https://doi.org/10.1109/TMI.2014.2377694).

An nnU-Net ``dataset.json`` gives names in ``labels``: a name mapped to an integer names that label (a
class name), a name mapped to a list of integers is a region, and ``ignore`` is the ignore label.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segeval.errors import UsageError
from segeval.metrics.overlap import ClassCounts

MAX_DATASET_JSON_BYTES = 10_000_000
"""Largest dataset.json read (nnU-Net's are a few kB)."""
MAX_NAME_LENGTH = 64
RESERVED_NAMES = ("all", "foreground")
"""Class-column values that mean something else in the reports (case-level rows, comparison means)."""
_DEFAULT_CLASS_NAME = re.compile(r"^class_-?\d+$", re.IGNORECASE)


@dataclass(frozen=True)
class Region:
    """A named union of label values, scored as one binary mask."""

    name: str
    labels: tuple[int, ...]

    @property
    def text(self) -> str:
        """The ``NAME=LABELS`` form of ``--regions``."""
        return f"{self.name}={','.join(map(str, self.labels))}"


@dataclass(frozen=True)
class DatasetLabels:
    """What an nnU-Net ``dataset.json`` says about the labels."""

    class_names: dict[int, str]
    """Names of single labels."""
    regions: tuple[Region, ...]
    ignore_label: int | None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a region (or ``None``): a number reads as a label value, ``class_N`` is the
    default name of label N, and brackets, ``=``, ``,`` and control characters break gates and option text."""
    if not name or name != name.strip():
        return "is empty or starts or ends with a space"
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    if not name.isprintable() or any(c in name for c in "[]=,"):
        return "holds a control character, a bracket, '=' or a comma"
    if re.fullmatch(r"[-+]?\d+", name):
        return "is a number (it would read as a label value)"
    if _DEFAULT_CLASS_NAME.match(name):
        return "is the default name of a label"
    if name.lower() in RESERVED_NAMES:
        return f"is reserved ({', '.join(RESERVED_NAMES)})"
    return None


def parse_region(text: str) -> Region:
    """``"WT=1,2,3"`` as a :class:`Region` (labels sorted, repeats dropped).

    Raises
    ------
    ValueError
        Not ``NAME=LABELS``, a bad name (:func:`name_problem`), or a label that is not an integer.
    """
    name, sep, labels = text.partition("=")
    name = name.strip()
    if not sep:
        raise ValueError(f"item {text!r} is not NAME=LABELS (e.g. WT=1,2,3)")
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(f"region name {name!r} {problem}")
    items = [item.strip() for item in labels.split(",")]
    if not all(re.fullmatch(r"[-+]?\d{1,18}", item) for item in items):
        raise ValueError(f"region {name!r}: labels must be comma-separated integers (e.g. WT=1,2,3)")
    return Region(name, tuple(sorted({int(item) for item in items})))


def read_dataset_json(path: Path) -> DatasetLabels:
    """The class names, regions and ignore label of an nnU-Net ``dataset.json``.

    Raises
    ------
    UsageError
        One line naming the file and the problem: unreadable, too large, not JSON, no ``labels`` object,
        a repeated name, a value that is neither an integer nor a non-empty list of integers, a bad name,
        or two names for one label.
    """
    try:
        size = path.stat().st_size
        if size > MAX_DATASET_JSON_BYTES:
            raise UsageError(f"{path}: {size} bytes, more than the {MAX_DATASET_JSON_BYTES} a dataset.json may have")
        data = json.loads(path.read_bytes(), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read dataset.json ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: not a valid dataset.json ({_one_line(exc)})") from None
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, dict) or not labels:
        raise UsageError(f"{path}: no 'labels' object mapping names to label values")
    class_names: dict[int, str] = {}
    regions: list[Region] = []
    ignore_label = None
    for name, value in labels.items():
        where = f"{path}: label {name!r}"
        if _is_int(value):
            if name == "ignore":
                ignore_label = value
                continue
            if value in class_names:
                raise UsageError(f"{where} names label {value}, already named {class_names[value]!r}")
            if not name.strip() or not name.isprintable():
                raise UsageError(f"{where}: a name must be printable text")
            class_names[value] = name
        elif isinstance(value, list) and value and all(_is_int(v) for v in value):
            if name == "ignore":
                raise UsageError(f"{where} must be one integer, not a list")
            problem = name_problem(name)
            if problem is not None:
                raise UsageError(f"{where}: region name {problem}")
            regions.append(Region(name, tuple(sorted(set(value)))))
        else:
            raise UsageError(f"{where} must be an integer or a non-empty list of integers, got {_shown(value)}")
    return DatasetLabels(class_names, tuple(regions), ignore_label)


def check_regions(
    regions: list[Region],
    *,
    class_names: list[str],
    labels: tuple[int, ...] | None,
    ignore_index: int | None,
) -> None:
    """Regions that can be scored: distinct names, none equal to a class name, labels among ``labels``
    (when declared) and not the ignore index.

    Raises
    ------
    UsageError
        Naming the region and the clash.
    """
    seen: set[str] = set()
    taken = {name.lower() for name in class_names}
    for region in regions:
        key = region.name.lower()
        if key in seen:
            raise UsageError(f"region {region.name!r} is defined twice")
        if key in taken:
            raise UsageError(f"region {region.name!r} has the name of a class", hint="give the region another name")
        seen.add(key)
        if ignore_index is not None and ignore_index in region.labels:
            raise UsageError(f"region {region.text!r} holds the ignore index {ignore_index}")
        if labels is not None:
            unknown = [v for v in region.labels if v not in labels]
            if unknown:
                raise UsageError(
                    f"region {region.text!r}: label {unknown[0]} is not among the declared labels "
                    f"{', '.join(map(str, labels))}"
                )


def region_counts(cms: np.ndarray, labels: list[int], regions: list[Region]) -> ClassCounts:
    """Counts of each region, shape (..., R), from label confusion matrices of shape (..., C, C) over ``labels``
    (block sums; a region label absent from ``labels`` has no pixel)."""
    member = np.array([[v in region.labels for region in regions] for v in labels], dtype=np.float64)
    member = member.reshape(len(labels), len(regions))
    cm = np.asarray(cms, dtype=np.float64)
    tp = np.einsum("...ij,ir,jr->...r", cm, member, member)
    ref = cm.sum(axis=-1) @ member
    pred = cm.sum(axis=-2) @ member
    total = cm.sum(axis=(-2, -1))[..., None]
    return ClassCounts(tp=tp, fp=pred - tp, fn=ref - tp, tn=total - ref - pred + tp)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
