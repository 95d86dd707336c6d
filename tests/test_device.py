"""The device path: batching and devices change nothing in the numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import segeval

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def mixed_cases(tmp_path):
    """Cases of different shapes and kinds: labels, probabilities with a class axis, logits."""
    rng = np.random.default_rng(11)
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    for i, shape in enumerate([(33, 21), (33, 21), (16, 9, 7), (40, 40), (33, 21)]):
        gt = rng.integers(0, 3, size=shape).astype(np.uint8)
        np.save(tmp_path / "g" / f"c{i}.npy", gt)
        if i % 3 == 0:
            pred = np.where(rng.random(shape) < 0.8, gt, rng.integers(0, 3, size=shape)).astype(np.int16)
        elif i % 3 == 1:
            pred = rng.random((3, *shape)).astype(np.float32)
        else:
            pred = rng.normal(size=(3, *shape)).astype(np.float32) * 5
        np.save(tmp_path / "p" / f"c{i}.npy", pred)
    return tmp_path


def test_batching_gives_identical_results(mixed_cases):
    one = segeval.score(mixed_cases / "p", mixed_cases / "g", device="cpu", batch_size=1, workers=1)
    many = segeval.score(mixed_cases / "p", mixed_cases / "g", device="cpu", batch_size=4, workers=3)
    pd.testing.assert_frame_equal(one.per_case, many.per_case)
    pd.testing.assert_frame_equal(one.summary, many.summary)
    assert [c.pred_kind for c in one.cases] == ["labels", "probs", "logits", "labels", "probs"]


def test_unavailable_cuda_is_a_usage_error(mixed_cases, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(segeval.errors.UsageError, match="CUDA is not available"):
        segeval.score(mixed_cases / "p", mixed_cases / "g", device="cuda")
    result = segeval.score(mixed_cases / "p", mixed_cases / "g", device="auto")
    assert result.device == "cpu"


@pytest.mark.gpu
@cuda
def test_cuda_equals_cpu(mixed_cases):
    cpu = segeval.score(mixed_cases / "p", mixed_cases / "g", device="cpu")
    gpu = segeval.score(mixed_cases / "p", mixed_cases / "g", device="cuda", batch_size=3)
    assert gpu.device.startswith("cuda")
    pd.testing.assert_frame_equal(cpu.per_case, gpu.per_case)
    pd.testing.assert_frame_equal(cpu.summary, gpu.summary)
