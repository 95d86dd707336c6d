"""Pairing prediction files with ground-truth files: by case name, recursively, with suffixes, from a
manifest, and what happens to unmatched, duplicate, unsupported and missing files.

Discovery is tested on ``discover_pairs``/``read_manifest`` directly, and end to end through
``segeval.score`` where the outcome is a score (missing predictions, skipped cases).
"""

from __future__ import annotations

import numpy as np
import pytest

import segeval
from segeval.errors import PairingError, UsageError
from segeval.io.pairing import discover_pairs, read_manifest


def _names(pairing):
    return [(p.case, p.pred.name if p.pred else None, p.gt.name) for p in pairing.pairs]


# --------------------------------------------------------------------------------------------
# By name
# --------------------------------------------------------------------------------------------


def test_pairs_by_name_with_the_format_extension_stripped(files, gt2d):
    files.sitk_image("g/case_001.nii.gz", gt2d)
    files.image("p/case_001.png", gt2d)
    files.sitk_image("g/case_002.mha", gt2d)
    files.npy("p/case_002.npy", gt2d)
    files.image("g/case_003.tif", gt2d)
    files.npz("p/case_003.npz", probabilities=np.zeros((2, *gt2d.shape), np.float32))
    pairing = discover_pairs(files.root / "p", files.root / "g")
    assert _names(pairing) == [
        ("case_001", "case_001.png", "case_001.nii.gz"),
        ("case_002", "case_002.npy", "case_002.mha"),
        ("case_003", "case_003.npz", "case_003.tif"),
    ]
    assert pairing.missing_pred == [] and pairing.missing_gt == [] and pairing.skipped_files == []


def test_nifti_reference_scored_against_png_prediction(files, gt2d, make_labels, np_dice, case_value):
    pred = make_labels(7)
    files.sitk_image("g/case_001.nii.gz", gt2d)
    files.image("p/case_001.png", pred)
    result = segeval.score(files.root / "p", files.root / "g")
    assert [r.case for r in result.cases] == ["case_001"]
    assert case_value(result.per_case, "case_001", 1, "dice") == pytest.approx(np_dice(pred, gt2d, 1))


def test_extension_case_is_ignored(files, gt2d):
    files.image("g/Case_A.PNG", gt2d)
    files.npy("p/Case_A.npy", gt2d)
    assert _names(discover_pairs(files.root / "p", files.root / "g")) == [("Case_A", "Case_A.npy", "Case_A.PNG")]


def test_two_single_files_are_one_case_named_after_the_ground_truth(files, gt2d, np_dice, case_value):
    pred_path = files.npy("somewhere/prediction.npy", gt2d)
    gt_path = files.image("elsewhere/liver_07.png", gt2d)
    result = segeval.score(pred_path, gt_path)
    assert [r.case for r in result.cases] == ["liver_07"]
    assert case_value(result.per_case, "liver_07", 2, "dice") == 1.0


def test_pred_and_gt_suffixes_are_stripped(files, gt2d):
    files.image("p/case_1_pred.png", gt2d)
    files.image("p/case_2_pred.png", gt2d)
    files.sitk_image("g/case_1_seg.nii.gz", gt2d)
    files.image("g/case_2_seg.png", gt2d)
    pairing = discover_pairs(files.root / "p", files.root / "g", pred_suffix="_pred", gt_suffix="_seg")
    assert [p.case for p in pairing.pairs] == ["case_1", "case_2"]
    result = segeval.score(files.root / "p", files.root / "g", pred_suffix="_pred", gt_suffix="_seg")
    assert [r.case for r in result.cases] == ["case_1", "case_2"] and not result.failed


def test_without_suffix_option_suffixed_names_do_not_match(files, gt2d):
    files.image("p/case_1_pred.png", gt2d)
    files.image("g/case_1.png", gt2d)
    with pytest.raises(
        PairingError,
        match=r"1 ground truth\(s\) without prediction: case_1; "
        r"1 prediction\(s\) without ground truth: case_1_pred",
    ):
        segeval.score(files.root / "p", files.root / "g")


