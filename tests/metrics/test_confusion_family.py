"""The confusion-matrix family (``--metrics cm``): scikit-learn, MONAI and float64 transcriptions of the
definitions (MetricsReloaded, EvaluateSegmentation, Powers 2011, Martin et al. 2001) as references, and
every empty-mask branch by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segeval.errors import UsageError
from segeval.metrics.catalog import (
    CATALOG,
    PARAMETRISED,
    Better,
    Family,
    Level,
    confusion_metrics,
    expand_metrics,
    resolve_metric,
)
from segeval.status import STATUS_CODES

sk = pytest.importorskip("sklearn.metrics")

N_CLASSES = 4


def _label_maps(seed: int, shape=(23, 31)) -> tuple[np.ndarray, np.ndarray]:
    """(pred, ref): a blocky reference over N_CLASSES labels and a noisy prediction with one class shrunk."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, N_CLASSES, size=tuple(-(-s // 4) for s in shape))
    ref = np.repeat(np.repeat(coarse, 4, axis=0), 4, axis=1)[: shape[0], : shape[1]]
    pred = ref.copy()
    noisy = rng.random(shape) < 0.15 + 0.05 * (seed % 3)
    pred[noisy] = rng.integers(0, N_CLASSES, size=int(noisy.sum()))
    pred[(pred == 2) & (rng.random(shape) < 0.5)] = 1
    return pred, ref


def _cm(pred: np.ndarray, ref: np.ndarray, n: int = N_CLASSES) -> np.ndarray:
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (ref.ravel(), pred.ravel()), 1)
    return cm


def _class_values(cm, metrics, empty_score=math.nan):
    return {k: v for k, (v, _) in confusion_metrics(cm, Level.CLASS, empty_score=empty_score, metrics=metrics).items()}


def _case_values(cm, metrics, foreground=None, empty_score=math.nan):
    out = confusion_metrics(cm, Level.CASE, metrics=metrics, foreground=foreground, empty_score=empty_score)
    return {k: float(v) for k, (v, _) in out.items()}


SEEDS = range(6)


# ------------------------------------------------------------------------- per class, against scikit-learn

SKLEARN_BINARY = {
    "mcc": sk.matthews_corrcoef,
    "kappa": sk.cohen_kappa_score,
    "balanced_accuracy": sk.balanced_accuracy_score,
    "fbeta2": lambda t, p: sk.fbeta_score(t, p, beta=2.0),
    "fbeta0.5": lambda t, p: sk.fbeta_score(t, p, beta=0.5),
    "dice": sk.f1_score,
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(SKLEARN_BINARY))
def test_class_metrics_match_scikit_learn_one_class_against_the_rest(name, seed):
    pred, ref = _label_maps(seed)
    values = _class_values(_cm(pred, ref), [name])[name]
    for c in range(N_CLASSES):
        expected = SKLEARN_BINARY[name]((ref == c).ravel(), (pred == c).ravel())
        assert values[c] == pytest.approx(expected, rel=1e-12, abs=1e-12), (name, c)


