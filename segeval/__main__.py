"""``python -m segeval`` runs the command-line interface."""

from segeval.cli import app

app(prog_name="segeval")
