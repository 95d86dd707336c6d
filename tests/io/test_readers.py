"""Readers: every supported format, written by its own library, read back by ``segeval.read_image``;
and what a prediction file is taken to hold (labels, probabilities, logits) once it is scored.

Tiny hand-checkable arrays, shapes non-square and odd (23 × 37, 5 × 7 × 9), spacing
anisotropic. Expected numbers are computed here with NumPy.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

import segeval
from segeval.errors import InputError, UsageError
from segeval.io.palette import read_palette
from segeval.io.readers import format_suffix

SHAPE_2D = (23, 37)  # as in conftest.py: odd, non-square
SHAPE_3D = (5, 7, 9)
SPACING_XYZ = (0.8, 0.7, 2.5)  # SimpleITK (x, y, z) order

SPACING_ZYX = tuple(reversed(SPACING_XYZ))  # (2.5, 0.7, 0.8)
VOXEL_MM3 = 0.8 * 0.7 * 2.5


# --------------------------------------------------------------------------------------------
# Pillow: PNG, TIFF, BMP
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["labels.png", "labels.tif", "labels.tiff", "labels.bmp"])
def test_grayscale_label_map_reads_as_stored(files, gt2d, name):
    path = files.image(name, gt2d)
    image = segeval.read_image(path)
    assert image.format == "image"
    assert image.array.shape == SHAPE_2D
    np.testing.assert_array_equal(image.array, gt2d)
    assert image.spacing_mm is None and image.origin_mm is None and image.channel_axis is None


@pytest.mark.parametrize("name", ["labels16.png", "labels16.tif"])
def test_16_bit_label_map_keeps_values_above_255(files, name):
    labels = np.zeros(SHAPE_2D, dtype=np.uint16)
    labels[2:9, 3:30] = 1000
    labels[12:20, 5:11] = 40000
    path = files.image(name, labels)
    from PIL import Image

    with Image.open(path) as written:
        assert written.mode == "I;16"  # really a 16-bit file
    image = segeval.read_image(path)
    assert image.array.dtype == np.uint16
    np.testing.assert_array_equal(image.array, labels)


def test_palette_png_gives_palette_indices_not_colours(files, gt2d):
    # Colours chosen so that no channel equals the index: only the index can be the label.
    path = files.palette_image("pal.png", gt2d, [(10, 20, 30), (200, 0, 0), (0, 0, 250)])
    image = segeval.read_image(path)
    assert image.array.dtype == np.uint8
    np.testing.assert_array_equal(image.array, gt2d)


def test_one_bit_png_reads_as_binary_mask(files, gt2d):
    path = files.image("mask.png", gt2d == 1)
    image = segeval.read_image(path)
    np.testing.assert_array_equal(image.array.astype(np.uint8), (gt2d == 1).astype(np.uint8))


def test_multi_page_tiff_is_stacked_into_a_volume(files, make_labels):
    pages = [make_labels(seed) for seed in range(5)]
    path = files.tiff_pages("volume.tif", pages)
    image = segeval.read_image(path)
    assert image.array.shape == (5, *SHAPE_2D)
    np.testing.assert_array_equal(image.array, np.stack(pages))


def test_float_tiff_keeps_probabilities(files, rng):
    probs = rng.random(SHAPE_2D).astype(np.float32)
    path = files.image("probs.tif", probs)
    image = segeval.read_image(path)
    assert image.array.dtype == np.float32
    np.testing.assert_array_equal(image.array, probs)


def test_rgb_mask_without_palette_is_refused_naming_the_file(files, gt2d):
    rgb = np.zeros((*SHAPE_2D, 3), dtype=np.uint8)
    rgb[gt2d == 1] = (255, 0, 0)
    path = files.image("colour_mask.png", rgb)
    with pytest.raises(InputError, match=r"colour_mask\.png: RGB colour image.*--palette"):
        segeval.read_image(path)


def _rgb_of(labels: np.ndarray, colours: dict[int, tuple[int, int, int]]) -> np.ndarray:
    rgb = np.zeros((*labels.shape, 3), dtype=np.uint8)
    for label, colour in colours.items():
        rgb[labels == label] = colour
    return rgb


COLOURS = {0: (0, 0, 0), 1: (255, 0, 0), 2: (0, 128, 255)}


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_rgb_mask_with_palette_file_maps_colours_to_labels(files, gt2d, kind):
    if kind == "csv":
        palette_path = files.text(
            "palette.csv", "label,r,g,b\n" + "".join(f"{label},{r},{g},{b}\n" for label, (r, g, b) in COLOURS.items())
        )
    else:
        palette_path = files.text("palette.json", json.dumps({str(k): list(v) for k, v in COLOURS.items()}))
    palette = read_palette(palette_path)
    assert palette == {colour: label for label, colour in COLOURS.items()}
    path = files.image("colour_mask.png", _rgb_of(gt2d, COLOURS))
    image = segeval.read_image(path, palette=palette)
    np.testing.assert_array_equal(image.array, gt2d)


def test_rgba_mask_with_palette_ignores_alpha(files, gt2d):
    rgba = np.concatenate([_rgb_of(gt2d, COLOURS), np.full((*SHAPE_2D, 1), 255, np.uint8)], axis=-1)
    path = files.image("colour_mask.png", rgba)
    image = segeval.read_image(path, palette={c: label for label, c in COLOURS.items()})
    np.testing.assert_array_equal(image.array, gt2d)


def test_colour_missing_from_palette_is_named(files, gt2d):
    colours = {**COLOURS, 2: (7, 8, 9)}
    path = files.image("colour_mask.png", _rgb_of(gt2d, colours))
    palette = {c: label for label, c in COLOURS.items()}
    n_unknown = int(np.sum(gt2d == 2))
    with pytest.raises(
        InputError, match=rf"colour_mask\.png: colour \(7, 8, 9\) \({n_unknown} pixels\) is not in the palette"
    ):
        segeval.read_image(path, palette=palette)


def test_rgb_mask_scored_through_palette_option(files, gt2d, np_dice, case_value):
    pred = gt2d.copy()
    pred[0:4, :] = 2
    files.image("p/case.png", _rgb_of(pred, COLOURS))
    files.image("g/case.png", _rgb_of(gt2d, COLOURS))
    palette = files.text("palette.csv", "label,r,g,b,name\n0,0,0,0,bg\n1,255,0,0,a\n2,0,128,255,b\n")
    result = segeval.score(files.root / "p", files.root / "g", palette=palette)
    assert not result.failed
    for label in (1, 2):
        assert case_value(result.per_case, "case", label, "dice") == pytest.approx(np_dice(pred, gt2d, label))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.csv", "label,r,g\n1,255,0\n", r"p\.csv: 'b'"),
        ("p.csv", "label,r,g,b\n1,255,0,0\n2,255,0,0\n", r"colour \(255, 0, 0\) is given for labels 1 and 2"),
        ("p.csv", "label,r,g,b\n1,300,0,0\n", r"not three values 0-255"),
        ("p.json", "[1, 2, 3]", r"p\.json"),
        ("p.json", '{"1": [255, 0]}', r"colour \[255, 0\] of label 1 is not three values"),
        ("p.csv", "label,r,g,b\n", r"lists no colours"),
    ],
)
def test_bad_palette_file_is_a_usage_error(files, name, content, message):
    with pytest.raises(UsageError, match=message):
        read_palette(files.text(name, content))


def test_missing_palette_file_is_a_usage_error(files):
    with pytest.raises(UsageError, match=r"palette file .*nope\.csv not found"):
        read_palette(files.root / "nope.csv")


def test_unsupported_pillow_mode_is_named(files):
    from PIL import Image

    path = files.path("la.png")
    Image.fromarray(np.zeros((*SHAPE_2D, 2), np.uint8), mode="LA").save(path)
    with pytest.raises(InputError, match=r"la\.png: unsupported image mode 'LA'"):
        segeval.read_image(path)


def test_multi_page_tiff_with_pages_of_different_sizes_is_an_input_error(files, make_labels):
    """Every reader failure is an InputError naming the file (readers.py module docstring)."""
    path = files.tiff_pages("ragged.tif", [make_labels(0), make_labels(1, shape=(21, 37))])
    with pytest.raises(InputError, match=r"ragged\.tif"):
        segeval.read_image(path)


# --------------------------------------------------------------------------------------------
# SimpleITK: NIfTI, MetaImage, NRRD, with geometry
# --------------------------------------------------------------------------------------------


def _volume(seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed)
    return r.choice(np.array([0, 1, 2], dtype=np.uint8), size=SHAPE_3D, p=[0.5, 0.3, 0.2])


@pytest.mark.parametrize("name", ["vol.mha", "vol.nrrd", "vol.mhd"])
def test_text_header_formats_give_spacing_in_array_order_exactly(files, name):
    volume = _volume()
    path = files.sitk_image(name, volume, spacing=SPACING_XYZ, origin=(10.0, -20.0, 30.5))
    image = segeval.read_image(path)
    assert image.format == "sitk"
    assert image.array.shape == SHAPE_3D
    np.testing.assert_array_equal(image.array, volume)
    assert image.spacing_mm == (2.5, 0.7, 0.8)
    assert image.origin_mm == (30.5, -20.0, 10.0)
    assert image.direction == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert image.channel_axis is None


@pytest.mark.parametrize("name", ["vol.nii", "vol.nii.gz"])
def test_nifti_gives_spacing_in_array_order(files, name):
    volume = _volume()
    path = files.sitk_image(name, volume, spacing=SPACING_XYZ, origin=(10.0, -20.0, 30.5))
    image = segeval.read_image(path)
    assert image.array.shape == SHAPE_3D
    np.testing.assert_array_equal(image.array, volume)
    # NIfTI stores pixdim as float32, so 0.7 comes back as 0.699999988…: equal to float32 precision.
    assert image.spacing_mm == pytest.approx((2.5, 0.7, 0.8), rel=1e-6)
    assert image.origin_mm == pytest.approx((30.5, -20.0, 10.0), rel=1e-6)


def test_2d_nifti_keeps_two_axes_and_their_spacing(files, gt2d):
    path = files.sitk_image("slice.nii.gz", gt2d, spacing=(0.5, 0.25))
    image = segeval.read_image(path)
    assert image.array.shape == SHAPE_2D
    np.testing.assert_array_equal(image.array, gt2d)
    assert image.spacing_mm == (0.25, 0.5)


def test_4d_nifti_channels_are_array_axis_0_and_spacing_stays_spatial(files, rng):
    probs = rng.random((3, *SHAPE_3D)).astype(np.float32)
    path = files.nifti_4d("probs.nii.gz", probs, spacing=SPACING_XYZ, origin=(1.0, 2.0, 3.0))
    image = segeval.read_image(path)
    assert image.array.shape == (3, *SHAPE_3D)
    np.testing.assert_array_equal(image.array, probs)
    assert image.channel_axis == 0
    assert image.spacing_mm == pytest.approx(SPACING_ZYX, rel=1e-6)
    assert image.origin_mm == pytest.approx((3.0, 2.0, 1.0))
    assert len(image.direction) == 9


@pytest.mark.parametrize("name", ["vec.nii.gz", "vec.mha"])
def test_vector_image_channels_are_the_last_axis(files, rng, name):
    probs = rng.random((*SHAPE_3D, 3)).astype(np.float32)
    path = files.sitk_image(name, probs, spacing=SPACING_XYZ, vector=True)
    image = segeval.read_image(path)
    assert image.array.shape == (*SHAPE_3D, 3)
    np.testing.assert_array_equal(image.array, probs)
    assert image.channel_axis == 3
    assert image.spacing_mm == pytest.approx(SPACING_ZYX, rel=1e-6)


@pytest.mark.parametrize("name", ["probs.nii.gz", "probs.nii"])
def test_nan_and_inf_in_a_nifti_are_not_silently_read_as_zero(files, rng, name):
    """The file holds NaN/inf (NIfTI float32 stores them); reading must keep them or refuse the file,
    never hand back 0, or a broken probability map is scored as background."""
    probs = rng.random(SHAPE_2D).astype(np.float32)
    probs[2, 3], probs[4, 5] = np.nan, np.inf
    path = files.sitk_image(name, probs)
    try:
        image = segeval.read_image(path)
    except InputError as error:
        assert name in str(error)
    else:
        assert np.isnan(image.array[2, 3]) and np.isposinf(image.array[4, 5]), (image.array[2, 3], image.array[4, 5])


# --------------------------------------------------------------------------------------------
# NumPy: .npy, .npz
# --------------------------------------------------------------------------------------------


def test_npy_label_map(files, gt2d):
    image = segeval.read_image(files.npy("labels.npy", gt2d.astype(np.int64)))
    assert image.format == "numpy" and image.spacing_mm is None
    np.testing.assert_array_equal(image.array, gt2d)


class _MakeDirOnUnpickle:
    """Unpickling this calls ``os.mkdir(path)``: proof that a pickle was executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("suffix", ["npy", "npz"])