def _transcribed(pred: np.ndarray, ref: np.ndarray, c: int) -> dict[str, float]:
    """The definitions written out from the masks in float64 (MetricsReloaded's pairwise measures and
    Powers 2011's informedness/markedness, re-derived here; Heimann et al. 2009's volume differences)."""
    p, g = (pred == c).ravel(), (ref == c).ravel()
    tp, fp = float(np.sum(p & g)), float(np.sum(p & ~g))
    fn, tn = float(np.sum(~p & g)), float(np.sum(~p & ~g))
    sensitivity, specificity = tp / (tp + fn), tn / (tn + fp)
    ppv, npv = tp / (tp + fp), tn / (tn + fn)
    return {
        "fpr": fp / (fp + tn),
        "fnr": fn / (fn + tp),
        "fdr": fp / (fp + tp),
        "false_omission_rate": fn / (fn + tn),
        "npv": npv,
        "informedness": sensitivity + specificity - 1,
        "markedness": ppv + npv - 1,
        "positive_likelihood_ratio": sensitivity / (1 - specificity),
        "absolute_volume_difference": abs(float(p.sum()) - float(g.sum())) * 0.5,
        "relative_volume_difference": (float(p.sum()) - float(g.sum())) / float(g.sum()),
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_rates_and_volumes_match_their_definitions(seed):
    pred, ref = _label_maps(seed)
    cm = _cm(pred, ref)
    names = list(_transcribed(pred, ref, 0))
    out = confusion_metrics(cm, Level.CLASS, metrics=names, voxel_volume=0.5)
    for c in range(N_CLASSES):
        expected = _transcribed(pred, ref, c)
        for name in names:
            assert out[name][0][c] == pytest.approx(expected[name], rel=1e-12), (name, c)


# ------------------------------------------------------------------------- per case, multi-class


def _entropy(labels: np.ndarray) -> float:
    p = np.unique(labels, return_counts=True)[1] / labels.size
    return float(-(p * np.log(p)).sum())


def _gce(pred: np.ndarray, ref: np.ndarray) -> float:
    """Martin et al. 2001, pixel by pixel: LRE(S1, S2, x) = |R(S1, x) minus R(S2, x)| / |R(S1, x)|."""
    s1, s2 = ref.ravel(), pred.ravel()
    e12 = e21 = 0.0
    for x in range(s1.size):
        r1, r2 = s1 == s1[x], s2 == s2[x]
        e12 += np.sum(r1 & ~r2) / np.sum(r1)
        e21 += np.sum(r2 & ~r1) / np.sum(r2)
    return min(e12, e21) / s1.size


@pytest.mark.parametrize("seed", SEEDS)
def test_case_metrics_match_scikit_learn_and_their_definitions(seed):
    pred, ref = _label_maps(seed, shape=(13, 17))
    values = _case_values(_cm(pred, ref), ["cm"])
    t, p = ref.ravel(), pred.ravel()
    mi = sk.mutual_info_score(t, p)
    expected = {
        "multiclass_kappa": sk.cohen_kappa_score(t, p),
        "adjusted_rand_index": sk.adjusted_rand_score(t, p),
        "rand_index": sk.rand_score(t, p),
        "mutual_information": mi,
        "variation_of_information": _entropy(t) + _entropy(p) - 2 * mi,
        "global_consistency_error": _gce(pred, ref),
    }
    for name, value in expected.items():
        assert values[name] == pytest.approx(value, rel=1e-10, abs=1e-12), name


def test_clustering_indices_ignore_which_label_a_region_has():
    pred, ref = _label_maps(3, shape=(13, 17))
    permuted = np.array([2, 3, 0, 1])[pred]
    names = ["adjusted_rand_index", "rand_index", "mutual_information", "variation_of_information", "gce"]
    keep = lambda values: {k: values[k] for k in values if k in names or k == "global_consistency_error"}  # noqa: E731
    same, moved = keep(_case_values(_cm(pred, ref), names)), keep(_case_values(_cm(permuted, ref), names))
    assert same == pytest.approx(moved, rel=1e-12)
    identity = {
        "adjusted_rand_index": 1.0,
        "rand_index": 1.0,
        "mutual_information": _entropy(ref.ravel()),
        "variation_of_information": 0.0,
        "global_consistency_error": 0.0,
    }
    assert keep(_case_values(_cm(ref, ref), names)) == pytest.approx(identity, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_generalized_dice_matches_monai(seed):
    torch = pytest.importorskip("torch")
    monai_gd = pytest.importorskip("monai.metrics.generalized_dice")
    pred, ref = _label_maps(seed)
    if seed % 2:
        pred[pred == 3] = 1
        ref[ref == 3] = 2  # class 3 absent from both: MONAI's largest-weight rule
    if seed == 4:
        ref[ref == 1] = 0  # class 1 predicted but absent from the reference
    one_hot = lambda x: torch.from_numpy(np.moveaxis(np.eye(N_CLASSES)[x], -1, 0)[None].copy())  # noqa: E731
    expected = monai_gd.compute_generalized_dice(
        one_hot(pred), one_hot(ref), include_background=False, sum_over_classes=True
    )
    assert _case_values(_cm(pred, ref), ["generalized_dice"])["generalized_dice"] == pytest.approx(
        float(expected), rel=1e-6
    )


# ------------------------------------------------------------------------- class averages


@pytest.mark.parametrize("seed", SEEDS)
def test_class_averages_match_scikit_learn(seed):
    pred, ref = _label_maps(seed)
    t, p = ref.ravel(), pred.ravel()
    foreground = [1, 2, 3]
    names = ["dice_macro", "dice_micro", "dice_weighted", "precision_weighted", "recall_macro", "fbeta2_weighted"]
    values = {name: _case_values(_cm(pred, ref), names)[name] for name in names}
    expected = {
        "dice_macro": sk.f1_score(t, p, labels=foreground, average="macro"),
        "dice_micro": sk.f1_score(t, p, labels=foreground, average="micro"),
        "dice_weighted": sk.f1_score(t, p, labels=foreground, average="weighted"),
        "precision_weighted": sk.precision_score(t, p, labels=foreground, average="weighted"),
        "recall_macro": sk.recall_score(t, p, labels=foreground, average="macro"),
        "fbeta2_weighted": sk.fbeta_score(t, p, beta=2.0, labels=foreground, average="weighted"),
    }
    assert values == pytest.approx(expected, rel=1e-12)
    every = np.ones(N_CLASSES, bool)
    all_classes = _case_values(_cm(pred, ref), ["recall_macro", "precision_micro"], foreground=every)
    assert all_classes["recall_macro"] == pytest.approx(sk.balanced_accuracy_score(t, p), rel=1e-12)
    assert all_classes["precision_micro"] == pytest.approx(sk.accuracy_score(t, p), rel=1e-12)


def test_averages_skip_classes_without_a_value_and_weigh_by_reference_size():
    # class 1: 3 reference px, precision 1/2; class 2: absent from the prediction (precision NaN); class 3: 1 px, 1
    cm = np.array([[5, 1, 0, 0], [0, 1, 0, 2], [1, 0, 0, 0], [0, 0, 0, 1]])
    values = _case_values(cm, ["precision_macro", "precision_weighted", "precision_micro"])  # beside the defaults
    assert values["precision_macro"] == pytest.approx((0.5 + 1 / 3) / 2)  # class 3: 1 TP of 3 predicted
    assert values["precision_weighted"] == pytest.approx((3 * 0.5 + 1 * (1 / 3)) / 4)
    assert values["precision_micro"] == pytest.approx(2 / 5)
    nothing = confusion_metrics(np.diag([4, 0, 0, 0]), Level.CASE, metrics=["dice_macro", "dice_weighted"])
    for name in ("dice_macro", "dice_weighted"):
        value, code = nothing[name]
        assert math.isnan(value) and STATUS_CODES[int(code)] == "no_valid_class"


# ------------------------------------------------------------------------- empty-mask branches, by hand

# two classes, background 0 and class 1; (TP, FP, FN, TN) of class 1 through a 2x2 matrix
BOTH_EMPTY = np.array([[6, 0], [0, 0]])  # class 1 absent from both sides
FILLS_BOTH = np.array([[0, 0], [0, 6]])  # class 1 fills both sides
REF_EMPTY = np.array([[4, 2], [0, 0]])  # 2 false positives, no reference
PRED_EMPTY = np.array([[4, 0], [2, 0]])  # 2 missed, no prediction
PRED_FULL = np.array([[0, 4], [0, 2]])  # everything predicted as class 1
REF_FULL = np.array([[0, 0], [2, 4]])  # class 1 fills the reference, 2 missed

NAN = math.nan
# metric -> {matrix name: (value with --empty-score nan, value with --empty-score 1, status)}
CLASS_BRANCHES = {
    "mcc": {
        "both_empty": (NAN, 1, "both_empty"),
        "fills_both": (NAN, 1, "ref_full"),
        "ref_empty": (0, 0, "ref_empty"),
        "pred_empty": (0, 0, "pred_empty"),
        "pred_full": (0, 0, "pred_full"),
    },
    "kappa": {
        "both_empty": (NAN, 1, "both_empty"),
        "fills_both": (NAN, 1, "ref_full"),
        "ref_empty": (0, 0, "ref_empty"),
        "pred_empty": (0, 0, "pred_empty"),
    },
    "balanced_accuracy": {
        "both_empty": (NAN, 1, "both_empty"),
        "fills_both": (NAN, 1, "ref_full"),
        "ref_empty": (NAN, NAN, "ref_empty"),
        "pred_empty": (0.5, 0.5, "pred_empty"),
        "ref_full": (NAN, NAN, "ref_full"),
    },
    "informedness": {
        "both_empty": (NAN, 1, "both_empty"),
        "ref_empty": (NAN, NAN, "ref_empty"),
        "pred_empty": (0, 0, "pred_empty"),
        "pred_full": (0, 0, "pred_full"),
    },
    "markedness": {
        "both_empty": (NAN, 1, "both_empty"),
        "fills_both": (NAN, 1, "ref_full"),
        "ref_empty": (0, 0, "ref_empty"),
        "pred_empty": (NAN, NAN, "pred_empty"),
        "pred_full": (NAN, NAN, "pred_full"),
    },
    "fbeta2": {
        "both_empty": (NAN, 1, "both_empty"),
        "ref_empty": (0, 0, "ref_empty"),
        "pred_empty": (0, 0, "pred_empty"),
        "fills_both": (1, 1, "ok"),
    },
    "fpr": {
        "both_empty": (0, 0, "both_empty"),
        "ref_full": (NAN, NAN, "ref_full"),
        "ref_empty": (1 / 3, 1 / 3, "ref_empty"),
    },
    "fnr": {
        "both_empty": (NAN, 0, "both_empty"),
        "ref_empty": (NAN, NAN, "ref_empty"),
        "pred_empty": (1, 1, "ok"),
    },
    "fdr": {
        "both_empty": (NAN, 0, "both_empty"),
        "pred_empty": (NAN, NAN, "pred_empty"),
        "ref_empty": (1, 1, "ok"),
    },
    "npv": {
        "fills_both": (NAN, 1, "ref_full"),
        "pred_full": (NAN, NAN, "pred_full"),
        "both_empty": (1, 1, "both_empty"),
    },
    "false_omission_rate": {
        "fills_both": (NAN, 0, "ref_full"),
        "pred_full": (NAN, NAN, "pred_full"),
        "pred_empty": (1 / 3, 1 / 3, "pred_empty"),
    },
    "positive_likelihood_ratio": {
        "both_empty": (NAN, NAN, "both_empty"),
        "ref_empty": (NAN, NAN, "ref_empty"),
        "pred_empty": (NAN, NAN, "pred_empty"),
        "ref_full": (NAN, NAN, "ref_full"),
        "perfect": (math.inf, math.inf, "ok"),
    },
    "absolute_volume_difference": {"both_empty": (0, 0, "both_empty"), "ref_empty": (2, 2, "ref_empty")},
    "relative_volume_difference": {
        "both_empty": (NAN, NAN, "both_empty"),
        "ref_empty": (NAN, NAN, "ref_empty"),
        "pred_empty": (-1, -1, "pred_empty"),
        "pred_full": (2, 2, "pred_full"),
    },
}
MATRICES = {
    "both_empty": BOTH_EMPTY,
    "fills_both": FILLS_BOTH,
    "ref_empty": REF_EMPTY,
    "pred_empty": PRED_EMPTY,
    "pred_full": PRED_FULL,
    "ref_full": REF_FULL,
    "perfect": np.array([[4, 0], [0, 2]]),
}
BRANCHES = [(metric, branch) for metric, table in CLASS_BRANCHES.items() for branch in table]


@pytest.mark.parametrize(("metric", "branch"), BRANCHES, ids=[f"{m}-{b}" for m, b in BRANCHES])
def test_class_metric_empty_branches(metric, branch):
    expected_nan, expected_one, status = CLASS_BRANCHES[metric][branch]
    for empty_score, expected in ((NAN, expected_nan), (1.0, expected_one)):
        values, codes = confusion_metrics(MATRICES[branch], Level.CLASS, empty_score=empty_score, metrics=[metric])[
            metric
        ]
        value = float(values[1])
        assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected), (empty_score, value)
        assert STATUS_CODES[int(codes[1])] == status


CASE_BRANCHES = {
    # one and the same label on both sides: chance agreement 1
    "multiclass_kappa": [(np.diag([6, 0, 0]), NAN, 1, "both_empty"), (np.array([[0, 6], [0, 0]]), 0, 0, "ok")],
    "adjusted_rand_index": [(np.diag([6, 0, 0]), 1, 1, "ok"), (np.array([[0, 6], [0, 0]]), 1, 1, "ok")],
    "rand_index": [(np.diag([1, 0]), 1, 1, "ok"), (np.array([[3, 3], [0, 0]]), 0.4, 0.4, "ok")],
    "mutual_information": [(np.diag([6, 0]), 0, 0, "ok")],
    "variation_of_information": [(np.array([[3, 3], [0, 0]]), math.log(2), math.log(2), "ok")],
    "global_consistency_error": [
        (np.array([[3, 3], [0, 0]]), 0, 0, "ok"),
        (np.array([[2, 1], [1, 2]]), 4 / 9, 4 / 9, "ok"),
    ],
    # no foreground on either side; foreground predicted on an empty reference
    "generalized_dice": [(np.diag([6, 0, 0]), NAN, 1, "both_empty"), (np.array([[4, 2], [0, 0]]), 0, 0, "ok")],
}
CASES = [(metric, i) for metric, rows in CASE_BRANCHES.items() for i in range(len(rows))]


@pytest.mark.parametrize(("metric", "row"), CASES, ids=[f"{m}-{i}" for m, i in CASES])
def test_case_metric_empty_branches(metric, row):
    cm, expected_nan, expected_one, status = CASE_BRANCHES[metric][row]
    for empty_score, expected in ((NAN, expected_nan), (1.0, expected_one)):
        value, code = confusion_metrics(cm, Level.CASE, empty_score=empty_score, metrics=[metric])[metric]
        value = float(value)
        assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected), (empty_score, value)
        assert STATUS_CODES[int(code)] == status


