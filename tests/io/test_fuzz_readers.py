"""Fuzzing the readers: mutated bytes of real PNG, NIfTI, NPY and NPZ files.

Every outcome must be an image or segeval's InputError: never another exception, a signal, a hang or a
large allocation. Each example is read by ``segeval.read_image`` in a child process that runs under
a 1 GiB address-space limit (a large allocation is a MemoryError there), with a 10 s timeout.
A few hundred examples run with the tests; ``pytest -m fuzz`` runs many more.
"""

from __future__ import annotations

import gzip
import io
import os
import select
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

TIMEOUT_S = 10
ADDRESS_SPACE = 1 << 30

CHILD = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
from segeval.errors import InputError
from segeval.io.readers import read_image
for line in sys.stdin:
    try:
        image = read_image(line.strip())
        outcome = "image " + str(image.array.shape)
    except InputError:
        outcome = "input-error"
    except BaseException as exc:
        outcome = "FAILED " + type(exc).__name__ + ": " + repr(str(exc))[:300] + " " + " ".join(l.strip() for l in open("/proc/self/status") if l.startswith(("VmPeak", "VmSize")))
    print(outcome, flush=True)
"""


def _seeds() -> dict[str, bytes]:
    """Real files, written by each format's own library."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(6, 7, 5)).astype(np.uint8)
    seeds = {}
    buffer = io.BytesIO()
    Image.fromarray(labels[0]).save(buffer, format="PNG")
    seeds[".png"] = buffer.getvalue()
    for suffix, array in ((".nii", labels), (".nii.gz", rng.random((3, 4, 5)).astype(np.float32))):
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"segeval_fuzz_seed_{os.getpid()}{suffix}"
        sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
        seeds[suffix] = path.read_bytes()
        path.unlink()
    buffer = io.BytesIO()
    np.save(buffer, rng.random((2, 4, 5)).astype(np.float32))
    seeds[".npy"] = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, probabilities=rng.random((2, 4, 5)), label=labels[0])
    seeds[".npz"] = buffer.getvalue()
    return seeds


SEEDS = _seeds()


def mutate(content: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    data = bytearray(content)
    for position, value in edits:
        data[position % len(data)] = value
    return bytes(data[:cut] if cut is not None else data)


class Child:
    """One reader process; a hang, a crash or a non-InputError exception fails the example.

    The process reads one example after another (a process per example would make the run minutes long).
    A MemoryError in a process that has read earlier examples may come from their leftovers, so that
    example is read again in a fresh process, which alone decides.
    """

    def __init__(self) -> None:
        self.process = self._start()
        self.reads = 0

    @staticmethod
    def _start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def read(self, path: Path) -> str:
        outcome = self._read(path)
        if outcome.startswith("FAILED MemoryError") and self.reads > 1:
            self.process.kill()
            self.process, self.reads = self._start(), 0
            outcome = self._read(path)
        return outcome

    def _read(self, path: Path) -> str:
        self.reads += 1
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT_S)
        if not ready:
            self.process.kill()
            self.process = self._start()
            return f"FAILED timeout after {TIMEOUT_S} s"
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            self.process = self._start()
            return f"FAILED child died with {code}"
        return line.strip()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def child():
    reader = Child()
    yield reader
    reader.close()


def _fuzz(child: Child, tmp_path: Path, max_examples: int) -> None:
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        suffix=st.sampled_from(sorted(SEEDS)),
        inner=st.booleans(),
        edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=8),
        cut=st.none() | st.integers(0, 1 << 12),
    )
    def example(suffix: str, inner: bool, edits: list[tuple[int, int]], cut: int | None) -> None:
        content = SEEDS[suffix]
        if inner and suffix == ".nii.gz":  # mutate the NIfTI inside the gzip stream, not the stream
            content = gzip.compress(mutate(gzip.decompress(content), edits, cut))
        elif inner and suffix == ".npz":  # mutate the stored arrays, keep a valid zip around them
            buffer = io.BytesIO()
            with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(buffer, "w") as target:
                for name in source.namelist():
                    target.writestr(name, mutate(source.read(name), edits, cut))
            content = buffer.getvalue()
        else:
            content = mutate(content, edits, cut)
        path = tmp_path / f"mutated{suffix}"
        path.write_bytes(content)
        outcome = child.read(path)
        assert not outcome.startswith("FAILED"), f"{suffix} {edits} cut={cut}: {outcome}"

    example()


def test_mutated_files_give_an_image_or_an_input_error(child, tmp_path):
    _fuzz(child, tmp_path, max_examples=300)


@pytest.mark.fuzz
def test_mutated_files_give_an_image_or_an_input_error_long(child, tmp_path, request):
    if "fuzz" not in (request.config.option.markexpr or ""):
        pytest.skip("the long fuzz run: pytest -m fuzz")
    _fuzz(child, tmp_path, max_examples=5_000)