def test_object_array_is_refused_without_executing_its_pickle(files, suffix):
    sentinel, proof = files.root / "executed", files.root / "payload_is_live"

    def write(name, target):
        array = np.array([_MakeDirOnUnpickle(str(target)), None], dtype=object)
        path = files.path(name)
        if suffix == "npy":
            np.save(path, array, allow_pickle=True)
        else:
            np.savez(path, probabilities=array)
        return path

    path = write(f"evil.{suffix}", sentinel)
    with pytest.raises(InputError, match=r"evil\.np[yz]: array of dtype object is not a label") as raised:
        segeval.read_image(path)
    assert "pickle" not in str(raised.value)  # numpy's "load it unsafely" advice is not passed on
    assert not sentinel.exists()

    # The payload is real: loading it the unsafe way does run it.
    live = write(f"live.{suffix}", proof)
    loaded = np.load(live, allow_pickle=True)
    if suffix == "npz":
        loaded = loaded["probabilities"]
    assert proof.exists()


def test_npz_with_one_array_reads_it_whatever_its_key(files, gt2d):
    image = segeval.read_image(files.npz("one.npz", my_segmentation=gt2d))
    np.testing.assert_array_equal(image.array, gt2d)


def test_npz_with_known_key_reads_that_array(files, gt2d, rng):
    probs = rng.random((3, *SHAPE_2D)).astype(np.float32)
    image = segeval.read_image(files.npz("several.npz", extra=gt2d, probabilities=probs, meta=np.arange(3)))
    np.testing.assert_array_equal(image.array, probs)
    assert image.channel_axis == 0