def test_a_case_without_valid_pixel_is_nan_for_every_case_metric():
    out = confusion_metrics(np.zeros((3, 3), np.int64), Level.CASE, metrics=["cm", "mcc_macro", "dice_micro"])
    for name, (value, code) in out.items():
        assert math.isnan(float(value)) and STATUS_CODES[int(code)] == "no_valid_pixel", name


# ------------------------------------------------------------------------- names, families, catalog


def test_parametrised_names_resolve():
    assert resolve_metric("fbeta2").parameter == 2.0 and resolve_metric("F-beta-0.5").name == "fbeta0.5"
    assert resolve_metric("fbeta1").name == "dice" and resolve_metric("f1").name == "dice"
    assert (
        resolve_metric("f1_macro").name == "dice_macro" and resolve_metric("ppv_weighted").name == "precision_weighted"
    )
    assert resolve_metric("mcc_micro").direction.better is Better.HIGHER
    assert resolve_metric("rvd_macro").direction == resolve_metric("relative_volume_difference").direction
    for bad in ("fbeta0", "tp_macro", "hd95_weighted", "pixel_accuracy_macro"):
        with pytest.raises(UsageError):
            resolve_metric(bad)


def test_the_cm_family_is_every_non_parametrised_entry_of_the_family():
    names = [spec.name for spec in expand_metrics(["cm"])]
    assert names == [spec.name for spec in CATALOG if spec.family is Family.CM]
    assert {"mcc", "kappa", "generalized_dice", "adjusted_rand_index", "global_consistency_error"} <= set(names)
    assert not {spec.name for spec in CATALOG if spec.family in (Family.OVERLAP, Family.COUNT)} & set(names)
    assert [spec.name for spec in expand_metrics(["mcc", "cm", "fbeta2"])][:2] == ["mcc", "kappa"]


