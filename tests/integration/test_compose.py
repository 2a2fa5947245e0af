"""docker-compose.yml is valid as Docker reads it (no engine needed for `config`), and it
will not start a Redis, PostgreSQL, Flower or Grafana without their secrets. Its render
workers take the render queue, in the Dockerfile's image with Chromium, beside workers
that take the other queues."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SECRETS = {
    "CRAWLER_REDIS_PASSWORD": "redis-pw",
    "CRAWLER_POSTGRES_PASSWORD": "pg-pw",
    "CRAWLER_FLOWER_USER": "admin",
    "CRAWLER_FLOWER_PASSWORD": "flower-pw",
    "CRAWLER_GRAFANA_PASSWORD": "grafana-pw",
}


def _compose() -> list[str]:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        pytest.fail("the docker client is here but no compose: install docker-compose (.ci/run does)")
    pytest.skip("no docker client on this machine")


def _config(**env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in SECRETS}
    environ.update(env)
    return subprocess.run([*_compose(), "config"], cwd=REPO, env=environ, capture_output=True, text=True, timeout=60)


def test_the_compose_file_is_valid_and_wires_every_service_to_the_same_secrets():
    result = _config(**SECRETS)

    assert result.returncode == 0, result.stderr
    config = result.stdout
    for service in ("redis:", "postgres:", "worker:", "render:", "beat:", "flower:", "metrics:", "prometheus:",
                    "grafana:"):
        assert service in config
    assert "GF_SECURITY_ADMIN_PASSWORD: grafana-pw" in config and 'GF_AUTH_ANONYMOUS_ENABLED: "false"' in config
    assert "redis://:redis-pw@redis:6379/0" in config and "postgresql://crawler:pg-pw@postgres:5432/crawl" in config
    assert "appendonly" in config and "noeviction" in config
    assert "127.0.0.1" in config and "CRAWLER_FLOWER_PASSWORD: flower-pw" in config


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_nothing_starts_without_its_secret(missing):
    result = _config(**{k: v for k, v in SECRETS.items() if k != missing})

    assert result.returncode != 0 and missing in result.stderr


def _queues(command: str | list[str]) -> set[str]:
    words = shlex.split(command) if isinstance(command, str) else command
    return set(words[words.index("-Q") + 1].split(","))


def test_a_render_worker_takes_the_render_queue_in_the_image_with_chromium():
    result = _config(**SECRETS)

    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    render, worker = services["render"], services["worker"]
    assert _queues(render["command"]) == {"render"}
    assert _queues(worker["command"]) == {"fetch", "parse", "store"}, "the plain image has no Chromium"
    assert render["environment"] == worker["environment"], "the same Redis and store"
    assert render["build"]["target"] == "render" and render["init"] is True
    assert render["shm_size"] not in (None, "64m"), "Chromium's shared memory needs more than Docker's default"
    stages = re.split(r"^FROM ", (REPO / "Dockerfile").read_text(), flags=re.M)
    (stage,) = [text for text in stages if text.split("\n", 1)[0].endswith(" AS render")]
    assert re.search(r"apt-get install .*\bchromium\b", stage), stage
