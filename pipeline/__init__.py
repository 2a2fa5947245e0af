"""The crawl in plain Python: URLs, fetching, parsing, robots, the Redis frontier,
politeness and storage. Nothing here imports Celery, so it can be read and tested alone;
``tasks/`` wires it into Celery."""

__version__ = "0.1.0"