def test_every_entry_states_its_empty_branch():
    for spec in (*CATALOG, *PARAMETRISED):
        if spec.family in (Family.CM, Family.DISTANCE) or spec.name in ("dice", "iou", "precision", "recall"):
            assert spec.empty, spec.name


EXAMPLES = ["fbeta2", "fbeta0.5", "dice_macro", "dice_micro", "mcc_weighted", "kappa_macro", "iou_micro"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_parametrised_examples_are_best_on_identity_and_within_their_range(name):
    spec = resolve_metric(name)
    low, high = spec.range
    best = high if spec.direction.better is Better.HIGHER else low
    for seed in SEEDS:
        pred, ref = _label_maps(seed)
        level = spec.level
        worse = np.asarray(confusion_metrics(_cm(pred, ref), level, metrics=[name])[name][0], float)
        perfect = np.asarray(confusion_metrics(_cm(ref, ref), level, metrics=[name])[name][0], float)
        present = np.isin(np.arange(N_CLASSES), np.unique(ref)) if level is Level.CLASS else np.array(True)
        np.testing.assert_allclose(perfect[present], best)
        assert np.all((worse[~np.isnan(worse)] >= low) & (worse[~np.isnan(worse)] <= high))
        assert np.nanmin(worse) < best


def _taha_binary(tp: float, fp: float, fn: float, tn: float) -> dict[str, float]:
    """Taha & Hanbury 2015 (EvaluateSegmentation), eqs. for KAP and ARI of two binary segmentations, in float64."""
    n = tp + fp + fn + tn
    fa, fc = tp + tn, ((tn + fn) * (tn + fp) + (fp + tp) * (fn + tp)) / n
    squares = tp * tp + tn * tn + fp * fp + fn * fn
    a = (tp * (tp - 1) + fp * (fp - 1) + tn * (tn - 1) + fn * (fn - 1)) / 2
    b = ((tp + fn) ** 2 + (tn + fp) ** 2 - squares) / 2
    c = ((tp + fp) ** 2 + (tn + fn) ** 2 - squares) / 2
    d = n * (n - 1) / 2 - (a + b + c)
    return {
        "multiclass_kappa": (fa - fc) / (n - fc),
        "adjusted_rand_index": 2 * (a * d - b * c) / (c * c + b * b + 2 * a * d + (a + d) * (c + b)),
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_case_metrics_match_evaluate_segmentation(seed):
    pred, ref = _label_maps(seed)
    pred, ref = (pred >= 2).astype(np.int64), (ref >= 2).astype(np.int64)
    cm = _cm(pred, ref, 2)
    (tn, fp), (fn, tp) = cm.astype(float)
    values = _case_values(cm, ["multiclass_kappa", "adjusted_rand_index"])
    for name, expected in _taha_binary(tp, fp, fn, tn).items():
        assert values[name] == pytest.approx(expected, rel=1e-10), name
    # the per-class kappa of the foreground is the same number
    assert _class_values(cm, ["kappa"])["kappa"][1] == pytest.approx(values["multiclass_kappa"], rel=1e-12)
