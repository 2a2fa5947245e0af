FROM python:3.11-slim AS crawler
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY tasks ./tasks
RUN pip install --no-cache-dir . && useradd --create-home crawler
USER crawler
CMD ["celery", "-A", "tasks", "worker", "-Q", "fetch,parse,store", "--loglevel", "INFO"]

# The render worker's image (`--target render`): the same with Debian's Chromium, which
# Playwright drives at /usr/bin/chromium (docs/render.md); a worker of the render queue.
FROM crawler AS render
USER root
RUN apt-get update && apt-get install -y --no-install-recommends chromium && rm -rf /var/lib/apt/lists/*
USER crawler
CMD ["celery", "-A", "tasks", "worker", "-Q", "render", "-P", "prefork", "-c", "2", "--loglevel", "INFO"]

# Built without --target, the image is the plain worker's, without Chromium.
FROM crawler
