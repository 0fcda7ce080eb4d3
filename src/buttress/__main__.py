"""``python -m buttress`` runs the CLI."""

from buttress._entry import run

run()
