"""Label regions (``--regions``, ``--dataset-json``): unions of labels scored as binary masks.

References: hand-computed counts on small arrays, and an independent path (the label maps remapped to 0/1
with numpy, written to files and scored as an ordinary binary segmentation) for every metric, distances included.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.config import build_config
from segeval.errors import UsageError
from segeval.regions import Region, read_dataset_json

ROOT = Path(__file__).resolve().parents[1]
NIFTI = ROOT / "sample_data" / "nifti3d"  # labels 0, 1, 2 (read with SimpleITK), spacing in mm
DISTANCES = ["hd", "hd95", "assd", "msd_pred_to_gt", "msd_gt_to_pred", "nsd", "boundary_iou"]
OPT_IN = ["cm", "lesion"]
"""The opt-in families: the confusion-matrix family and lesion-wise metrics."""
runner = CliRunner()


def _rows(result, class_: str) -> dict[str, tuple[float, str]]:
    rows = result.per_case[result.per_case["class"] == class_]
    return {(r.case, r.metric): (r.value, r.status) for r in rows.itertuples()}


def test_region_counts_and_scores_are_the_hand_computed_ones(files):
    # A = {1, 2}: reference 4 px, prediction 4 px, 3 shared → Dice 6/8, IoU 3/5.
    # B = {2, 3} overlaps A on label 2: 2 shared, 2 FP, 2 FN → Dice 4/8, IoU 2/6.
    # N = {4}: on neither side → both empty.
    gt = np.array([[1, 1, 2, 2], [3, 3, 0, 0]], np.uint8)
    pred = np.array([[1, 2, 2, 0], [3, 1, 0, 3]], np.uint8)
    files.npy("p/a.npy", pred)
    files.npy("g/a.npy", gt)
    result = segeval.score(files.path("p"), files.path("g"), regions=["A=1,2", "B=2,3", "N=4"], ci=0)
    expected = {
        "A": {"tp": 3, "fp": 1, "fn": 1, "tn": 3, "dice": 0.75, "iou": 0.6, "precision": 0.75, "recall": 0.75},
        "B": {"tp": 2, "fp": 2, "fn": 2, "tn": 2, "dice": 0.5, "iou": 1 / 3, "precision": 0.5, "recall": 0.5},
    }
    for name, metrics in expected.items():
        rows = _rows(result, name)
        for metric, value in metrics.items():
            assert rows[("a", metric)] == (pytest.approx(value), "ok"), (name, metric)
        assert result.metric("dice", name) == pytest.approx(metrics["dice"])
        assert result.metric("dice", name, statistic="pooled") == pytest.approx(metrics["dice"])
    empty = _rows(result, "N")
    assert math.isnan(empty[("a", "dice")][0]) and empty[("a", "dice")][1] == "both_empty"
    assert empty[("a", "tn")] == (8.0, "ok")
    names = result.summary.drop_duplicates("class")[["class", "class_name"]].values.tolist()
    assert names[-4:] == [["A", "A"], ["B", "B"], ["N", "N"], ["all", "all"]]


def _binary_copy(folder: Path, out: Path, labels: tuple[int, ...]) -> None:
    out.mkdir(parents=True)
    for path in sorted(folder.glob("*.nii.gz")):
        image = sitk.ReadImage(str(path))
        mask = np.isin(sitk.GetArrayFromImage(image), labels).astype(np.uint8)
        copy = sitk.GetImageFromArray(mask)
        copy.CopyInformation(image)
        sitk.WriteImage(copy, str(out / path.name))


REGIONS = {"FG": (1, 2), "L2": (2,), "BG1": (0, 1), "NONE": (3,)}
"""Overlapping regions, one with the background, one on no voxel (label 3 is in no volume)."""


def test_regions_equal_scoring_a_binary_remapped_copy_for_every_metric(tmp_path):
    result = segeval.score(
        NIFTI / "preds",
        NIFTI / "gts",
        regions=[f"{name}={','.join(map(str, labels))}" for name, labels in REGIONS.items()],
        metrics=DISTANCES + OPT_IN,
        nsd_tolerance=1.5,
        ci=0,
    )
    for name, labels in REGIONS.items():
        _binary_copy(NIFTI / "preds", tmp_path / name / "preds", labels)
        _binary_copy(NIFTI / "gts", tmp_path / name / "gts", labels)
        binary = segeval.score(
            tmp_path / name / "preds",
            tmp_path / name / "gts",
            labels=(0, 1),
            metrics=DISTANCES + OPT_IN,
            nsd_tolerance=1.5,
            ci=0,
        )
        got, want = _rows(result, name), _rows(binary, "1")
        assert got.keys() == want.keys() and {m for _, m in got} >= {"dice", "tn", "mcc", "lesion_f1", *DISTANCES}, name
        for key, (value, status) in want.items():
            assert got[key][1] == status, (name, key)
            assert got[key][0] == pytest.approx(value, rel=1e-12, nan_ok=True), (name, key)
        columns = ["metric", "mean", "std", "median", "min", "max", "n", "n_nan", "pooled"]
        region_summary = result.summary[result.summary["class"] == name][columns].reset_index(drop=True)
        binary_summary = binary.summary[binary.summary["class"] == "1"][columns].reset_index(drop=True)
        assert region_summary.equals(binary_summary) or np.allclose(
            region_summary.iloc[:, 1:].to_numpy(float), binary_summary.iloc[:, 1:].to_numpy(float), equal_nan=True
        ), name
    assert _rows(result, "FG")[("vol_000", "hd95")][1] == "ok"  # the distances were computed, not skipped


def test_regions_leave_the_labels_and_the_class_means_unchanged():
    plain = segeval.score(NIFTI / "preds", NIFTI / "gts", metrics=["hd95", "dice_micro", *OPT_IN], ci=0)
    with_regions = segeval.score(
        NIFTI / "preds", NIFTI / "gts", metrics=["hd95", "dice_micro", *OPT_IN], regions=["FG=1,2"], ci=0
    )
    kept = with_regions.per_case[with_regions.per_case["class"] != "FG"].reset_index(drop=True)
    assert kept.equals(plain.per_case)
    kept = with_regions.summary[with_regions.summary["class"] != "FG"].reset_index(drop=True)
    assert kept.equals(plain.summary)
    assert {"dice_micro", "multiclass_kappa", "lesion_f1"} <= set(plain.per_case["metric"])
    for metric in ("dice", "hd95", "miou", "mean_dice", "pixel_accuracy", "dice_micro", "lesion_f1"):
        for statistic in ("mean", "median", "pooled"):
            got, want = with_regions.metric(metric, statistic=statistic), plain.metric(metric, statistic=statistic)
            assert got == want or (metric == "hd95" and statistic == "pooled" and math.isnan(got) and math.isnan(want))
    assert with_regions.labels == plain.labels and with_regions.class_names == plain.class_names


def test_a_one_label_region_equals_its_label_with_its_own_nsd_tolerance():
    result = segeval.score(
        NIFTI / "preds",
        NIFTI / "gts",
        regions=["A=1", "B=2"],
        metrics=["nsd", "hd95"],
        nsd_tolerance="1=0.5,2=3",
        ci=0,
    )
    for region, label in (("A", "1"), ("B", "2")):
        got, want = _rows(result, region), _rows(result, label)
        assert got == want and got[("vol_000", "nsd")][1] == "ok", region
    assert _rows(result, "A")[("vol_000", "nsd")] != _rows(result, "B")[("vol_000", "nsd")]
    without_nsd = segeval.score(NIFTI / "preds", NIFTI / "gts", regions=["AB=1,2"], nsd_tolerance="1=0.5,2=3")
    assert "AB" in set(without_nsd.per_case["class"])  # per-label tolerances matter only to NSD


@pytest.mark.parametrize(
    ("gate", "exit_code"),
    [("dice[FG]>=0.78", 0), ("dice[FG]>=0.79", 1), ("dice[fg].pooled>=0.79", 1), ("hd95[FG]<=2.7", 0)],
)
def test_a_gate_on_a_region_reads_the_region(gate, exit_code):
    # FG = labels 1 and 2: mean Dice 0.7825 over the three volumes (label 1: 0.687, label 2: 0.744),
    # pooled 0.7830; mean HD95 2.66 mm
    args = ["score", str(NIFTI / "preds"), str(NIFTI / "gts"), "--regions", "FG=1,2", "--gate", gate]
    result = runner.invoke(app, [*args, "--format", "quiet"])
    assert result.exit_code == exit_code, result.output


def test_reports_name_a_region_once_in_every_table(files):
    args = ["score", str(NIFTI / "preds"), str(NIFTI / "gts"), "--regions", "tumour=1,2", "--gate", "dice[tumour]>=0"]
    markdown, junit = files.path("summary.md"), files.path("gates.xml")
    result = runner.invoke(app, [*args, "--markdown", str(markdown), "--junit", str(junit)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert any(line.split()[:2] == ["tumour", "tumour"] for line in result.stdout.splitlines())  # class, name
    assert "| tumour | dice | 0.7825 |" in markdown.read_text()
    assert "dice[tumour]&gt;=0" in junit.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--regions", "1=1,2"], "region name '1' is a number"),
        (["--regions", "class_1=1"], "is the default name of a label"),
        (["--regions", "liver=1", "--class-names", "bg,liver,kidney"], "region 'liver' has the name of a class"),
        (["--regions", "Kidney=1", "--class-names", "1=kidney"], "region 'Kidney' has the name of a class"),
        (["--regions", "all=1"], "is reserved"),
        (["--regions", "A=1", "--regions", "a=2"], "region 'a' is defined twice"),
        (["--regions", "A=5", "--labels", "0,1,2"], "label 5 is not among the declared labels 0, 1, 2"),
        (["--regions", "A=1,255", "--ignore-index", "255"], "holds the ignore index 255"),
        (["--regions", "WT"], "is not NAME=LABELS"),
        (["--regions", "WT="], "labels must be comma-separated integers"),
        (["--regions", "WT=1,x"], "labels must be comma-separated integers"),
        (["--regions", "W[T]=1"], "holds a control character, a bracket, '=' or a comma"),
        (["--regions", "A=1,2", "--nsd-tolerance", "1=1,2=2", "-m", "nsd"], "no single tolerance"),
    ],
)
def test_a_bad_or_clashing_region_is_a_one_line_usage_error(args, message):
    import re

    result = runner.invoke(app, ["score", str(NIFTI / "preds"), str(NIFTI / "gts"), *args, "--format", "quiet"])
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ") and "Traceback" not in result.stderr
    assert re.search(message, first), result.stderr


NNUNET_BRATS = {
    "channel_names": {"0": "T1"},
    "labels": {"background": 0, "necrosis": 1, "edema": 2, "tumour": [1, 2], "ignore": 9},
    "numTraining": 3,
    "file_ending": ".nii.gz",
}


def test_dataset_json_names_labels_defines_regions_and_the_ignore_label(files):
    path = files.text("dataset.json", json.dumps(NNUNET_BRATS))
    result = segeval.score(NIFTI / "preds", NIFTI / "gts", dataset_json=path, ci=0)
    assert result.class_names == ["background", "necrosis", "edema"]
    assert result.regions == (Region("tumour", (1, 2)),)
    assert result.config.ignore_index == 9
    same = segeval.score(NIFTI / "preds", NIFTI / "gts", regions=["tumour=1,2"], ci=0)
    assert _rows(result, "tumour") == _rows(same, "tumour")
    named = segeval.score(NIFTI / "preds", NIFTI / "gts", dataset_json=path, class_names=("b", "n", "e"), ci=0)
    assert named.class_names == ["b", "n", "e"]  # --class-names wins
    assert build_config(dataset_json=path, ignore_index=255).ignore_index == 255  # --ignore-index wins


def test_a_settings_file_gives_regions_as_a_table_and_the_dataset_json_relative_to_itself(files):
    files.text("conf/dataset.json", json.dumps({"labels": {"background": 0, "core": [2]}}))
    config = files.text(
        "conf/segeval.toml", '[tool.segeval]\nregions = { FG = [1, 2], ONE = 1 }\ndataset-json = "dataset.json"\n'
    )
    args = ["score", str(NIFTI / "preds"), str(NIFTI / "gts"), "--config", str(config), "--out", str(files.path("out"))]
    result = runner.invoke(app, [*args, "--format", "quiet"])
    assert result.exit_code == 0, result.output
    summary = files.path("out/summary.csv").read_text()
    for name in ("FG", "ONE", "core"):
        assert f"\n{name},{name},dice," in summary
    per_case = files.path("out/per_case.csv").read_text()
    assert "\nvol_000,FG,FG,dice," in per_case


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not a valid dataset.json"),
        (b"\xff\xfe\x00garbage", "not a valid dataset.json"),
        (b"[" * 100_000, "not a valid dataset.json"),
        (b'{"labels": {"a": NaN}}', "not a valid dataset.json"),
        (b'{"labels": {"a": 1, "a": 2}}', "key 'a' appears twice"),
        (b"[]", "no 'labels' object"),
        (b'{"labels": []}', "no 'labels' object"),
        (b'{"labels": {}}', "no 'labels' object"),
        (b'{"labels": {"a": "1"}}', "label 'a' must be an integer or a non-empty list of integers, got \"1\""),
        (b'{"labels": {"a": true}}', "must be an integer or a non-empty list"),
        (b'{"labels": {"a": 1.0}}', "must be an integer or a non-empty list"),
        (b'{"labels": {"a": []}}', "must be an integer or a non-empty list"),
        (b'{"labels": {"a": [1, [2]]}}', "must be an integer or a non-empty list"),
        (b'{"labels": {"a": [1, 100000000000000000000]}}', "must be an integer or a non-empty list"),
        (b'{"labels": {"a": 1, "b": 1}}', "label 'b' names label 1, already named 'a'"),
        (b'{"labels": {"ignore": [1, 2]}}', "label 'ignore' must be one integer"),
        (b'{"labels": {"3": [1, 2]}}', "region name is a number"),
        (b'{"labels": {"a\\u0007": [1]}}', "control character"),
        (b'{"labels": {"bell\\u0007": 1}}', "a name must be printable text"),
    ],
)
def test_a_bad_dataset_json_is_a_one_line_usage_error_naming_the_file(files, content, message):
    path = files.raw("dataset.json", content)
    with pytest.raises(UsageError) as error:
        read_dataset_json(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value) and len(str(error.value)) < 400


def test_a_missing_or_huge_dataset_json_is_refused_before_it_is_read(files):
    with pytest.raises(UsageError, match="cannot read dataset.json"):
        read_dataset_json(files.path("absent.json"))
    huge = files.path("huge.json")
    with huge.open("wb") as handle:
        handle.truncate(10_000_001)
    with pytest.raises(UsageError, match="more than the 10000000 "):
        read_dataset_json(huge)


def test_a_bad_dataset_json_on_the_command_line_exits_2_naming_it(files):
    path = files.raw("dataset.json", b'{"labels": {"tumour": "1,2"}}')
    result = runner.invoke(
        app, ["score", str(NIFTI / "preds"), str(NIFTI / "gts"), "--dataset-json", str(path), "--format", "quiet"]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(f"error: {path}: label 'tumour' must be an integer")


def test_compare_reads_regions_with_or_without_summary_json(tmp_path):
    """`segeval compare` and `--max-drop` name a region like a class, also from a per_case.csv alone."""
    for name, preds in (("perfect", NIFTI / "gts"), ("model", NIFTI / "preds")):
        options = ["--regions", "FG=1,2", "--format", "quiet", "--out", str(tmp_path / name)]
        scored = runner.invoke(app, ["score", str(preds), str(NIFTI / "gts"), *options])
        assert scored.exit_code == 0, scored.output
        (tmp_path / name / "summary.json").unlink()
    for baseline, current, limit, exit_code in (
        ("model", "perfect", "dice[FG]=0.01", 0),
        ("perfect", "model", "dice[FG]=0.01", 1),
        ("perfect", "model", "dice[fg]=0.5", 0),
        ("perfect", "model", "dice[XX]=0.01", 2),
    ):
        folders = [str(tmp_path / baseline), str(tmp_path / current)]
        compared = runner.invoke(app, ["compare", *folders, "--max-drop", limit, "--format", "quiet"])
        assert compared.exit_code == exit_code, (limit, compared.output)
