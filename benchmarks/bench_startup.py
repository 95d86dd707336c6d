"""Start-up time of the ``segeval`` command: ``--version``, ``--help`` and ``import segeval``.

Whole process, wall time, median of ``--repeats`` runs (the first run warms the file cache and is dropped).
``--source DIR`` times another checkout of segeval (e.g. an older commit in a git worktree) by putting
it first on ``PYTHONPATH`` (commands run in a temporary folder, so the current folder does not shadow it):
before/after figures come from the same interpreter and machine.

    python benchmarks/bench_startup.py                       # this checkout
    python benchmarks/bench_startup.py --source /tmp/old     # another checkout
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "segeval --version": [sys.executable, "-m", "segeval", "--version"],
    "segeval --help": [sys.executable, "-m", "segeval", "--help"],
    "import segeval": [sys.executable, "-c", "import segeval"],
    "python (no segeval)": [sys.executable, "-c", "pass"],
}


def median_seconds(command: list[str], repeats: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        subprocess.run(
            command,
            env=env,
            cwd=tempfile.gettempdir(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--source", help="a segeval checkout to time instead of the installed one")
    args = parser.parse_args()
    env = dict(os.environ, COLUMNS="100")
    if args.source:
        env["PYTHONPATH"] = args.source
    for name, command in COMMANDS.items():
        print(f"| {name} | {median_seconds(command, args.repeats, env):.3f} s |", flush=True)


if __name__ == "__main__":
    main()