# --------------------------------------------------------------------------------------------
# Recursive
# --------------------------------------------------------------------------------------------


def test_recursive_case_names_keep_their_relative_path(files, gt2d, make_labels, np_dice, case_value):
    pred_a, pred_b = make_labels(1), make_labels(2)
    files.image("p/site_a/case_1.png", pred_a)
    files.image("p/site_b/case_1.png", pred_b)
    files.image("g/site_a/case_1.png", gt2d)
    files.image("g/site_b/case_1.png", gt2d)
    result = segeval.score(files.root / "p", files.root / "g", recursive=True)
    assert [r.case for r in result.cases] == ["site_a/case_1", "site_b/case_1"]
    assert case_value(result.per_case, "site_a/case_1", 1, "dice") == pytest.approx(np_dice(pred_a, gt2d, 1))
    assert case_value(result.per_case, "site_b/case_1", 1, "dice") == pytest.approx(np_dice(pred_b, gt2d, 1))


def test_without_recursive_sub_folders_are_not_searched(files, gt2d):
    files.image("p/site_a/case_1.png", gt2d)
    files.image("g/site_a/case_1.png", gt2d)
    with pytest.raises(
        PairingError,
        match=r"prediction folder .*p holds no supported file "
        r"\(use --recursive to search sub-folders\)",
    ):
        discover_pairs(files.root / "p", files.root / "g")


def test_recursive_ignores_hidden_folders(files, gt2d):
    """A hidden folder (.ipynb_checkpoints, .git, .cache) holds no cases, as hidden files hold none."""
    files.image("p/case_1.png", gt2d)
    files.image("g/case_1.png", gt2d)
    files.image("p/.ipynb_checkpoints/case_1-checkpoint.png", gt2d)
    pairing = discover_pairs(files.root / "p", files.root / "g", recursive=True)
    assert [p.case for p in pairing.pairs] == ["case_1"]
    assert pairing.missing_gt == []


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------


def test_manifest_paths_are_relative_to_the_manifest_folder(
    files, gt2d, make_labels, np_dice, case_value, monkeypatch, tmp_path_factory
):
    pred = make_labels(3)
    files.image("data/preds/x.png", pred)
    files.image("data/labels/y.png", gt2d)
    absolute_gt = files.image("elsewhere/z.png", gt2d)
    manifest = files.text(
        "data/manifest.csv", f"case,pred,gt\nfirst,preds/x.png,labels/y.png\nsecond,preds/x.png,{absolute_gt}\n"
    )
    monkeypatch.chdir(tmp_path_factory.mktemp("unrelated_cwd"))
    result = segeval.score(pairs=manifest)
    assert [r.case for r in result.cases] == ["first", "second"]
    assert [r.error for r in result.failed] == []
    assert result.cases[0].pred == files.root / "data" / "preds" / "x.png"
    assert result.cases[1].gt == absolute_gt
    for case in ("first", "second"):
        assert case_value(result.per_case, case, 1, "dice") == pytest.approx(np_dice(pred, gt2d, 1))


def test_manifest_without_case_column_names_cases_after_the_ground_truth(files, gt2d):
    files.image("p/a.png", gt2d)
    files.sitk_image("g/liver_3.nii.gz", gt2d)
    manifest = files.text("m.csv", "pred,gt\np/a.png,g/liver_3.nii.gz\n")
    pairing = read_manifest(manifest)
    assert _names(pairing) == [("liver_3", "a.png", "liver_3.nii.gz")]


