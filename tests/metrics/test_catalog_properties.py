"""Properties every entry of the metric catalog must have, whatever the metric.

One test per rule, parametrised over the catalog (``hdNN`` as ``hd95``):

- identity: a perfect prediction gets the best value of the metric's range (per its direction);
- range: every value on random (prediction, reference) pairs lies within ``spec.range``;
- direction: a deliberately worse prediction is never better per ``spec.direction.loss`` than the
  perfect one, and strictly worse in at least one trial, so a flipped catalog direction fails here.

The label maps are seeded random blocky maps (a coarse random grid upsampled), 2-D and 3-D, with 2-4
classes and anisotropic spacings. Counted metrics come from ``confusion_metrics`` on confusion matrices
built with ``np.add.at``; distance metrics from ``distance_metrics``; lesion metrics from ``lesion_metrics``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from segeval.metrics.catalog import (
    CATALOG,
    PERCENTILE_TEMPLATE,
    Better,
    Family,
    Level,
    confusion_metrics,
    resolve_metric,
)
from segeval.metrics.distance import DistanceOptions, distance_metrics
from segeval.metrics.lesion import lesion_metrics

SPECS = [resolve_metric("hd95") if spec.name == PERCENTILE_TEMPLATE else spec for spec in CATALOG]
DIRECTED = [spec for spec in SPECS if spec.direction.better is not Better.NONE]
DISTANCE_NAMES = tuple(spec.name for spec in SPECS if spec.family is Family.DISTANCE)
LESION_NAMES = tuple(spec.name for spec in SPECS if spec.family is Family.LESION)
N_TRIALS = 10
TOL = 1e-9


def _ids(specs):
    return [spec.name for spec in specs]


# ------------------------------------------------------------------------------------------------ data


def _blocky(rng: np.random.Generator, shape: tuple[int, ...], n_classes: int) -> np.ndarray:
    """A random label map made of blocks: a coarse random grid of labels, upsampled and cropped."""
    cell = 4 if len(shape) == 2 else 3
    coarse = rng.integers(0, n_classes, size=tuple(-(-s // cell) for s in shape))
    fine = coarse
    for axis in range(len(shape)):
        fine = np.repeat(fine, cell, axis=axis)
    return np.ascontiguousarray(fine[tuple(slice(0, s) for s in shape)]).astype(np.uint8)


@functools.cache
def _trial(index: int):
    """Trial ``index``: (reference, spacing, number of classes), reference with at least two classes present."""
    rng = np.random.default_rng(1000 + index)
    n_classes = 2 + index % 3
    if index % 2:
        shape, spacing = (11, 13, 15), tuple(rng.uniform(0.5, 2.5, size=3))
    else:
        shape, spacing = (23, 37), tuple(rng.uniform(0.5, 2.5, size=2))
    while True:
        ref = _blocky(rng, shape, n_classes)
        if len(np.unique(ref)) >= 2:
            return ref, spacing, n_classes


def _worse(ref: np.ndarray, index: int) -> np.ndarray:
    """The reference made worse: a large block of one present class flipped to another one, or a shift."""
    rng = np.random.default_rng(2000 + index)
    if index % 4 == 3:
        return np.roll(ref, shift=2, axis=int(rng.integers(0, ref.ndim)))
    present = np.unique(ref)
    a, b = rng.choice(present, size=2, replace=False)
    box = tuple(
        slice(int(start), int(start) + s // 2)
        for s, start in zip(ref.shape, rng.integers(0, 1 + np.array(ref.shape) // 2))
    )
    pred = ref.copy()
    region = pred[box]
    region[region == a] = b
    return pred


def _random_pair(index: int) -> tuple[np.ndarray, np.ndarray]:
    """A random (prediction, reference): independent maps, a noisy copy, or a copy missing one class."""
    ref, _spacing, n_classes = _trial(index)
    rng = np.random.default_rng(3000 + index)
    kind = (index // 2) % 3
    if kind == 0:
        pred = _blocky(rng, ref.shape, n_classes)
    elif kind == 1:
        pred = ref.copy()
        noisy = rng.random(ref.shape) < 0.2
        pred[noisy] = rng.integers(0, n_classes, size=int(noisy.sum()))
    else:
        pred = ref.copy()
        pred[pred == pred.flat[0]] = (pred.flat[0] + 1) % n_classes
    return pred, ref


# ------------------------------------------------------------------------------------------------ metrics


def _confusion(pred: np.ndarray, ref: np.ndarray, n_classes: int) -> np.ndarray:
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (ref.ravel().astype(np.intp), pred.ravel().astype(np.intp)), 1)
    return cm


@functools.cache
def _pair_values(kind: str, index: int) -> dict[str, np.ndarray]:
    """``{metric: values}`` of every catalog metric for one pair: shape (C,) per class, () per case.

    ``kind``: ``identity`` (prediction = reference), ``worse`` (:func:`_worse`) or ``random`` (:func:`_random_pair`).
    """
    ref, spacing, n_classes = _trial(index)
    pred = {
        "identity": lambda: ref.copy(),
        "worse": lambda: _worse(ref, index),
        "random": lambda: _random_pair(index)[0],
    }[kind]()
    cm = _confusion(pred, ref, n_classes)
    out = {name: np.asarray(v, dtype=float) for name, (v, _) in confusion_metrics(cm, Level.CLASS).items()}
    out.update({name: np.asarray(v, dtype=float) for name, (v, _) in confusion_metrics(cm, Level.CASE).items()})
    distances = distance_metrics(pred, ref, list(range(n_classes)), spacing, DISTANCE_NAMES, DistanceOptions())
    for name in DISTANCE_NAMES:
        out[name] = np.array([float(distances[label][name][0]) for label in range(n_classes)])
    lesions = [lesion_metrics(pred == label, ref == label, spacing).values for label in range(n_classes)]
    for name in LESION_NAMES:
        out[name] = np.array([float(values[name][0]) for values in lesions])
    return out


def _best(spec) -> float:
    low, high = spec.range
    return {Better.HIGHER: high, Better.LOWER: low, Better.TARGET: spec.direction.target}[spec.direction.better]


def _present(spec, index: int) -> np.ndarray:
    """Which entries of the metric's values belong to classes present in the reference."""
    if spec.level is Level.CASE:
        return np.array(True)
    ref, _spacing, n_classes = _trial(index)
    return np.isin(np.arange(n_classes), np.unique(ref))


