"""The `crawler` command: a whole crawl on one machine, and the commands that seed, watch and export jobs."""

from tasks.cli.main import main

__all__ = ["main"]