def test_manifest_with_empty_prediction_is_a_missing_prediction(files, gt2d, case_value):
    files.image("g/a.png", gt2d)
    files.image("g/b.png", gt2d)
    files.image("p/a.png", gt2d)
    manifest = files.text("m.csv", "case,pred,gt\na,p/a.png,g/a.png\nb,,g/b.png\n")
    pairing = read_manifest(manifest)
    assert [p.case for p in pairing.pairs] == ["a"]
    assert [p.case for p in pairing.missing_pred] == ["b"]
    with pytest.raises(PairingError, match=r"1 ground truth\(s\) without prediction: b"):
        segeval.score(pairs=manifest)
    result = segeval.score(pairs=manifest, allow_missing=True)
    assert result.missing_pred == ["b"]
    assert case_value(result.per_case, "b", 1, "dice") == 0.0


def test_manifest_listing_a_file_that_does_not_exist_fails_that_case(files, gt2d, case_value):
    files.image("p/a.png", gt2d)
    files.image("g/a.png", gt2d)
    files.image("g/b.png", gt2d)
    manifest = files.text("m.csv", "case,pred,gt\na,p/a.png,g/a.png\nb,p/b.png,g/b.png\n")
    result = segeval.score(pairs=manifest)
    assert [r.case for r in result.failed] == ["b"]
    assert "b.png: file not found" in result.failed[0].error
    assert case_value(result.per_case, "a", 1, "dice") == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "prediction,reference\na.png,b.png\n",
            r"m\.csv: expected columns pred,gt\[,case\], got \['prediction', 'reference'\]",
        ),
        ("case,pred,gt\nx,a.png,a.png\nx,b.png,b.png\n", r"m\.csv: case 'x' is listed twice"),
        ("pred,gt\ng/a.png,g/a.png\ng/a.png,h/a.png\n", r"m\.csv: case 'a' is listed twice"),
    ],
)
def test_bad_manifest_is_a_usage_error(files, content, message):
    with pytest.raises(UsageError, match=message):
        read_manifest(files.text("m.csv", content))


def test_manifest_row_with_too_few_fields_is_a_usage_error(files, gt2d):
    """A short row (a forgotten comma) must be reported like any other manifest mistake, not crash."""
    files.image("p/a.png", gt2d)
    manifest = files.text("m.csv", "pred,gt\np/a.png\n")
    with pytest.raises(UsageError, match=r"m\.csv"):
        read_manifest(manifest)


def test_missing_manifest_and_manifest_with_folders_are_usage_errors(files, gt2d):
    with pytest.raises(UsageError, match=r"pairs manifest .*absent\.csv not found"):
        segeval.score(pairs=files.root / "absent.csv")
    manifest = files.text("m.csv", "pred,gt\na.png,a.png\n")
    with pytest.raises(UsageError, match=r"give either PREDS and GTS folders or --pairs, not both"):
        segeval.score(files.root, files.root, pairs=manifest)
    with pytest.raises(UsageError, match=r"give the PREDS and GTS folders \(or --pairs manifest\.csv\)"):
        segeval.score(files.root)


# --------------------------------------------------------------------------------------------
# Unmatched, missing, duplicate, empty, unsupported
# --------------------------------------------------------------------------------------------


@pytest.fixture
def unmatched(files, gt2d, make_labels):
    """gts a, b, c, d; preds a, b, x: c and d lack a prediction, x lacks a ground truth."""
    preds = {name: make_labels(i) for i, name in enumerate("abx")}
    for name in "abcd":
        files.image(f"g/{name}.png", gt2d)
    for name, pred in preds.items():
        files.image(f"p/{name}.png", pred)
    return files.root / "p", files.root / "g", preds


def test_unmatched_files_on_either_side_are_a_pairing_error_listing_them(unmatched):
    p, g, _ = unmatched
    with pytest.raises(
        PairingError,
        match=r"unmatched files: 2 ground truth\(s\) without prediction: c, d; "
        r"1 prediction\(s\) without ground truth: x",
    ) as info:
        segeval.score(p, g)
    assert "--allow-missing" in info.value.hint


