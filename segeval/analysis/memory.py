"""Peak memory of one forward + backward pass of a loss.

Three counters, chosen by device:

- **CUDA**: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``, minus the memory
  allocated before the pass (inputs and module buffers are not counted): the peak of the caching
  allocator's *allocated* bytes, not of its reserved pool.
- **CPU, torch tensors**: the memory events of :class:`torch.profiler.profile` with
  ``profile_memory=True`` (every allocation and free of torch's CPU allocator, in time order); the
  peak is the running maximum of allocated minus freed bytes during the pass. ``tracemalloc`` does
  not see these allocations, and RSS deltas miss memory that the C allocator reuses.
- **NumPy/SciPy** (both devices): ``tracemalloc``'s peak during the pass, which covers the arrays of
  the CPU distance transforms.

``peak_mb`` is the sum of the torch and NumPy peaks (an upper bound of the combined peak, since the
two need not occur at the same moment). Values are MiB.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["MemoryPeak", "measure_peak"]

MIB = float(1 << 20)


@dataclass
class MemoryPeak:
    """Peaks of one pass, in MiB; ``method`` names the torch counter used."""

    torch_mb: float
    numpy_mb: float
    method: str

    @property
    def total_mb(self) -> float:
        return self.torch_mb + self.numpy_mb


@contextlib.contextmanager
def _quiet_native_stderr():
    """Send file descriptor 2 to /dev/null for a moment: the profiler's native library logs there."""
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _profiled_cpu_peak(run: Callable[[], None]) -> float:
    from torch.profiler import ProfilerActivity, profile

    with _quiet_native_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = [
        e
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and "cpu" in str(e.device_type()).lower()
    ]
    current = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        current += event.nbytes()
        peak = max(peak, current)
    return peak / MIB


def _numpy_peak(run: Callable[[], None]) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def measure_peak(run: Callable[[], None], device: torch.device) -> MemoryPeak:
    """Peak memory of ``run()`` (one forward + backward) on ``device`` (module docstring).

    ``run`` is called twice: once under ``tracemalloc`` alone, once under the torch counter (the
    profiler's own Python objects would otherwise count as NumPy memory).
    """
    numpy_mb = _numpy_peak(run)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run()
        torch.cuda.synchronize(device)
        return MemoryPeak(
            (torch.cuda.max_memory_allocated(device) - before) / MIB, numpy_mb, "torch.cuda.max_memory_allocated"
        )
    try:
        return MemoryPeak(_profiled_cpu_peak(run), numpy_mb, "torch.profiler memory events (CPU allocator)")
    except (AttributeError, RuntimeError):  # the profiler's internals differ in this torch build
        return MemoryPeak(math.nan, numpy_mb, "unavailable")