def test_npz_with_unknown_keys_lists_them(files, gt2d):
    path = files.npz("unknown.npz", foo=gt2d, bar=gt2d)
    with pytest.raises(InputError, match=r"unknown\.npz: \.npz holds arrays \['foo', 'bar'\]; segeval reads one of"):
        segeval.read_image(path)


@pytest.mark.parametrize(
    ("array", "dtype_text"),
    [(np.array(["a", "b", "c"]), "<U1"), (np.ones((3, 5), dtype=np.complex64), "complex64")],
)
def test_npy_of_non_numeric_dtype_is_refused(files, array, dtype_text):
    path = files.npy("weird.npy", array)
    with pytest.raises(InputError, match=rf"weird\.npy: array of dtype {dtype_text} is not a label or probability map"):
        segeval.read_image(path)


def test_big_endian_npy_label_map_is_scored_like_a_native_one(files, gt2d, make_labels, np_dice, case_value):
    """An .npy written on (or for) a big-endian machine keeps its byte order; NumPy reads it fine."""
    pred = make_labels(5)
    files.npy("p/case.npy", pred.astype(">i2"))
    files.image("g/case.png", gt2d)
    result = segeval.score(files.root / "p", files.root / "g")
    assert [r.error for r in result.failed] == []
    for label in (1, 2):
        assert case_value(result.per_case, "case", label, "dice") == pytest.approx(np_dice(pred, gt2d, label))