# ------------------------------------------------------------------------------------------------ rules


@pytest.mark.parametrize("spec", DIRECTED, ids=_ids(DIRECTED))
def test_identity_gives_the_best_value(spec):
    best = _best(spec)
    for index in range(N_TRIALS):
        values = _pair_values("identity", index)[spec.name][_present(spec, index)]
        assert values.size and not np.isnan(values).any(), f"{spec.name}: NaN for a present class (trial {index})"
        np.testing.assert_allclose(values, best, atol=TOL, err_msg=f"{spec.name}, trial {index}")


@pytest.mark.parametrize("spec", SPECS, ids=_ids(SPECS))
def test_values_lie_within_the_range(spec):
    low, high = spec.range
    seen = 0
    for index in range(N_TRIALS):
        for kind in ("random", "worse"):
            values = _pair_values(kind, index)[spec.name].ravel()
            values = values[~np.isnan(values)]
            seen += values.size
            outside = values[(values < low - TOL) | (values > high + TOL)]
            assert outside.size == 0, f"{spec.name} = {outside} outside [{low}, {high}] (trial {index}, {kind})"
    assert seen > 0, f"{spec.name}: no value at all"


@pytest.mark.parametrize("spec", DIRECTED, ids=_ids(DIRECTED))
def test_a_worse_prediction_is_not_better(spec):
    loss = np.vectorize(spec.direction.loss, otypes=[float])
    strictly_worse = 0
    for index in range(N_TRIALS):
        perfect = _pair_values("identity", index)[spec.name].ravel()
        worse = _pair_values("worse", index)[spec.name].ravel()
        both = ~np.isnan(perfect) & ~np.isnan(worse)
        gained = loss(worse[both]) < loss(perfect[both]) - TOL
        assert not gained.any(), (
            f"{spec.name} ({spec.direction}): a worse prediction scored {worse[both]} "
            f"against the perfect {perfect[both]} (trial {index})"
        )
        strictly_worse += int((loss(worse[both]) > loss(perfect[both]) + TOL).any())
    assert strictly_worse > 0, f"{spec.name}: never worse for a worse prediction in {N_TRIALS} trials"
