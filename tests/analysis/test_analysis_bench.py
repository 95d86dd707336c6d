"""Loss benchmark: shapes, timings, memory counters and the distance-transform speed-ups."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from segeval.analysis.bench import bench_inputs, bench_losses, parse_shape, summary_line
from segeval.analysis.memory import measure_peak
from segeval.errors import UsageError
from segeval.losses import _distance


def test_parse_shape():
    assert parse_shape("8x4x256x256") == (8, 4, 256, 256)
    assert parse_shape("2X1x8x8x8") == (2, 1, 8, 8, 8)
    for bad in ("8x4", "8x4x0x3", "axb", "1x1x1x1x1x1"):
        with pytest.raises(UsageError, match="--shape"):
            parse_shape(bad)


def test_bench_inputs_have_structure():
    logits, target = bench_inputs((3, 4, 20, 24), torch.device("cpu"))
    assert logits.shape == (3, 4, 20, 24) and target.shape == (3, 20, 24)
    assert set(torch.unique(target).tolist()) == {0, 1, 2, 3}
    _, binary = bench_inputs((2, 1, 16, 16), torch.device("cpu"))
    assert binary.shape == (2, 1, 16, 16) and set(torch.unique(binary).tolist()) == {0, 1}


def test_bench_losses_times_and_flags_the_cpu_transform():
    result = bench_losses(["ce", "nll", "boundary"], shapes=["2x2x24x24"], device="cpu", warmup=1, repeats=3)
    table = result.table.set_index("loss")
    assert (table["status"] == "ok").all(), table["error"]
    assert (table["median_ms"] > 0).all() and (table["q25_ms"] <= table["q75_ms"]).all()
    assert table.at["boundary", "cpu_transform"] and not table.at["ce", "cpu_transform"]
    assert table.at["boundary", "transform_ms"] > 0 and table.at["ce", "transform_ms"] == 0
    assert (table["peak_mb"] >= table["peak_torch_mb"]).all()
    assert result.machine["device"] == "cpu" and result.settings["repeats"] == 3
    heavy = result.table.assign(transform_share=[0.0, 0.0, 0.9])
    assert summary_line(heavy) == "dominated by the CPU distance transform: boundary (90%)"


def test_peak_memory_counters_see_torch_and_numpy_allocations():
    def allocate_torch():
        block = torch.ones(1 << 20)  # 4 MiB
        del block

    def allocate_numpy():
        block = np.ones(1 << 20)  # 8 MiB
        del block

    torch_peak = measure_peak(allocate_torch, torch.device("cpu"))
    assert torch_peak.method.startswith("torch.profiler")
    assert 4.0 <= torch_peak.torch_mb < 5.0
    numpy_peak = measure_peak(allocate_numpy, torch.device("cpu"))
    assert 8.0 <= numpy_peak.numpy_mb < 9.0 and numpy_peak.torch_mb < 0.5


def _full_edt(mask: np.ndarray, spacing) -> np.ndarray:
    return ndimage.distance_transform_edt(mask, sampling=spacing)


def _reference_maps(mask: np.ndarray, spacing):
    """The four maps of segeval.losses._distance computed on the whole image, one transform each."""
    interface = mask.any() and not mask.all()
    zero = np.zeros(mask.shape)
    signed = np.where(mask, -(_full_edt(mask, spacing) - 1.0), _full_edt(~mask, spacing)) if interface else zero
    unsigned = _full_edt(mask, spacing) + _full_edt(~mask, spacing) if interface else zero
    if interface:
        d = _full_edt(mask, spacing)
        top, span = d[mask].max(), d[mask].max() - d[mask].min()
        penalty = np.where(mask, (top - d) / span, 0.0) if span > 0 else zero
    else:
        penalty = zero
    to_mask = _full_edt(~mask, spacing) if mask.any() else zero
    return signed, unsigned, penalty, to_mask


@pytest.mark.parametrize(
    "shape, spacing", [((70, 90), None), ((150, 130), (0.7, 1.3)), ((12, 40, 36), (2.5, 0.8, 0.9)), ((33,), None)]
)
def test_cropped_threaded_distance_maps_equal_the_full_image_transform(shape, spacing):
    rng = np.random.default_rng(len(shape))
    field = ndimage.gaussian_filter(rng.standard_normal((2, 3, *shape)), sigma=(0, 0, *[2.5] * len(shape)))
    masks = field > np.quantile(field, 0.8)
    masks[0, 0] = False
    masks[1, 0] = True
    masks[1, 1] = False
    masks[1, 1][(slice(2, 5),) * len(shape)] = True  # a small object: a tight bounding box
    tensor = torch.from_numpy(masks)
    got = [
        fn(tensor, spacing, dtype=torch.float64).numpy()
        for fn in (
            _distance.signed_distance_map,
            _distance.boundary_distance_map,
            _distance.dpce_penalty_map,
            _distance.distance_to_mask,
        )
    ]
    for b in range(2):
        for k in range(3):
            for value, expected in zip(got, _reference_maps(masks[b, k], spacing)):
                np.testing.assert_array_equal(value[b, k], expected)


def test_distance_maps_do_not_depend_on_the_number_of_threads():
    masks = torch.from_numpy(np.random.default_rng(0).random((2, 2, 140, 130)) < 0.02)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = _distance.boundary_distance_map(masks, dtype=torch.float64)
        torch.set_num_threads(max(2, threads))
        many = _distance.boundary_distance_map(masks, dtype=torch.float64)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(single, many)


def test_transform_time_counts_only_while_active():
    masks = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    masks[0, 0, 4:9, 4:9] = True
    with _distance.transform_time() as box:
        _distance.signed_distance_map(masks)
    spent = box[0]
    assert spent > 0
    _distance.signed_distance_map(masks)
    assert box[0] == spent


@pytest.mark.parametrize("name", ["blob", "skeleton_recall"])
def test_component_and_skeleton_losses_count_their_cpu_transform(name):
    from segeval.losses import get_loss

    target = torch.zeros(1, 1, 16, 16)
    target[0, 0, 4:9, 4:12] = 1
    with _distance.transform_time() as box:
        get_loss(name)(torch.zeros(1, 1, 16, 16), target)
    assert box[0] > 0


def test_bench_command_times_the_wrappers_when_asked(tmp_path):
    """`segeval losses bench --wrappers` prints the overhead table and writes bench_wrappers.csv; without the flag
    neither appears."""
    import pandas as pd
    from typer.testing import CliRunner

    from segeval.cli import app

    common = ["losses", "bench", "--loss", "dice", "--shape", "2x2x16x16", "--repeats", "1", "--warmup", "0"]
    common += ["--no-memory", "--device", "cpu", "--no-progress"]
    runner = CliRunner()
    with_wrappers = runner.invoke(app, [*common, "--wrappers", "--out", str(tmp_path / "w")])
    assert with_wrappers.exit_code == 0, with_wrappers.output
    assert "Wrapper overhead" in with_wrappers.stdout
    table = pd.read_csv(tmp_path / "w" / "bench_wrappers.csv")
    assert sorted(table["wrapper"]) == ["DeepSupervisionLoss", "MaskedLoss"] and (table["status"] == "ok").all()
    plain = runner.invoke(app, [*common, "--out", str(tmp_path / "p")])
    assert plain.exit_code == 0 and "Wrapper overhead" not in plain.stdout
    assert not (tmp_path / "p" / "bench_wrappers.csv").exists()