def test_big_endian_16_bit_tiff_label_map_is_scored(files, gt2d, make_labels, np_dice, case_value):
    """ImageJ and many microscopes write big-endian TIFFs; Pillow reads them as mode "I;16B"."""
    from PIL import Image

    pred = make_labels(6).astype(np.uint16) * 1000
    gt = gt2d.astype(np.uint16) * 1000
    files.image("p/case.tif", pred.astype(">u2"))
    files.image("g/case.tif", gt)
    with Image.open(files.root / "p" / "case.tif") as written:
        assert written.mode == "I;16B"
    np.testing.assert_array_equal(segeval.read_image(files.root / "p" / "case.tif").array, pred)
    result = segeval.score(files.root / "p", files.root / "g")
    assert [r.error for r in result.failed] == []
    assert case_value(result.per_case, "case", 2000, "dice") == pytest.approx(np_dice(pred, gt, 2000))


# --------------------------------------------------------------------------------------------
# Unreadable files at the reader level (through score: tests/test_bad_input.py)
# --------------------------------------------------------------------------------------------


def test_unknown_extension_and_missing_file(files):
    with pytest.raises(InputError, match=r"notes\.txt: unknown file extension; supported: \.nii\.gz"):
        segeval.read_image(files.text("notes.txt", "x"))
    with pytest.raises(InputError, match=r"absent\.png: file not found"):
        segeval.read_image(files.root / "absent.png")


@pytest.mark.parametrize("name", ["noise.png", "noise.tif", "noise.bmp", "empty.png"])
def test_random_bytes_as_image_are_an_input_error(files, name):
    content = b"" if name.startswith("empty") else np.random.default_rng(1).bytes(300)
    path = files.raw(name, content)
    with pytest.raises(InputError, match=rf"{re.escape(name)}: not a readable image \(corrupt or not really"):
        segeval.read_image(path)


