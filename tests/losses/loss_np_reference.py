"""Float64 NumPy transcriptions of the loss formulas, written from the papers (cited in docs/losses.md).

Independent of segeval's implementation on purpose: explicit loops over classes and images, set
definitions instead of cumulative-sum tricks (Lovász), brute-force distances instead of scipy's
EDT, plain ``np.log`` of probabilities. Inputs are probabilities ``p`` and binary/one-hot targets
``g``, both ``(B, K, *S)`` float64 arrays, unless stated otherwise.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

# ----------------------------------------------------------------------------- activations


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def one_hot(y, c):
    """(B, *S) integer labels → (B, C, *S) float64."""
    return np.stack([(y == k).astype(np.float64) for k in range(c)], axis=1)


def two_class(p):
    """(B, C, *S) sigmoid probabilities → (B, 2, C, *S) class maps (1 - p, p)."""
    return np.stack([1.0 - p, p], axis=1)


def spatial_sum(x, batch):
    """Sum a (B, K, *S) array over pixels → (B, K), or over batch and pixels → (K,)."""
    axes = tuple(range(2, x.ndim))
    s = x.sum(axis=axes)
    return s.sum(axis=0) if batch else s


# ----------------------------------------------------------------------------- distribution


def bce(p, g):
    return -(g * np.log(p) + (1 - g) * np.log(1 - p))


def ce_weighted_mean(p, y, weight=None, ignore_index=None):
    """torch semantics: sum_i w_y [-ln p_y] / sum_i w_y over non-ignored pixels; p (B, C, *S), y (B, *S)."""
    c = p.shape[1]
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
    num = den = 0.0
    for b in range(p.shape[0]):
        for idx in np.ndindex(*y.shape[1:]):
            label = int(y[(b, *idx)])
            if ignore_index is not None and label == ignore_index:
                continue
            num += -w[label] * math.log(p[(b, label, *idx)])
            den += w[label]
    return num / den


def focal_sigmoid(p, g, alpha, gamma):
    """Element-wise RetinaNet focal loss -alpha_t (1 - p_t)^gamma ln p_t for binary g."""
    pt = np.where(g == 1, p, 1 - p)
    at = 1.0 if alpha is None else np.where(g == 1, alpha, 1 - alpha)
    return -at * (1 - pt) ** gamma * np.log(pt)


def focal_softmax(p, y, alpha, gamma):
    """Per-pixel -alpha_y (1 - p_y)^gamma ln p_y; alpha a per-class vector or None."""
    out = np.zeros(y.shape)
    for b in range(p.shape[0]):
        for idx in np.ndindex(*y.shape[1:]):
            label = int(y[(b, *idx)])
            pt = p[(b, label, *idx)]
            a = 1.0 if alpha is None else alpha[label]
            out[(b, *idx)] = -a * (1 - pt) ** gamma * math.log(pt)
    return out


def balanced_bce(p, g):
    """HED: beta = 1 - sum(g)/N over the whole array; plain mean."""
    beta = 1 - g.sum() / g.size
    return np.mean(-(beta * g * np.log(p) + (1 - beta) * (1 - g) * np.log(1 - p)))


def topk_mean(values, k_percent):
    flat = np.sort(values.ravel())[::-1]
    k = max(1, int(math.floor(flat.size * k_percent / 100.0)))
    return flat[:k].mean()


# ----------------------------------------------------------------------------- distances (brute force)


def _coords(shape):
    return np.array(list(np.ndindex(*shape)), dtype=np.float64)


def distance_to_set(target_set, spacing=None):
    """For every pixel, the Euclidean distance (scaled by spacing) to the nearest True pixel of ``target_set``."""
    shape = target_set.shape
    spacing = np.ones(len(shape)) if spacing is None else np.asarray(spacing, dtype=np.float64)
    coords = _coords(shape) * spacing
    members = coords[target_set.ravel()]
    out = np.zeros(int(np.prod(shape)))
    for i, c in enumerate(coords):
        out[i] = np.sqrt(((members - c) ** 2).sum(axis=1)).min() if len(members) else np.inf
    return out.reshape(shape)


def edt_inside(mask, spacing=None):
    """EDT as scipy defines it: for pixels of ``mask``, distance to the nearest pixel outside; 0 outside."""
    return np.where(mask, distance_to_set(~mask, spacing), 0.0)


def kervadec_phi(mask, spacing=None):
    """phi = d_out [~G] - (d_in - 1) [G]; 0 when G is empty or full."""
    if not mask.any() or mask.all():
        return np.zeros(mask.shape)
    d_out = edt_inside(~mask, spacing)
    d_in = edt_inside(mask, spacing)
    return np.where(mask, -(d_in - 1.0), d_out)


def karimi_field(mask, spacing=None):
    """Unsigned distance to the boundary: EDT(M) + EDT(~M); 0 when M is empty or full."""
    if not mask.any() or mask.all():
        return np.zeros(mask.shape)
    return edt_inside(mask, spacing) + edt_inside(~mask, spacing)


def caliva_phi_region(region, spacing=None):
    """(max d - d)/max(max d - d) on the region, 0 elsewhere (0 if degenerate)."""
    if not region.any() or region.all():
        return np.zeros(region.shape)
    d = edt_inside(region, spacing)
    top = d[region].max()
    span = top - d[region].min()
    if span <= 0:
        return np.zeros(region.shape)
    return np.where(region, (top - d) / span, 0.0)


def inner_contour(mask):
    """Mask pixels with at least one face neighbour outside the mask (outside the image counts as outside)."""
    out = np.zeros(mask.shape, dtype=bool)
    for idx in np.ndindex(*mask.shape):
        if not mask[idx]:
            continue
        for axis in range(mask.ndim):
            for step in (-1, 1):
                n = list(idx)
                n[axis] += step
                if n[axis] < 0 or n[axis] >= mask.shape[axis] or not mask[tuple(n)]:
                    out[idx] = True
    return out


# ----------------------------------------------------------------------------- region


def soft_counts(p, g, batch):
    tp = spatial_sum(p * g, batch)
    fp = spatial_sum(p * (1 - g), batch)
    fn = spatial_sum((1 - p) * g, batch)
    return tp, fp, fn


def dice(p, g, smooth, batch=False, squared=False):
    """(2 sum pg + s)/(sum p + sum g + s) per (image,) class."""
    inter = spatial_sum(p * g, batch)
    if squared:
        size = spatial_sum(p**2, batch) + spatial_sum(g**2, batch)
    else:
        size = spatial_sum(p, batch) + spatial_sum(g, batch)
    return (2 * inter + smooth) / (size + smooth)


def iou(p, g, smooth, batch=False):
    inter = spatial_sum(p * g, batch)
    union = spatial_sum(p + g - p * g, batch)
    return (inter + smooth) / (union + smooth)


def tversky(p, g, alpha_fp, beta_fn, smooth, batch=False):
    tp, fp, fn = soft_counts(p, g, batch)
    return (tp + smooth) / (tp + alpha_fp * fp + beta_fn * fn + smooth)


def sens_spec(p, g, r, eps, batch=True):
    err = (g - p) ** 2
    sens = spatial_sum(err * g, batch) / (spatial_sum(g, batch) + eps)
    spec = spatial_sum(err * (1 - g), batch) / (spatial_sum(1 - g, batch) + eps)
    return r * sens + (1 - r) * spec


def generalized_dice(p, g, smooth):
    """Sudre GDL of one image, classes on axis 0 of (K, *S); absent class → largest finite weight (1 if none)."""
    k = p.shape[0]
    volumes = np.array([g[c].sum() for c in range(k)])
    finite = [1.0 / v**2 for v in volumes if v > 0]
    fill = max(finite) if finite else 1.0
    w = np.array([1.0 / v**2 if v > 0 else fill for v in volumes])
    num = sum(w[c] * (p[c] * g[c]).sum() for c in range(k))
    den = sum(w[c] * (p[c] + g[c]).sum() for c in range(k))
    return 1.0 - (2 * num + smooth) / (den + smooth)


def mcc(p, g, s, batch=False):
    """MCC with ``s`` under the root; 1 where FP = FN = 0."""
    tp = spatial_sum(p * g, batch)
    tn = spatial_sum((1 - p) * (1 - g), batch)
    fp = spatial_sum(p * (1 - g), batch)
    fn = spatial_sum((1 - p) * g, batch)
    value = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn) + s)
    return np.where((fp == 0) & (fn == 0), 1.0, value)


def lovasz_extension(errors, gt):
    """Lovász extension of the Jaccard set loss at ``errors`` (1-D), by its definition.

    Delta_J(M) = |M| / |{gt = 1} ∪ M| for a set M of mispredicted pixels, with a positive pixel
    counted as mispredicted when it is in M. Sort errors decreasingly and sum
    errors[pi_j] * (Delta(first j) - Delta(first j-1)).
    """
    order = sorted(range(len(errors)), key=lambda i: -errors[i])
    positives = {i for i in range(len(gt)) if gt[i] > 0.5}

    def delta(m):
        union = positives | m
        return len(m) / len(union) if union else 0.0

    total, previous, chosen = 0.0, 0.0, set()
    for i in order:
        chosen.add(i)
        current = delta(chosen)
        total += errors[i] * (current - previous)
        previous = current
    return total


def soft_skeleton(x, iterations):
    """Soft skeleton with scipy min/max filters: cross-shaped erosion, 3^d dilation, border ignored."""
    from scipy.ndimage import maximum_filter, minimum_filter

    nd = x.ndim - 2
    cross = np.zeros((3,) * nd, dtype=bool)
    for axis in range(nd):
        index = [1] * nd
        for v in range(3):
            index[axis] = v
            cross[tuple(index)] = True
    full = np.ones((3,) * nd, dtype=bool)

    def per_map(f, a):
        out = np.empty_like(a)
        for b, k in itertools.product(range(a.shape[0]), range(a.shape[1])):
            out[b, k] = f(a[b, k])
        return out

    def erode(a):
        return per_map(lambda m: minimum_filter(m, footprint=cross, mode="constant", cval=np.inf), a)

    def dilate(a):
        return per_map(lambda m: maximum_filter(m, footprint=full, mode="constant", cval=-np.inf), a)

    def relu(a):
        return np.maximum(a, 0.0)

    skel = relu(x - dilate(erode(x)))
    for _ in range(iterations):
        x = erode(x)
        delta = relu(x - dilate(erode(x)))
        skel = skel + relu(delta - skel * delta)
    return skel
