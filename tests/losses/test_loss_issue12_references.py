"""The losses of issue 12 against independent references: MONAI 1.6.1, kornia, and float64 NumPy transcriptions.

dice_focal, generalized_dice_focal, generalized_wasserstein_dice and log_hausdorff_dt against MONAI where the
conventions agree; erosion_hausdorff against kornia (2-D and 3-D); erosion_hausdorff, blob, skeleton_recall
and generalized_wasserstein_dice (the paper's general alpha, which MONAI fixes to 1) against NumPy
transcriptions of their papers. Values, and gradients (autograd of the reference, or central differences of
the NumPy transcription).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from loss_cases import Failures, import_monai_losses, make_case

from segeval.errors import UsageError
from segeval.losses import get_loss

CLOSE = {"rtol": 1e-6, "atol": 1e-9}


def close(a, b, **tolerance):
    a, b = (torch.as_tensor(x, dtype=torch.float64) if not isinstance(x, torch.Tensor) else x.double() for x in (a, b))
    torch.testing.assert_close(a, b, **(tolerance or CLOSE))


def one_hot(labels, classes):
    return F.one_hot(labels, classes).movedim(-1, 1).double()


def grads(fn, x):
    x = x.clone().requires_grad_(True)
    fn(x).backward()
    return x.grad


def numeric_gradient(fn, x: np.ndarray, positions, h=1e-6):
    """Central differences of ``fn`` (NumPy, float64) at the flat ``positions`` of ``x``."""
    out = []
    for i in positions:
        up, down = x.copy(), x.copy()
        up.flat[i] += h
        down.flat[i] -= h
        out.append((fn(up) - fn(down)) / (2 * h))
    return np.array(out)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ----------------------------------------------------------------------------- Dice + focal (MONAI)


@pytest.mark.reference
def test_dice_focal_matches_monai_in_sigmoid_modes():
    monai = import_monai_losses()
    failures = Failures()
    for mode, alpha, gamma in (("binary", None, 2.0), ("multilabel", None, 2.0), ("binary", 0.25, 1.5)):
        with failures.case(f"{mode}/alpha={alpha}/gamma={gamma}"):
            z, t, _ = make_case(mode, seed=21, spatial=(6, 7))
            ours = get_loss("dice_focal", mode=mode, alpha=alpha, gamma=gamma, lambda_dice=0.7, lambda_focal=1.3)
            ref = monai.DiceFocalLoss(sigmoid=True, alpha=alpha, gamma=gamma, lambda_dice=0.7, lambda_focal=1.3)
            close(ours(z, t), ref(z, t), rtol=1e-6, atol=1e-7)
            close(
                grads(lambda x, f=ours, t=t: f(x, t), z), grads(lambda x, f=ref, t=t: f(x, t), z), rtol=1e-5, atol=1e-7
            )
    failures.check()


@pytest.mark.reference
def test_dice_focal_multiclass_is_monai_softmax_dice_plus_segeval_softmax_focal():
    """MONAI's softmax=True keeps a sigmoid focal term (docs/losses.md); the Dice terms agree and the sum is ours."""
    monai = import_monai_losses()
    z, t, _ = make_case("multiclass", seed=22, spatial=(6, 7))
    g = one_hot(t, 3)
    dice = monai.DiceFocalLoss(softmax=True, lambda_focal=0.0)(z, g)
    focal = get_loss("focal", mode="multiclass", alpha=None)(z, t)
    close(get_loss("dice_focal", mode="multiclass")(z, t), dice + focal)
    # what MONAI's focal term is: segeval's multilabel (one-vs-rest sigmoid) focal on the one-hot target
    monai_focal = monai.DiceFocalLoss(softmax=True, lambda_dice=0.0)(z, g)
    close(monai_focal, get_loss("focal", mode="multilabel", alpha=None)(z, g), rtol=1e-6, atol=1e-7)


