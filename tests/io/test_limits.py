"""Resource limits before allocation: sizes come from headers, checked against the file and --max-voxels.

The hostile files are a few bytes of real header declaring a huge image (written by the format's own
library, then patched), so that these tests allocate nothing large themselves; what the code under
test allocates is measured with tracemalloc (NumPy's buffers are traced).
"""

from __future__ import annotations

import re
import struct
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from conftest import SHAPE_2D, SHAPE_3D
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.errors import InputError

runner = CliRunner()
MB = 1 << 20


def nifti_declaring(files, rel: str, dims: tuple[int, ...]) -> object:
    """A real NIfTI-1 header (SimpleITK) whose dims are patched to ``dims``; almost no voxel data."""
    tiny = files.sitk_image("tiny_" + rel.replace("/", "_"), np.zeros((2, 2, 2), np.uint8))
    content = bytearray(tiny.read_bytes())
    if rel.endswith(".gz"):
        content = bytearray(zlib.decompress(bytes(content), wbits=31))
    content[40:56] = struct.pack("<8h", len(dims), *dims, *(1,) * (7 - len(dims)))
    if rel.endswith(".gz"):
        import gzip

        return files.raw(rel, gzip.compress(bytes(content)))
    return files.raw(rel, bytes(content))


def npy_header_only(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    """The NPY header of an array of ``shape``, without its data."""
    import io

    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": descr, "fortran_order": False, "shape": shape})
    return stream.getvalue()


def npz_declaring(files, rel: str, shape: tuple[int, ...]) -> object:
    path = files.path(rel)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("probabilities.npy", npy_header_only(shape) + bytes(64))
    return path


def png_declaring(files, rel: str, width: int, height: int) -> object:
    """A Pillow-written PNG whose IHDR (with a valid CRC) declares ``width`` × ``height``."""
    content = bytearray(files.image("tiny_" + rel.replace("/", "_"), np.zeros((4, 4), np.uint8)).read_bytes())
    ihdr = bytearray(content[12:29])  # chunk type + 13 data bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    content[12:29] = ihdr
    content[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return files.raw(rel, bytes(content))


HOSTILE = {
    "nii-header-declares-800M-voxels": (
        lambda files: nifti_declaring(files, "p/bomb.nii", (200, 2000, 2000)),
        "3d",
        r"p/bomb\.nii: truncated NIfTI: \d+ bytes, the header needs 800,000,352",
    ),
    "nii.gz-header-declares-800M-voxels": (
        lambda files: nifti_declaring(files, "p/bomb.nii.gz", (200, 2000, 2000)),
        "3d",
        r"p/bomb\.nii\.gz: truncated NIfTI: \d+ bytes of data, the header needs 800000352",
    ),
    "npy-header-declares-400M-values": (
        lambda files: files.raw("p/bomb.npy", npy_header_only((4, 10000, 10000))),
        "2d",
        r"p/bomb\.npy: cannot load NumPy file \(truncated: 0 bytes of data, shape \(4, 10000, 10000\) needs",
    ),
    "npz-member-declares-400M-values": (
        lambda files: npz_declaring(files, "p/bomb.npz", (4, 10000, 10000)),
        "2d",
        r"p/bomb\.npz: cannot load NumPy file \(member 'probabilities' declares \d+ bytes, shape "
        r"\(4, 10000, 10000\) needs 400,000,\d+\)",
    ),
    "png-ihdr-20000x20000-above-pillows-limit": (
        lambda files: png_declaring(files, "p/bomb.png", 20000, 20000),
        "2d",
        r"p/bomb\.png: refused by Pillow: Image size \(400000000 pixels\) exceeds limit",
    ),
    "png-ihdr-12000x12000-in-pillows-warning-band": (
        lambda files: png_declaring(files, "p/bomb.png", 12000, 12000),
        "2d",
        r"p/bomb\.png: truncated PNG: \d+ bytes cannot hold 12000×12000 pixels",
    ),
}


@pytest.fixture(scope="module", autouse=True)
def _imported(tmp_path_factory):
    """Score one tiny pair of each kind first, so that tracemalloc does not trace (slow) first imports."""
    from conftest import Files

    files = Files(tmp_path_factory.mktemp("warm"))
    for side in ("p", "g"):
        files.sitk_image(f"{side}/a.nii.gz", np.zeros(SHAPE_3D, np.uint8))
        files.npy(f"{side}/b.npy", np.zeros(SHAPE_2D, np.uint8))
    segeval.score(files.root / "p", files.root / "g", device="cpu")


@pytest.mark.parametrize("make, dims, reason", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_file_fails_its_case_before_allocating(files, gt2d, make, dims, reason):
    """A header declaring a huge image fails its own case, naming the file, and the run allocates
    almost nothing for it; the good case is scored."""
    suffix = ".nii.gz" if dims == "3d" else ".png"
    gt = np.zeros(SHAPE_3D, np.uint8) if dims == "3d" else gt2d
    for case in ("bomb", "good"):
        writer = files.sitk_image if dims == "3d" else files.image
        writer(f"g/{case}{suffix}", gt)
    (files.sitk_image if dims == "3d" else files.image)(f"p/good{suffix}", gt)
    make(files)

    tracemalloc.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = segeval.score(files.root / "p", files.root / "g", workers=2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert peak < 100 * MB, f"{peak / MB:.0f} MB traced"
    assert not [w for w in caught if "DecompressionBomb" in type(w.message).__name__]
    assert [r.case for r in result.failed] == ["bomb"]
    assert re.search(reason, result.failed[0].error), result.failed[0].error
    assert [r.case for r in result.cases if r.status == "ok"] == ["good"]


@pytest.mark.parametrize("source", ["option", "settings-file"])
def test_max_voxels_fails_a_larger_file_naming_it_and_scores_the_others(files, gt2d, source, tmp_path, monkeypatch):
    small = np.zeros((10, 10), np.uint8)
    files.image("g/small.png", small), files.image("p/small.png", small)
    files.image("g/big.png", gt2d), files.image("p/big.png", gt2d)
    args = ["score", str(files.root / "p"), str(files.root / "g"), "--format", "json"]
    if source == "option":
        args += ["--max-voxels", "500"]
    else:
        (tmp_path / "segeval.toml").write_text("max-voxels = 500\n")
        args += ["--config", str(tmp_path / "segeval.toml")]

    result = runner.invoke(app, args)

    assert result.exit_code == 3, result.output
    assert re.search(r"g/big\.png: shape \(23, 37\) holds 851 values, more than --max-voxels 500", result.stderr), (
        result.stderr
    )
    assert '"case": "small"' not in result.stderr and "small.png" not in result.stderr


def test_read_image_checks_max_voxels_on_the_header(files, gt2d):
    path = files.image("a.png", gt2d)
    with pytest.raises(InputError, match=r"a\.png: shape \(23, 37\) holds 851 values, more than"):
        segeval.read_image(path, max_voxels=850)
    assert segeval.read_image(path, max_voxels=851).array.shape == SHAPE_2D


def test_loader_threads_share_one_voxel_budget(files, rng):
    """With four loader threads and a budget of one case, no more than one case is decoded at a time."""
    shape = (600, 700)
    for i in range(8):
        files.npy(f"g/c{i}.npy", rng.integers(0, 2, size=shape).astype(np.uint8))
        files.npy(f"p/c{i}.npy", rng.random((2, *shape), dtype=np.float32))
    case_values = 3 * shape[0] * shape[1]
    case_bytes = 9 * shape[0] * shape[1]  # uint8 reference + two float32 channels

    tracemalloc.start()
    result = segeval.score(files.root / "p", files.root / "g", workers=4, max_voxels=case_values, device="cpu")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert len(result.cases) == 8 and not result.failed
    assert peak < 2 * case_bytes, f"{peak / case_bytes:.1f} cases in flight"


def test_npz_with_many_unknown_arrays_names_a_few(files, gt2d):
    path = files.path("many.npz")
    np.savez(path, **{f"layer_{i:03d}": np.zeros(1, np.uint8) for i in range(500)})
    with pytest.raises(InputError) as raised:
        segeval.read_image(path)
    message = str(raised.value)
    assert re.search(
        r"many\.npz: \.npz holds arrays \['layer_000', .*, \.\.\.\] \(500 in all\); segeval reads", message
    )
    assert len(message) < 400 and "layer_499" not in message


def test_a_png_chunk_longer_than_its_file_fails_before_pillow_allocates_it(files, gt2d):
    """Pillow reads a chunk's declared length whole: a corrupt 4-byte length would allocate up to 4 GiB."""
    content = bytearray(files.image("good.png", gt2d).read_bytes())
    at = content.index(b"IDAT") - 4
    content[at : at + 4] = struct.pack(">I", 0x7FFF0000)  # about 2 GiB declared in a file of a few hundred bytes
    path = files.raw("corrupt.png", bytes(content))
    tracemalloc.start()
    with pytest.raises(InputError, match=r"corrupt\.png: truncated or corrupt PNG: chunk 'IDAT' declares"):
        segeval.read_image(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100 * 2**20
