"""``python -m buttress`` runs the CLI."""

from buttress.cli import run

run()
