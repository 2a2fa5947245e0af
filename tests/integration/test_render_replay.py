"""A rendered page replays in pywb with its scripts: `crawler crawl --render always --warc
DIR` over the JS site (tests/integration/js_site.py), the site then stopped, the WARC
files put in a pywb collection, and the replayed home page loaded in Chromium. Its script
fetches /links.json, a request the crawler's browser made and archived as request and
response records; pywb must serve it from the archive for the page to draw its link."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from pipeline.render.browser import LAUNCH_ARGS
from pipeline.settings import Settings
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import assert_nothing_left, cli_env, crawl_ok, kill_leftovers
from tests.integration.conftest import flushed_test_redis
from tests.integration.js_site import HOME, js_host
from tests.integration.replay import collection, get, pywb_bin, tail, wayback
from tests.integration.site import Host

pytestmark = pytest.mark.integration

# The crawler's launch flags but its dead proxy: this browser talks to pywb on loopback.
REPLAY_ARGS = [arg for arg in LAUNCH_ARGS if not arg.startswith(("--proxy-server", "--proxy-bypass-list"))]


@pytest.fixture
def archived(tmp_path: Path) -> Iterator[tuple[Host, list[str]]]:
    """The JS site crawled with every page rendered and WARC on, then stopped: the site
    (its URLs) and the closed WARC files."""
    client = flushed_test_redis()
    site = js_host().start()
    warc_dir = tmp_path / "warc"
    env = cli_env(TEST_REDIS_URL)
    for name in [name for name in env if name.startswith("CRAWLER_WARC_") or name == "CRAWLER_S3_ENDPOINT_URL"]:
        del env[name]
    try:
        crawl_ok(tmp_path, site.url("/"), "--job", "replay", "--warc", str(warc_dir), "--allow-private",
                 "--delay", "0", "--render", "always", "--workers", "1", env=env)
        assert_nothing_left(tmp_path)  # the workers shut down: that is when files are closed
    finally:
        kill_leftovers(tmp_path)
        site.stop()
        client.flushdb()
        client.close()
    yield site, sorted(str(path) for path in warc_dir.glob("*.warc.gz"))


def test_pywb_replays_a_rendered_page_with_the_data_its_script_fetched(archived, tmp_path: Path) -> None:
    site, files = archived
    bin_dir = pywb_bin()
    replay = tmp_path / "replay"
    replay.mkdir()
    collection(replay, bin_dir, files)

    with wayback(replay, bin_dir) as port:
        log = replay / "wayback.log"
        status, _, body = get(port, f"/coll/id_/{site.url('/links.json')}")
        assert (status, json.loads(body)) == (200, {"links": ["/articles/1"]}), tail(log)
        status, _, body = get(port, f"/coll/id_/{site.url('/')}")
        assert (status, body.decode()) == (200, HOME), "the page as fetched, its script in it, not the rendered DOM"

        answers: list[tuple[str, int]] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=Settings().browser_path, args=REPLAY_ARGS)
            try:
                page = browser.new_page()
                page.on("response", lambda response: answers.append((response.url, response.status)))
                # As a person opens it: pywb's banner, the page replayed in its iframe.
                page.goto(f"http://127.0.0.1:{port}/coll/{site.url('/')}", wait_until="load")
                links = page.frame_locator("#replay_iframe").locator("#nav a")
                links.first.wait_for(timeout=15_000)
                drawn = [(link.text_content(), link.get_attribute("href")) for link in links.all()]
            finally:
                browser.close()

    data = [(url, status) for url, status in answers if url.endswith("mp_/" + site.url("/links.json"))]
    assert data and all(status == 200 for _, status in data), (answers, tail(log))
    assert all(url.startswith(f"http://127.0.0.1:{port}/") for url, _ in answers), "only pywb was asked"
    # One link: the page replayed is the response, not its rendered DOM (which has the
    # link already, and would get a second one from the script).
    (link,) = drawn
    assert link[0] == "/articles/1" and link[1].endswith("mp_/" + site.url("/articles/1")), drawn