def test_long_lists_of_unmatched_names_are_shortened(files, gt2d):
    files.image("p/a.png", gt2d)
    files.image("g/a.png", gt2d)
    for i in range(8):
        files.image(f"g/m{i}.png", gt2d)
    with pytest.raises(
        PairingError, match=r"8 ground truth\(s\) without prediction: m0, m1, m2, m3, m4 … \(\+3 more\)"
    ):
        segeval.score(files.root / "p", files.root / "g")


def test_allow_missing_scores_a_missing_prediction_as_empty(
    unmatched, gt2d, np_dice, case_value, strict_json, tmp_path
):
    p, g, preds = unmatched
    result = segeval.score(p, g, allow_missing=True)
    assert [r.case for r in result.cases] == ["a", "b", "c", "d"]
    assert [r.status for r in result.cases] == ["ok", "ok", "missing_pred", "missing_pred"]
    assert result.missing_pred == ["c", "d"]
    assert result.missing_gt == ["x"]
    assert not result.failed
    for case in ("c", "d"):
        for label in (1, 2):  # present in the reference, absent from the (empty) prediction
            assert case_value(result.per_case, case, label, "dice") == 0.0
            assert case_value(result.per_case, case, label, "fn") == np.sum(gt2d == label)
        assert case_value(result.per_case, case, 0, "dice") == pytest.approx(np_dice(np.zeros_like(gt2d), gt2d, 0))
    assert case_value(result.per_case, "a", 1, "dice") == pytest.approx(np_dice(preds["a"], gt2d, 1))
    assert set(result.per_case["case"]) == {"a", "b", "c", "d"}  # x is never scored

    summary = strict_json(result.write(tmp_path / "out")["json"].read_text())
    assert summary["missing"] == {"pred": ["c", "d"], "gt": ["x"]}
    assert summary["counts"]["missing_pred"] == 2 and summary["counts"]["missing_gt"] == 1
    # the empty prediction lowers the mean Dice: mean over a, b, c, d
    expected = np.mean([np_dice(preds["a"], gt2d, 1), np_dice(preds["b"], gt2d, 1), 0.0, 0.0])
    assert result.metric("dice", 1) == pytest.approx(expected)


def test_skip_missing_leaves_missing_predictions_out_of_the_scores(unmatched, gt2d, np_dice, case_value):
    p, g, preds = unmatched
    result = segeval.score(p, g, skip_missing=True)
    assert [r.case for r in result.cases] == ["a", "b"]
    assert set(result.per_case["case"]) == {"a", "b"}
    expected = np.mean([np_dice(preds["a"], gt2d, 1), np_dice(preds["b"], gt2d, 1)])
    assert result.metric("dice", 1) == pytest.approx(expected)


def test_skip_missing_still_records_which_cases_were_skipped(unmatched, strict_json, tmp_path):
    """Skipped cases are not scored, but the report must say they were missing (summary.json 'missing')."""
    p, g, _ = unmatched
    result = segeval.score(p, g, skip_missing=True)
    assert result.missing_pred == ["c", "d"]
    summary = strict_json(result.write(tmp_path / "out")["json"].read_text())
    assert summary["missing"]["pred"] == ["c", "d"]
    assert summary["counts"]["missing_pred"] == 2


def test_only_missing_predictions_with_allow_missing_still_scores(files, gt2d, case_value):
    files.image("g/a.png", gt2d)
    files.text("p/readme.txt", "no predictions yet")
    files.image("p/zzz.png", gt2d)
    result = segeval.score(files.root / "p", files.root / "g", allow_missing=True)
    assert result.missing_pred == ["a"] and result.missing_gt == ["zzz"]
    assert case_value(result.per_case, "a", 1, "dice") == 0.0
    with pytest.raises(PairingError, match=r"no prediction matches a ground truth: nothing to score"):
        segeval.score(files.root / "p", files.root / "g", skip_missing=True)