@pytest.mark.reference
def test_generalized_dice_focal_matches_monai_gdl_term_and_segeval_focal():
    monai = import_monai_losses()
    z, t, _ = make_case("multiclass", seed=23, spatial=(6, 7))
    g = one_hot(t, 3)
    ours = get_loss("generalized_dice_focal", lambda_dice=0.5, lambda_focal=2.0)
    gdl = monai.GeneralizedDiceLoss(softmax=True, reduction="none")(z, g).flatten()
    close(get_loss("generalized_dice_focal", lambda_focal=0.0, reduction="none")(z, t), gdl)
    expected = 0.5 * gdl.mean() + 2.0 * get_loss("focal", mode="multiclass", alpha=None)(z, t)
    close(ours(z, t), expected)

    def ref(x):
        gdl = monai.GeneralizedDiceLoss(softmax=True)(x, g)
        return 0.5 * gdl + 2.0 * get_loss("focal", mode="multiclass", alpha=None)(x, t)

    close(grads(lambda x: ours(x, t), z), grads(ref, z), rtol=1e-5, atol=1e-8)


def test_dice_focal_batch_aggregation_pools_both_terms():
    z, t, _ = make_case("binary", seed=24)
    value = get_loss("dice_focal", aggregation="batch")(z, t)
    expected = get_loss("dice", aggregation="batch")(z, t) + get_loss("focal", alpha=None)(z, t)
    close(value, expected, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- generalised Wasserstein Dice


BRATS_LIKE = [[0.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.6, 0.2], [1.0, 0.6, 0.0, 0.5], [1.0, 0.2, 0.5, 0.0]]


@pytest.mark.reference
def test_generalized_wasserstein_dice_matches_monai():
    monai = import_monai_losses()
    failures = Failures()
    for label, matrix in (("0/1", None), ("brats-like", BRATS_LIKE)):
        with failures.case(label):
            z, t, _ = make_case("multiclass", seed=25, classes=4, spatial=(6, 7))
            ours = get_loss("generalized_wasserstein_dice", distance_matrix=matrix, reduction="none")
            m = np.array(BRATS_LIKE) if matrix is not None else 1.0 - np.eye(4)
            ref = monai.GeneralizedWassersteinDiceLoss(m, reduction="none")
            close(ours(z, t), ref(z, t))
            ours_grad = grads(lambda x, f=ours, t=t: f(x, t).sum(), z)
            close(ours_grad, grads(lambda x, f=ref, t=t: f(x, t).sum(), z), rtol=1e-5, atol=1e-9)
    failures.check()


def gwdl_numpy(p: np.ndarray, labels: np.ndarray, m: np.ndarray, s: float) -> float:
    """Fidon et al. 2017, Eq. 6-8, literally: one image, p (C, N), labels (N,); alpha_l = M[l, b], b = 0."""
    w = np.array([sum(m[labels[i], c] * p[c, i] for c in range(p.shape[0])) for i in range(p.shape[1])])
    tp = sum(m[labels[i], 0] * (m[labels[i], 0] - w[i]) for i in range(p.shape[1]))
    return 1.0 - (2 * tp + s) / (2 * tp + w.sum() + s)


def test_generalized_wasserstein_dice_paper_alpha_when_background_distances_differ():
    m = np.array([[0.0, 0.8, 0.5], [0.8, 0.0, 0.3], [0.5, 0.3, 0.0]])  # M[l, 0] != 1: MONAI's alpha = 1 differs
    z, t, _ = make_case("multiclass", seed=26, spatial=(4, 5))
    loss = get_loss("generalized_wasserstein_dice", distance_matrix=m, smooth=1e-3, reduction="none")
    p = torch.softmax(z, 1).numpy()
    labels = t.numpy()
    expected = [gwdl_numpy(p[b].reshape(3, -1), labels[b].reshape(-1), m, 1e-3) for b in range(2)]
    close(loss(z, t), expected, rtol=1e-12, atol=1e-12)

    def reference(zz):
        q = np.exp(zz - zz.max(0)) / np.exp(zz - zz.max(0)).sum(0)
        return gwdl_numpy(q.reshape(3, -1), labels[0].reshape(-1), m, 1e-3)

    z0 = z[0].numpy()
    positions = [0, 7, 23, 41, 58]
    autograd = grads(lambda x: loss(x, t)[0], z)[0].numpy().flat[positions]
    np.testing.assert_allclose(autograd, numeric_gradient(reference, z0, positions), rtol=1e-6, atol=1e-9)


def test_generalized_wasserstein_dice_distance_matrix_is_validated():
    failures = Failures()
    for bad, message in (
        ([[0, 1], [1, 1]], "zeros on the diagonal"),
        ([[0, -1], [1, 0]], "non-negative"),
        ([0, 1, 1], "square"),
        ("0/1", "square"),
    ):
        with failures.case(repr(bad)):
            with pytest.raises(
                UsageError, match=f"generalized_wasserstein_dice: Expected `distance_matrix`.*{message}"
            ):
                get_loss("generalized_wasserstein_dice", distance_matrix=bad)
    z, t, _ = make_case("multiclass", seed=27)
    with pytest.raises(UsageError, match=r"shape \(3, 3\) for 3 classes, got \(4, 4\)"):
        get_loss("generalized_wasserstein_dice", distance_matrix=BRATS_LIKE)(z, t)
    failures.check()
    module = get_loss("generalized_wasserstein_dice", distance_matrix=BRATS_LIKE)
    assert "distance_matrix" in dict(module.named_buffers())


# ----------------------------------------------------------------------------- log Hausdorff DT (MONAI)


@pytest.mark.reference
def test_log_hausdorff_dt_matches_monai_per_image_and_class():
    monai = import_monai_losses()
    z, t, _ = make_case("multiclass", seed=28, spatial=(7, 8))
    g = one_hot(t, 3)
    ours = get_loss("log_hausdorff_dt", mode="multiclass", reduction="none")
    ref = monai.LogHausdorffDTLoss(softmax=True, include_background=True, reduction="none")
    close(ours(z, t), ref(z, g).reshape(2, 3), rtol=1e-6, atol=1e-8)
    close(grads(lambda x: ours(x, t).sum(), z), grads(lambda x: ref(x, g).sum(), z), rtol=1e-5, atol=1e-8)
    zb, tb, _ = make_case("binary", seed=29, batch=1, spatial=(7, 8))  # one image, one class: MONAI's mean agrees
    close(get_loss("log_hausdorff_dt")(zb, tb), monai.LogHausdorffDTLoss(sigmoid=True)(zb, tb), rtol=1e-6, atol=1e-8)


def test_log_hausdorff_dt_is_log1p_of_the_per_image_hausdorff_dt():
    z, t, _ = make_case("binary", seed=30, spatial=(6, 7))
    per_pixel = get_loss("hausdorff_dt", reduction="none")(z, t)
    expected = torch.log1p(per_pixel.mean(dim=(2, 3)))
    close(get_loss("log_hausdorff_dt", reduction="none")(z, t), expected, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- erosion Hausdorff (kornia, NumPy)


def erosion_numpy(p: np.ndarray, g: np.ndarray, alpha: float, erosions: int) -> np.ndarray:
    """Karimi & Salcudean's erosion loss map for one image: soft erosions of (p - g)^2 by the normalised cross."""
    from scipy.ndimage import convolve, generate_binary_structure

    cross = generate_binary_structure(p.ndim, 1).astype(np.float64)
    cross /= cross.sum()
    bound = (p - g) ** 2
    total = np.zeros_like(bound)
    for k in range(1, erosions + 1):
        soft = np.maximum(convolve(bound, cross, mode="constant", cval=0.0) - 0.5, 0.0)
        span = soft.max() - soft.min()
        bound = (soft - soft.min()) / span if span != 0 else soft
        total += bound * k**alpha
    return total


def test_erosion_hausdorff_matches_numpy_transcription_2d_and_3d():
    failures = Failures()
    for spatial in ((9, 10), (5, 6, 7)):
        for alpha, erosions in ((2.0, 10), (1.0, 3)):
            with failures.case(f"{spatial}/alpha={alpha}/erosions={erosions}"):
                z, t, g = make_case("binary", seed=31, spatial=spatial, scale=4.0)
                loss = get_loss("erosion_hausdorff", alpha=alpha, erosions=erosions, reduction="none")
                p = sigmoid(z.numpy())
                expected = np.stack([erosion_numpy(p[b, 0], g[b, 0], alpha, erosions) for b in range(2)])[:, None]
                close(loss(z, t), expected, rtol=1e-10, atol=1e-12)
                assert loss(z, t).sum() > 0  # the case exercises the erosions

                def reference(zz, g=g, alpha=alpha, erosions=erosions):
                    return erosion_numpy(sigmoid(zz), g[0, 0], alpha, erosions).mean()

                z0 = z[0, 0].numpy()
                positions = list(range(0, z0.size, max(1, z0.size // 6)))
                autograd = grads(lambda x, f=loss, t=t: f(x[:1], t[:1]).mean(), z)[0, 0].numpy().flat[positions]
                np.testing.assert_allclose(autograd, numeric_gradient(reference, z0, positions), rtol=1e-5, atol=1e-9)
    failures.check()


def test_erosion_hausdorff_matches_kornia():
    kornia = pytest.importorskip("kornia")
    failures = Failures()
    for spatial, reference in (((9, 10), kornia.losses.HausdorffERLoss), ((5, 6, 7), kornia.losses.HausdorffERLoss3D)):
        with failures.case(str(spatial)):
            z, t, _ = make_case("multiclass", seed=32, spatial=spatial, scale=4.0)
            p = torch.softmax(z, 1)
            ours = get_loss("erosion_hausdorff", mode="multiclass", from_logits=False, alpha=2.0, erosions=10)
            ref = reference(alpha=2.0, k=10)
            # kornia builds its kernel in float32 (0.2 = 0.2000000030): agreement to ~1e-7
            close(ours(p, t), ref(p, t[:, None]), rtol=1e-6, atol=1e-10)
            ours_grad = grads(lambda x, f=ours, t=t: f(x, t), p)
            close(ours_grad, grads(lambda x, f=ref, t=t: f(x, t[:, None]), p), rtol=1e-5, atol=1e-9)
    failures.check()


def test_erosion_hausdorff_rejects_1d_images():
    with pytest.raises(UsageError, match="erosion_hausdorff: expected 2-D or 3-D images, got 1 spatial axes"):
        get_loss("erosion_hausdorff")(torch.zeros(1, 1, 5), torch.zeros(1, 1, 5))


# ----------------------------------------------------------------------------- blob loss (NumPy)


def soft_dice_numpy(p, g, s):
    return (2 * (p * g).sum() + s) / (p.sum() + g.sum() + s)


def blob_numpy(p: np.ndarray, g: np.ndarray, lambda_global: float, lambda_blob: float, s: float) -> float:
    """Kofler et al. 2023 for one binary image: global Dice loss + mean over components of the masked Dice loss."""
    from scipy.ndimage import generate_binary_structure, label

    labels, n = label(g > 0.5, structure=generate_binary_structure(g.ndim, g.ndim))
    blob = 0.0
    for k in range(1, n + 1):
        keep = (labels == 0) | (labels == k)  # mu_k: the other components are masked out
        blob += 1.0 - soft_dice_numpy(p * keep, g * (labels == k), s)
    blob = blob / n if n else 0.0
    return lambda_global * (1.0 - soft_dice_numpy(p, g, s)) + lambda_blob * blob


def blob_image():
    """Three components (8-connected) of different sizes, one touching another only diagonally."""
    g = np.zeros((8, 9))
    g[1:4, 1:4] = 1  # 9 px
    g[4, 4] = 1  # diagonal neighbour of the first: same component with full connectivity
    g[6, 6:9] = 1  # 3 px
    g[1, 7] = 1  # 1 px
    return g


def test_blob_matches_numpy_transcription():
    g = blob_image()
    rng = np.random.default_rng(3)
    z = rng.normal(size=(2, 1, 8, 9)) * 2
    target = torch.from_numpy(np.stack([g, g[::-1].copy()])[:, None])
    failures = Failures()
    for lambda_global, lambda_blob, smooth in ((2.0, 1.0, 1e-5), (0.0, 1.0, 1.0), (1.0, 3.0, 0.0)):
        with failures.case(f"{lambda_global}/{lambda_blob}/{smooth}"):
            loss = get_loss(
                "blob", lambda_global=lambda_global, lambda_blob=lambda_blob, smooth=smooth, reduction="none"
            )
            p = sigmoid(z)
            expected = [blob_numpy(p[b, 0], target[b, 0].numpy(), lambda_global, lambda_blob, smooth) for b in range(2)]
            close(loss(torch.from_numpy(z), target), expected, rtol=1e-12, atol=1e-12)

            def reference(zz, a=lambda_global, b=lambda_blob, s=smooth):
                return blob_numpy(sigmoid(zz), g, a, b, s)

            positions = [0, 10, 11, 24, 40, 60, 70]
            autograd = grads(lambda x, loss=loss: loss(x, target)[0], torch.from_numpy(z))[0, 0].numpy().flat[positions]
            np.testing.assert_allclose(autograd, numeric_gradient(reference, z[0, 0], positions), rtol=1e-6, atol=1e-9)
    failures.check()


def test_blob_multiclass_takes_components_per_foreground_class_and_3d():
    labels = np.zeros((1, 6, 7), dtype=np.int64)
    labels[0, 1:3, 1:3] = 1
    labels[0, 4, 5] = 1
    labels[0, 4:6, 0:2] = 2
    z = torch.from_numpy(np.random.default_rng(4).normal(size=(1, 3, 6, 7)))
    t = torch.from_numpy(labels)
    p = torch.softmax(z, 1).numpy()
    g = one_hot(t, 3).numpy()
    value = get_loss("blob", mode="multiclass", lambda_global=0.0, reduction="none")(z, t)
    from scipy.ndimage import label

    terms = []
    for c in (1, 2):
        comp, n = label(g[0, c] > 0.5, structure=np.ones((3, 3)))
        for k in range(1, n + 1):
            terms.append(1 - soft_dice_numpy(p[0, c] * ((comp == 0) | (comp == k)), g[0, c] * (comp == k), 1e-5))
    assert len(terms) == 3
    close(value, [np.mean(terms)], rtol=1e-12, atol=1e-12)
    volume = torch.from_numpy(np.stack([blob_image()] * 3)[None, None])  # 3-D: 26-connectivity
    zv = torch.from_numpy(np.random.default_rng(5).normal(size=volume.shape))
    expected = blob_numpy(sigmoid(zv.numpy()[0, 0]), volume.numpy()[0, 0], 2.0, 1.0, 1e-5)
    close(get_loss("blob")(zv, volume), expected, rtol=1e-12, atol=1e-12)


def test_blob_weighs_a_missed_small_lesion_like_a_missed_large_one():
    g = np.zeros((1, 1, 6, 12))
    g[0, 0, 1:5, 1:5] = 1  # 16 px
    g[0, 0, 2, 9] = 1  # 1 px
    target = torch.from_numpy(g)
    miss_small = torch.from_numpy(g.copy())
    miss_small[0, 0, 2, 9] = 0
    miss_large = torch.from_numpy(g.copy())
    miss_large[0, 0, 1:5, 1:5] = 0
    blob = get_loss("blob", from_logits=False, lambda_global=0.0, smooth=0.0)
    assert blob(miss_small, target).item() == pytest.approx(0.5)
    assert blob(miss_large, target).item() == pytest.approx(0.5)
    dice = get_loss("dice", from_logits=False, smooth=0.0)
    assert dice(miss_small, target).item() < 0.05 < 0.8 < dice(miss_large, target).item()


# ----------------------------------------------------------------------------- skeleton recall (NumPy, scikit-image)


def tubed_skeleton_numpy(labels: np.ndarray) -> np.ndarray:
    """Kirchhoff et al.: skeletonize the foreground, dilate twice (scikit-image's default cross), keep the labels."""
    from skimage.morphology import dilation, skeletonize

    foreground = labels > 0
    if not foreground.any():
        return np.zeros_like(labels)
    skeleton = skeletonize(foreground, method="lee") > 0
    tube = dilation(dilation(skeleton.astype(np.uint8)))
    return tube * labels


def skeleton_recall_numpy(p: np.ndarray, labels: np.ndarray, classes, s: float) -> float:
    tube = tubed_skeleton_numpy(labels)
    recalls = [((p[c] * (tube == c)).sum() + s) / ((tube == c).sum() + s) for c in classes]
    return 1.0 - float(np.mean(recalls))


def vessel_labels(shape=(12, 14)):
    labels = np.zeros(shape, dtype=np.int64)
    labels[2:5, 1:13] = 1  # a thick horizontal vessel
    labels[5:11, 6:9] = 2  # a branch of another class
    return labels


def test_skeleton_recall_matches_numpy_transcription_binary_and_multiclass():
    labels = vessel_labels()
    rng = np.random.default_rng(6)
    failures = Failures()
    with failures.case("multiclass"):
        z = rng.normal(size=(1, 3, *labels.shape))
        loss = get_loss("skeleton_recall", mode="multiclass")
        value = loss(torch.from_numpy(z), torch.from_numpy(labels[None]))
        p = torch.softmax(torch.from_numpy(z), 1).numpy()[0]
        close(value, skeleton_recall_numpy(p, labels, (1, 2), 1.0), rtol=1e-12, atol=1e-12)

        def reference(zz):
            q = np.exp(zz - zz.max(0)) / np.exp(zz - zz.max(0)).sum(0)
            return skeleton_recall_numpy(q, labels, (1, 2), 1.0)

        positions = [3 * 14 + 5, 168 + 3 * 14 + 5, 336 + 8 * 14 + 7, 168 + 8 * 14 + 7, 20]
        autograd = (
            grads(lambda x: loss(x, torch.from_numpy(labels[None])), torch.from_numpy(z))[0].numpy().flat[positions]
        )
        np.testing.assert_allclose(autograd, numeric_gradient(reference, z[0], positions), rtol=1e-6, atol=1e-10)
    with failures.case("binary, smooth=0"):
        binary = (labels > 0).astype(np.int64)
        z = rng.normal(size=(1, 1, *labels.shape))
        value = get_loss("skeleton_recall", smooth=0.0)(
            torch.from_numpy(z), torch.from_numpy(binary[None, None]).double()
        )
        p = sigmoid(z)[0]
        tube = tubed_skeleton_numpy(binary)
        close(value, 1 - (p[0] * (tube == 1)).sum() / (tube == 1).sum(), rtol=1e-12, atol=1e-12)
    with failures.case("3-D"):
        volume = np.stack([vessel_labels()] * 5) > 0
        z = rng.normal(size=(1, 1, *volume.shape))
        value = get_loss("skeleton_recall")(torch.from_numpy(z), torch.from_numpy(volume[None, None]).double())
        tube = tubed_skeleton_numpy(volume.astype(np.int64))
        expected = 1 - ((sigmoid(z)[0, 0] * tube).sum() + 1) / (tube.sum() + 1)
        assert tube.sum() > 0
        close(value, expected, rtol=1e-12, atol=1e-12)
    failures.check()


def test_skeleton_recall_ignores_false_positives_and_rewards_the_skeleton():
    labels = vessel_labels()
    target = torch.from_numpy((labels > 0).astype(np.float64))[None, None]
    loss = get_loss("skeleton_recall", from_logits=False, smooth=0.0)
    tube = torch.from_numpy(tubed_skeleton_numpy((labels > 0).astype(np.int64)) > 0).double()[None, None]
    assert loss(tube, target).item() == 0.0  # covers the skeleton: perfect, whatever else it misses
    assert loss(torch.ones_like(target), target).item() == 0.0  # false positives cost nothing
    assert loss(target * (1 - tube), target).item() == 1.0  # the object without its skeleton scores nothing


def test_lambda_focal_bounds_differ_between_unified_focal_and_the_dice_focal_compounds():
    """unified_focal's lambda_focal mixes two terms (in [0, 1]); dice_focal's weighs one (any value >= 0)."""
    with pytest.raises(
        UsageError, match=r"^unified_focal: Expected `lambda_focal` to be a finite number >= 0 and <= 1"
    ):
        get_loss("unified_focal", lambda_focal=2.0)
    z, t, _ = make_case("binary", seed=43)
    one = get_loss("dice_focal", lambda_dice=0.0, lambda_focal=1.0)(z, t)
    close(get_loss("dice_focal", lambda_dice=0.0, lambda_focal=2.0)(z, t), 2 * one, rtol=1e-12, atol=0)
