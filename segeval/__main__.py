"""``python -m segeval`` and the ``segeval`` console script.

:func:`main` imports the command-line interface itself, so that Ctrl-C while the libraries load
(start-up) exits 130 with one line, like Ctrl-C during a run, never with a traceback.

Once the command has finished (its reports written and closed), the process ends without the
interpreter's teardown: freeing the modules of torch and pandas one by one costs 0.3–1 s of CPU per
command on a 2-core machine (benchmarks/RESULTS.md) and changes nothing the user sees. The exit handlers
(temporary folders, logging, Dask) still run, and the standard streams are flushed, first.
"""

import atexit
import os
import sys
import threading


def main() -> None:
    """Run the ``segeval`` command; Ctrl-C exits 130 with ``interrupted`` on stderr."""
    _end_process(_run_command())


def _run_command() -> int:
    """The command's exit status (the CLI ends with ``SystemExit`` carrying it)."""
    try:
        from segeval.cli import app

        app(prog_name="segeval")
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except SystemExit as stop:
        return 0 if stop.code is None else int(stop.code)
    return 0


def _end_process(code: int) -> None:
    """Exit with ``code``: run the exit handlers, flush stdout and stderr, then skip the teardown.

    Python's ordinary exit is kept while a thread is still working (none is, after a command), and under a
    profiler, debugger or coverage tool (a profile or trace function is set), which report once ``main`` returns.
    """
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    atexit._run_exitfuncs()  # what Python runs at exit, before its teardown
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be shown
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