def test_duplicate_case_names_in_one_folder_are_an_error_naming_both_files(files, gt2d):
    files.image("p/case_1.png", gt2d)
    files.npy("p/case_1.npy", gt2d)
    files.image("g/case_1.png", gt2d)
    with pytest.raises(
        PairingError, match=r"prediction folder .*: case_1\.npy and case_1\.png both give case 'case_1'"
    ):
        segeval.score(files.root / "p", files.root / "g")


def test_duplicate_after_suffix_stripping_is_an_error(files, gt2d):
    files.image("g/case_1.png", gt2d)
    files.image("g/case_1_seg.png", gt2d)
    files.image("p/case_1.png", gt2d)
    with pytest.raises(
        PairingError, match=r"ground-truth folder .*case_1\.png and case_1_seg\.png both give case 'case_1'"
    ):
        discover_pairs(files.root / "p", files.root / "g", gt_suffix="_seg")


def test_empty_folder_is_an_error(files, gt2d):
    (files.root / "p").mkdir()
    files.image("g/a.png", gt2d)
    with pytest.raises(PairingError, match=r"prediction folder .*p holds no supported file"):
        segeval.score(files.root / "p", files.root / "g")


def test_folder_of_only_unsupported_files_is_an_error(files, gt2d):
    files.text("p/a.txt", "x")
    files.raw("p/b.jpg", b"\xff\xd8")
    files.image("g/a.png", gt2d)
    with pytest.raises(PairingError, match=r"prediction folder .*p holds no supported file") as info:
        segeval.score(files.root / "p", files.root / "g")
    assert ".nii.gz" in info.value.hint


def test_missing_folder_and_file_given_for_a_folder_are_errors(files, gt2d):
    files.image("g/a.png", gt2d)
    with pytest.raises(PairingError, match=r"prediction folder .*nowhere does not exist"):
        segeval.score(files.root / "nowhere", files.root / "g")
    single = files.image("single.png", gt2d)
    with pytest.raises(PairingError, match=r"single\.png is a file but the prediction argument is a folder"):
        segeval.score(single, files.root / "g")


def test_unsupported_files_are_skipped_and_listed(files, gt2d, strict_json, tmp_path):
    files.image("p/a.png", gt2d)
    files.image("g/a.png", gt2d)
    notes = files.text("p/notes.txt", "x")
    readme = files.text("g/README.md", "x")
    jpeg = files.raw("g/photo.jpg", b"\xff\xd8\xff")
    files.text("p/.DS_Store", "hidden")  # hidden: neither a case nor listed
    result = segeval.score(files.root / "p", files.root / "g")
    assert [r.case for r in result.cases] == ["a"]
    assert sorted(result.skipped_files) == sorted(str(p) for p in (notes, readme, jpeg))
    summary = strict_json(result.write(tmp_path / "out")["json"].read_text())
    assert sorted(summary["skipped_files"]) == sorted(result.skipped_files)
    assert summary["counts"]["skipped_files"] == 3


def test_metaimage_header_pairs_and_its_raw_file_is_not_skipped(files, gt2d, make_labels, np_dice, case_value):
    pred = make_labels(9)
    files.sitk_image("g/case.mhd", gt2d)
    files.sitk_image("p/case.mhd", pred)
    assert (files.root / "g" / "case.raw").exists() or (files.root / "g" / "case.zraw").exists()
    result = segeval.score(files.root / "p", files.root / "g")
    assert result.skipped_files == []
    assert [r.case for r in result.cases] == ["case"]
    assert case_value(result.per_case, "case", 2, "dice") == pytest.approx(np_dice(pred, gt2d, 2))


def test_summary_json_records_inputs(files, gt2d, strict_json, tmp_path):
    files.image("p/a.png", gt2d)
    files.image("g/a.png", gt2d)
    result = segeval.score(files.root / "p", files.root / "g")
    inputs = strict_json(result.write(tmp_path / "out")["json"].read_text())["inputs"]
    assert inputs == {"preds": str(files.root / "p"), "gts": str(files.root / "g"), "pairs": None}
