FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY tasks ./tasks
RUN pip install --no-cache-dir . && useradd --create-home crawler
USER crawler
CMD ["celery", "-A", "tasks", "worker", "-Q", "fetch,parse,store", "--loglevel", "INFO"]
