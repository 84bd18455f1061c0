"""Subcommands of the `flowc` CLI, one module each (see `flowc/cli.py`)."""
