"""``python -m segeval`` and the ``segeval`` console script.

:func:`main` imports the command-line interface itself, so that Ctrl-C while the libraries load
(start-up) exits 130 with one line, like Ctrl-C during a run, never with a traceback.
"""

import sys


def main() -> None:
    """Run the ``segeval`` command; Ctrl-C exits 130 with ``interrupted`` on stderr."""
    try:
        from segeval.cli import app

        app(prog_name="segeval")
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
