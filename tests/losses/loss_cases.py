"""Inputs for the loss tests: seeded logits/targets per mode, perfect and inverted predictions, the
10x10 grids of the worked examples (docs/worked-examples.md), a loader for the test-only reference
libraries, and ``Failures``, which lets one test check a rule on every loss and report all that break it."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types

import numpy as np
import pytest
import torch

MODES = ("binary", "multiclass", "multilabel")


def make_case(mode: str, spatial=(5, 6), batch=2, classes=3, seed=0, dtype=torch.float64, scale=2.0):
    """Random logits and a target of the given mode with every class present in every image.

    Returns ``(logits, target, g)`` with ``g`` the (B, K, *S) float64 NumPy one-hot/binary target.
    """
    gen = torch.Generator().manual_seed(seed)
    channels = 1 if mode == "binary" else classes
    logits = (torch.randn(batch, channels, *spatial, generator=gen) * scale).to(dtype)
    n = int(np.prod(spatial))
    if mode == "multiclass":
        labels = torch.randint(0, classes, (batch, n), generator=gen)
        labels[:, :classes] = torch.arange(classes)  # every class present in every image
        labels = labels[:, torch.randperm(n, generator=gen)].reshape(batch, *spatial)
        g = np.stack([(labels.numpy() == c) for c in range(classes)], axis=1).astype(np.float64)
        return logits, labels, g
    target = (torch.rand(batch, channels, n, generator=gen) > 0.5).float()
    target[..., 0], target[..., 1] = 1.0, 0.0  # both values present in every channel
    target = target[..., torch.randperm(n, generator=gen)].reshape(batch, channels, *spatial).to(dtype)
    return logits, target, target.double().numpy()


def perfect_logits(g: np.ndarray, magnitude=50.0, dtype=torch.float64) -> torch.Tensor:
    """Logits +magnitude where the (one-hot/binary) target is 1, -magnitude elsewhere."""
    return torch.from_numpy(np.where(g > 0.5, magnitude, -magnitude)).to(dtype)


def good_logits(g: np.ndarray, seed=1, dtype=torch.float64) -> torch.Tensor:
    gen = np.random.default_rng(seed)
    return torch.from_numpy(3.0 * (2 * g - 1) + 0.5 * gen.standard_normal(g.shape)).to(dtype)


def empty_target(mode: str, batch=2, classes=3, spatial=(5, 6)):
    """All-background target: zeros (binary/multilabel) or class 0 everywhere (multiclass)."""
    if mode == "multiclass":
        t = torch.zeros(batch, *spatial, dtype=torch.long)
        g = np.zeros((batch, classes, *spatial))
        g[:, 0] = 1.0
        return t, g
    channels = 1 if mode == "binary" else classes
    t = torch.zeros(batch, channels, *spatial)
    return t, t.numpy().astype(np.float64)


# ----------------------------------------------------------------------------- one rule, every loss


class Failures:
    """The failures of one rule checked case by case: the test reports every case that breaks it, not the first.

    ``with failures.case(label): ...`` for each case, then ``failures.check()`` once.
    """

    def __init__(self) -> None:
        self.messages: list[str] = []

    @contextlib.contextmanager
    def case(self, label: str):
        """Run the block; an exception is recorded under ``label`` instead of stopping the loop."""
        try:
            yield
        except Exception as error:  # every case is reported, not only the first that fails
            self.messages.append(f"{label}: {type(error).__name__}: {error}")

    def check(self) -> None:
        """Fail once, naming every case that failed."""
        assert not self.messages, f"{len(self.messages)} case(s) failed:\n" + "\n".join(self.messages)


# ----------------------------------------------------------------------------- worked-example grids


def grid_gt() -> np.ndarray:
    """docs/worked-examples.md: 10x10, ground truth rows 1-5, cols 2-5 (20 px)."""
    g = np.zeros((10, 10))
    g[1:6, 2:6] = 1
    return g


def grid_pred19() -> np.ndarray:
    """The ground truth minus pixel (5, 5): I = 19, |P| = 19."""
    p = grid_gt()
    p[5, 5] = 0
    return p


def grid_pred7() -> np.ndarray:
    """7 px: (4,4),(4,5),(5,3),(5,4),(5,5) inside + (6,4),(6,5) outside: I = 5."""
    p = np.zeros((10, 10))
    for r, c in [(4, 4), (4, 5), (5, 3), (5, 4), (5, 5), (6, 4), (6, 5)]:
        p[r, c] = 1
    return p


def grid_focal_prob() -> np.ndarray:
    """p = 0.9 on GT except row 5 (0.6); 0.1 on background except row 6 cols 2-5 (0.4)."""
    g = grid_gt()
    p = np.where(g == 1, 0.9, 0.1)
    p[5, 2:6] = 0.6
    p[6, 2:6] = 0.4
    return p


def as_binary(a: np.ndarray, dtype=torch.float64) -> torch.Tensor:
    """(H, W) → (1, 1, H, W) tensor."""
    return torch.from_numpy(a).to(dtype)[None, None]


# ----------------------------------------------------------------------------- reference libraries


def import_monai_losses():
    pytest.importorskip("monai")
    return importlib.import_module("monai.losses")


def import_smp_losses():
    """segmentation_models_pytorch.losses without running the package __init__ (it imports
    torchvision through timm, which is broken in this environment)."""
    if "segmentation_models_pytorch.losses" in sys.modules:
        return sys.modules["segmentation_models_pytorch.losses"]
    try:
        spec = importlib.util.find_spec("segmentation_models_pytorch")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("segmentation_models_pytorch is not installed")
    if "segmentation_models_pytorch" not in sys.modules:
        package = types.ModuleType("segmentation_models_pytorch")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["segmentation_models_pytorch"] = package
    return importlib.import_module("segmentation_models_pytorch.losses")