def test_truncated_png_is_an_input_error(files, gt2d):
    full = files.image("full.png", gt2d).read_bytes()
    path = files.raw("truncated.png", full[: len(full) // 2])
    with pytest.raises(InputError, match=r"truncated\.png: truncated or corrupt PNG: chunk .IDAT. declares"):
        segeval.read_image(path)


@pytest.mark.parametrize("name", ["noise.nii.gz", "noise.nii", "noise.mha", "noise.nrrd"])
def test_random_bytes_as_volume_are_an_input_error(files, name):
    path = files.raw(name, np.random.default_rng(2).bytes(400))
    with pytest.raises(InputError, match=rf"{re.escape(name)}: cannot read image"):
        segeval.read_image(path)


def _truncate(files, name: str, cut: int) -> object:
    volume = np.random.default_rng(3).integers(0, 3, size=(20, 21, 23)).astype(np.uint8)
    full = files.sitk_image(f"full_{name}", volume, spacing=SPACING_XYZ).read_bytes()
    assert len(full) > cut
    return files.raw(name, full[: len(full) - cut])


@pytest.mark.parametrize("name", ["cut.mha", "cut.nrrd"])
def test_truncated_text_header_volume_is_an_input_error(files, name):
    path = _truncate(files, name, 500)
    with pytest.raises(InputError, match=rf"{re.escape(name)}: cannot read image"):
        segeval.read_image(path)


@pytest.mark.parametrize(("name", "cut"), [("cut.nii.gz", 400), ("cut.nii", 500)])
def test_truncated_nifti_is_an_input_error(files, name, cut):
    """SimpleITK's NIfTI reader fills a short file with whatever it got, silently: segeval must notice."""
    path = _truncate(files, name, cut)
    with pytest.raises(InputError, match=rf"{re.escape(name)}"):
        segeval.read_image(path)


@pytest.mark.parametrize("content", ["noise", "zip-noise", "truncated"])
def test_unloadable_numpy_files_are_input_errors(files, gt2d, content):
    if content == "noise":
        path = files.raw("bad.npy", np.random.default_rng(4).bytes(200))
        message = r"bad\.npy: cannot load NumPy file"
    elif content == "zip-noise":
        path = files.raw("bad.npz", b"PK\x03\x04" + np.random.default_rng(4).bytes(200))
        message = r"bad\.npz: cannot load NumPy file"
    else:
        full = files.npy("full.npy", gt2d.astype(np.float64)).read_bytes()
        path = files.raw("bad.npy", full[:500])
        message = r"bad\.npy: cannot load NumPy file \(truncated: 372 bytes of data, shape \(23, 37\) needs 6,808\)"
    with pytest.raises(InputError, match=message):
        segeval.read_image(path)


def test_npz_with_corrupted_member_data_is_an_input_error(files, rng):
    """The zip directory is intact but the array's bytes are not: reading the member fails late."""
    content = bytearray(files.npz("good.npz", probabilities=rng.random((3, *SHAPE_2D))).read_bytes())
    for i in range(300, 400):  # inside the stored array's data
        content[i] ^= 0xFF
    path = files.raw("corrupt.npz", bytes(content))
    with pytest.raises(InputError, match=r"corrupt\.npz"):
        segeval.read_image(path)


def test_format_suffix_treats_nii_gz_as_one_suffix_and_ignores_case():
    from pathlib import Path

    assert format_suffix(Path("case_001.nii.gz")) == ".nii.gz"
    assert format_suffix(Path("CASE.PNG")) == ".png"
    assert format_suffix(Path("a.tiff")) == ".tiff"
    assert format_suffix(Path("a.gz")) is None
    assert format_suffix(Path("a.raw")) is None


# --------------------------------------------------------------------------------------------
# What a prediction holds, once scored (segeval.predictions through segeval.score)
# --------------------------------------------------------------------------------------------


def _score_one(files, pred_writer, gt: np.ndarray, **options):
    """Score one case: ``pred_writer(path_stem)`` writes the prediction, the ground truth is a PNG."""
    gt_path = files.image("g/case.png", gt)
    pred_path = pred_writer("p/case")
    result = segeval.score(pred_path, gt_path, **options)
    assert len(result.cases) == 1
    return result, result.cases[0]


def test_integer_label_map(files, gt2d, make_labels, np_dice, case_value):
    pred = make_labels(1)
    result, record = _score_one(files, lambda stem: files.npy(f"{stem}.npy", pred.astype(np.int32)), gt2d)
    assert (record.status, record.pred_kind, record.class_axis, record.threshold) == ("ok", "labels", None, None)
    assert result.labels == [0, 1, 2]
    for label in (0, 1, 2):
        assert case_value(result.per_case, "case", label, "dice") == pytest.approx(np_dice(pred, gt2d, label))
        tp = np.sum((pred == label) & (gt2d == label))
        assert case_value(result.per_case, "case", label, "tp") == tp
    assert case_value(result.per_case, "case", "all", "pixel_accuracy") == pytest.approx(np.mean(pred == gt2d))


def test_class_probabilities_on_first_axis_are_argmaxed(files, gt2d, rng, np_dice, case_value):
    probs = rng.random((3, *SHAPE_2D)).astype(np.float32)
    probs /= probs.sum(axis=0, keepdims=True)
    expected = probs.argmax(axis=0)
    result, record = _score_one(files, lambda stem: files.npy(f"{stem}.npy", probs), gt2d)
    assert (record.pred_kind, record.class_axis) == ("probs", 0)
    for label in (0, 1, 2):
        assert case_value(result.per_case, "case", label, "dice") == pytest.approx(np_dice(expected, gt2d, label))


def test_class_logits_on_last_axis_with_channel_axis_minus_1(files, gt2d, rng, np_dice, case_value):
    logits = (rng.normal(size=(*SHAPE_2D, 3)) * 4).astype(np.float32)
    expected = logits.argmax(axis=-1)
    result, record = _score_one(files, lambda stem: files.npy(f"{stem}.npy", logits), gt2d, channel_axis=-1)
    assert (record.pred_kind, record.class_axis) == ("logits", 2)
    for label in (0, 1, 2):
        assert case_value(result.per_case, "case", label, "dice") == pytest.approx(np_dice(expected, gt2d, label))


def test_ambiguous_class_axis_defaults_to_first_axis_for_npy(files, rng, case_value):
    """Only a cube (C = H = W) leaves the ground-truth shape at both ends; NPY's default is axis 0."""
    gt = np.array([[0, 1, 2], [2, 1, 0], [1, 1, 0]], dtype=np.uint8)
    probs = rng.random((3, 3, 3)).astype(np.float32)
    assert not np.array_equal(probs.argmax(axis=0), probs.argmax(axis=-1))

    for option, axis in (({}, 0), ({"channel_axis": -1}, 2)):
        result, record = _score_one(files, lambda stem: files.npy(f"{stem}.npy", probs), gt, **option)
        assert record.class_axis == axis
        expected = probs.argmax(axis=axis)
        assert case_value(result.per_case, "case", "all", "pixel_accuracy") == pytest.approx(np.mean(expected == gt))


def test_channel_axis_that_does_not_fit_fails_the_case(files, gt2d, rng):
    probs = rng.random((3, *SHAPE_2D)).astype(np.float32)
    result, record = _score_one(files, lambda stem: files.npy(f"{stem}.npy", probs), gt2d, channel_axis=1)
    assert record.status == "failed"
    assert "case.npy: --channel-axis 1 does not leave the ground-truth shape (23, 37)" in record.error
    assert "possible axes: [0]" in record.error


def test_single_channel_probabilities_threshold_at_half_inclusive(files, gt2d, rng, np_dice, case_value):
    probs = rng.random(SHAPE_2D).astype(np.float32)
    probs[gt2d == 1] = np.clip(probs[gt2d == 1] + 0.3, 0, 1)
    probs[::4, ::3] = 0.5  # exactly on the threshold: foreground (>=)
    expected = (probs >= 0.5).astype(np.uint8)
    assert np.sum(probs == 0.5) > 0
    result, record = _score_one(files, lambda stem: files.npy(f"{stem}.npy", probs), (gt2d == 1).astype(np.uint8))
    assert (record.pred_kind, record.threshold, record.class_axis) == ("probs", 0.5, None)
    assert case_value(result.per_case, "case", 1, "dice") == pytest.approx(np_dice(expected, gt2d == 1, True))
    assert case_value(result.per_case, "case", 1, "pred_volume") == expected.sum()


def test_single_channel_probabilities_with_own_threshold(files, gt2d, rng, case_value):
    probs = rng.random(SHAPE_2D).astype(np.float32)
    result, record = _score_one(
        files, lambda stem: files.npy(f"{stem}.npy", probs), (gt2d == 1).astype(np.uint8), threshold=0.3
    )
    assert record.threshold == 0.3
    assert case_value(result.per_case, "case", 1, "pred_volume") == np.sum(probs >= np.float32(0.3))


def test_single_channel_logits_threshold_at_zero_inclusive(files, gt2d, rng, np_dice, case_value):
    logits = (rng.normal(size=SHAPE_2D) * 3).astype(np.float32)
    logits[::5, ::2] = 0.0  # sigmoid(0) = 0.5: foreground
    expected = logits >= 0
    result, record = _score_one(files, lambda stem: files.npy(f"{stem}.npy", logits), (gt2d == 1).astype(np.uint8))
    assert (record.pred_kind, record.threshold) == ("logits", 0.0)
    assert case_value(result.per_case, "case", 1, "dice") == pytest.approx(np_dice(expected, gt2d == 1, True))
    assert case_value(result.per_case, "case", 1, "pred_volume") == expected.sum()


def test_single_channel_float_tiff_probabilities(files, gt2d, rng, case_value):
    probs = rng.random(SHAPE_2D).astype(np.float32)
    result, record = _score_one(files, lambda stem: files.image(f"{stem}.tif", probs), (gt2d == 1).astype(np.uint8))
    assert record.pred_kind == "probs"
    assert case_value(result.per_case, "case", 1, "pred_volume") == np.sum(probs >= 0.5)


def test_forced_pred_kind_overrides_inference(files, gt2d, rng, case_value):
    probs = rng.random(SHAPE_2D).astype(np.float32)  # within [0, 1]: auto would say probabilities
    result, record = _score_one(
        files, lambda stem: files.npy(f"{stem}.npy", probs), (gt2d == 1).astype(np.uint8), pred_kind="logits"
    )
    assert (record.pred_kind, record.threshold) == ("logits", 0.0)
    assert case_value(result.per_case, "case", 1, "pred_volume") == probs.size  # every value >= 0


def test_forced_probabilities_outside_unit_interval_fail_the_case(files, gt2d, rng):
    logits = (rng.normal(size=SHAPE_2D) * 3).astype(np.float32)
    result, record = _score_one(files, lambda stem: files.npy(f"{stem}.npy", logits), gt2d, pred_kind="probs")
    assert record.status == "failed"
    assert f"case.npy: probabilities outside [0, 1] (min {logits.min():.6g}, max {logits.max():.6g})" in record.error


def test_forced_labels_on_fractional_values_fail_the_case(files, gt2d, rng):
    probs = rng.random(SHAPE_2D).astype(np.float32)
    result, record = _score_one(files, lambda stem: files.npy(f"{stem}.npy", probs), gt2d, pred_kind="labels")
    assert record.status == "failed"
    assert "case.npy: --pred-kind labels but the file holds non-integer values" in record.error


def test_float_label_map_of_whole_numbers_is_labels(files, gt2d, make_labels, np_dice, case_value):
    pred = make_labels(2)
    path_writer = lambda stem: files.sitk_image(f"{stem}.nii.gz", pred.astype(np.float32))  # noqa: E731
    result, record = _score_one(files, path_writer, gt2d)
    assert record.pred_kind == "labels"
    for label in (1, 2):
        assert case_value(result.per_case, "case", label, "dice") == pytest.approx(np_dice(pred, gt2d, label))


def test_summary_json_states_the_inferred_kind_of_each_case(files, gt2d, rng, strict_json):
    binary = (gt2d == 1).astype(np.uint8)
    files.npy("p/a_labels.npy", binary)
    files.npy("p/b_probs.npy", rng.random(SHAPE_2D).astype(np.float32))
    files.npy("p/c_logits.npy", (rng.normal(size=SHAPE_2D) * 2).astype(np.float32))
    files.npy("p/d_classprobs.npy", rng.random((2, *SHAPE_2D)).astype(np.float32))
    for name in ("a_labels", "b_probs", "c_logits", "d_classprobs"):
        files.image(f"g/{name}.png", binary)
    result = segeval.score(files.root / "p", files.root / "g")
    paths = result.write(files.root / "out")
    cases = {c["case"]: c for c in strict_json(paths["json"].read_text())["cases"]}
    assert {name: (c["pred_kind"], c["class_axis"], c["threshold"]) for name, c in cases.items()} == {
        "a_labels": ("labels", None, None),
        "b_probs": ("probs", None, 0.5),
        "c_logits": ("logits", None, 0.0),
        "d_classprobs": ("probs", 0, None),
    }


# --------------------------------------------------------------------------------------------
# 0/255 binary masks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["png", "tif", "bmp"])
def test_0_255_masks_are_read_as_0_1_with_a_note(files, gt2d, make_labels, np_dice, case_value, ext):
    gt, pred = gt2d == 1, make_labels(3) == 1
    files.image(f"p/case.{ext}", pred.astype(np.uint8) * 255)
    files.image(f"g/case.{ext}", gt.astype(np.uint8) * 255)
    result = segeval.score(files.root / "p", files.root / "g")
    assert result.labels == [0, 1]
    record = result.cases[0]
    assert record.notes == ["ground truth 0/255 mapped to 0/1", "prediction 0/255 mapped to 0/1"]
    assert case_value(result.per_case, "case", 1, "dice") == pytest.approx(np_dice(pred, gt, True))
    assert case_value(result.per_case, "case", 1, "ref_volume") == gt.sum()


def test_0_255_mask_with_declared_labels_0_1_is_mapped(files, gt2d, np_dice, case_value):
    gt = gt2d == 1
    files.image("g/case.png", gt.astype(np.uint8) * 255)
    files.npy("p/case.npy", gt2d.clip(0, 1))  # already 0/1
    result = segeval.score(files.root / "p", files.root / "g", labels=(0, 1))
    assert not result.failed
    assert result.cases[0].notes == ["ground truth 0/255 mapped to 0/1"]
    assert case_value(result.per_case, "case", 1, "dice") == pytest.approx(np_dice(gt2d.clip(0, 1), gt, True))


def test_0_255_mask_with_255_declared_is_not_mapped(files, gt2d, make_labels, np_dice, case_value):
    gt, pred = (gt2d == 1).astype(np.uint8) * 255, (make_labels(4) == 1).astype(np.uint8) * 255
    files.image("g/case.png", gt)
    files.image("p/case.png", pred)
    result = segeval.score(files.root / "p", files.root / "g", labels=(0, 255))
    assert result.labels == [0, 255]
    assert result.cases[0].notes == []
    assert case_value(result.per_case, "case", 255, "dice") == pytest.approx(np_dice(pred, gt, 255))


def test_0_255_mask_with_ignore_index_255_is_not_mapped_and_255_is_ignored(files, gt2d, make_labels, case_value):
    gt = (gt2d == 1).astype(np.uint8) * 255
    pred = (make_labels(4) == 1).astype(np.uint8)
    files.image("g/case.png", gt)
    files.npy("p/case.npy", pred)
    result = segeval.score(files.root / "p", files.root / "g", ignore_index=255)
    record = result.cases[0]
    assert record.status == "ok" and record.notes == ["ground truth 0/255: the 255 pixels are the ignore index"]
    valid = gt == 0
    assert case_value(result.per_case, "case", 0, "tp") == np.sum(valid & (pred == 0))
    assert case_value(result.per_case, "case", "all", "pixel_accuracy") == pytest.approx(np.mean(pred[valid] == 0))
    total = sum(
        case_value(result.per_case, "case", label, "tp") + case_value(result.per_case, "case", label, "fn")
        for label in result.labels
    )
    assert total == valid.sum()


# --------------------------------------------------------------------------------------------
# Spacing and physical volumes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["nii.gz", "mha", "nrrd"])
def test_anisotropic_volume_gives_volumes_in_cubic_mm(files, ext, case_value):
    gt, pred = _volume(0), _volume(1)
    files.sitk_image(f"g/case.{ext}", gt, spacing=SPACING_XYZ)
    files.sitk_image(f"p/case.{ext}", pred, spacing=SPACING_XYZ)
    result = segeval.score(files.root / "p", files.root / "g")
    record = result.cases[0]
    assert record.spacing_mm == pytest.approx(SPACING_ZYX, rel=1e-6)
    assert record.spacing_source == "reference file"
    for label in (1, 2):
        assert case_value(result.per_case, "case", label, "ref_volume") == pytest.approx(
            np.sum(gt == label) * VOXEL_MM3, rel=1e-6
        )
        assert case_value(result.per_case, "case", label, "pred_volume") == pytest.approx(
            np.sum(pred == label) * VOXEL_MM3, rel=1e-6
        )
        # counts stay counts
        assert case_value(result.per_case, "case", label, "tp") == np.sum((gt == label) & (pred == label))


def test_4d_nifti_probability_map_against_3d_reference(files, rng, np_dice, case_value, strict_json):
    gt = _volume(2)
    probs = rng.random((3, *SHAPE_3D)).astype(np.float32)
    expected = probs.argmax(axis=0)
    files.sitk_image("g/case.nii.gz", gt, spacing=SPACING_XYZ)
    files.nifti_4d("p/case.nii.gz", probs, spacing=SPACING_XYZ)
    result = segeval.score(files.root / "p", files.root / "g")
    record = result.cases[0]
    assert [r.error for r in result.failed] == []
    assert (record.pred_kind, record.class_axis, record.shape) == ("probs", 0, SHAPE_3D)
    for label in (0, 1, 2):
        assert case_value(result.per_case, "case", label, "dice") == pytest.approx(np_dice(expected, gt, label))
        assert case_value(result.per_case, "case", label, "pred_volume") == pytest.approx(
            np.sum(expected == label) * VOXEL_MM3, rel=1e-6
        )


def test_vector_nifti_probability_map_against_3d_reference(files, rng, np_dice, case_value):
    gt = _volume(3)
    probs = rng.random((*SHAPE_3D, 3)).astype(np.float32)
    expected = probs.argmax(axis=-1)
    files.sitk_image("g/case.nii.gz", gt, spacing=SPACING_XYZ)
    files.sitk_image("p/case.nii.gz", probs, spacing=SPACING_XYZ, vector=True)
    result = segeval.score(files.root / "p", files.root / "g")
    record = result.cases[0]
    assert (record.status, record.class_axis) == ("ok", 3)
    for label in (0, 1, 2):
        assert case_value(result.per_case, "case", label, "dice") == pytest.approx(np_dice(expected, gt, label))


def test_multi_page_tiff_reference_against_npy_volume(files, make_labels, np_dice, case_value):
    gt = np.stack([make_labels(s) for s in range(3)])
    pred = np.stack([make_labels(s + 10) for s in range(3)])
    files.tiff_pages("g/vol.tif", list(gt))
    files.npy("p/vol.npy", pred)
    result = segeval.score(files.root / "p", files.root / "g")
    assert result.cases[0].shape == (3, *SHAPE_2D)
    assert case_value(result.per_case, "vol", 2, "dice") == pytest.approx(np_dice(pred, gt, 2))


def test_images_without_spacing_count_pixels_and_spacing_option_overrides(files, gt2d, case_value):
    files.image("g/case.png", gt2d)
    files.image("p/case.png", gt2d)
    plain = segeval.score(files.root / "p", files.root / "g")
    assert plain.cases[0].spacing_mm == (1.0, 1.0)
    assert plain.cases[0].spacing_source == "default (1 per pixel)"
    assert case_value(plain.per_case, "case", 1, "ref_volume") == np.sum(gt2d == 1)

    scaled = segeval.score(files.root / "p", files.root / "g", spacing=(0.5, 3.0))
    assert scaled.cases[0].spacing_source == "option"
    assert case_value(scaled.per_case, "case", 1, "ref_volume") == pytest.approx(np.sum(gt2d == 1) * 1.5)
