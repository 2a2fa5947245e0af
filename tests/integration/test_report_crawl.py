"""A real crawl's report: `crawler crawl` writes it at the end, `crawler report` makes
it again from the store alone; its numbers are the store's, it references nothing
outside the file, and headless Chromium renders it with every chart drawn, readable
for a crawl of a second: several bars over time, none too thin to see, a page margin."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from pipeline.fetch import BLOCKED
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env, crawl_ok, crawler, describe, export_jsonl

pytestmark = pytest.mark.integration


def _png_pixels(path: Path) -> bytes:
    """The PNG's image data, decompressed (still filtered per row): enough to tell a blank
    picture, whose bytes are nearly all one value, from a drawn one."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks, offset = [], 8
    while offset < len(data):
        (length,), kind = struct.unpack(">I", data[offset:offset + 4]), data[offset + 4:offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8:offset + 8 + length])
        offset += 12 + length
    return zlib.decompress(b"".join(chunks))


# Run in Chromium on a copy of the report (the report itself has no script): the size on
# screen of each section's bars and where the page's text begins.
_MEASURE = """<script>
const bars = {};
for (const section of document.querySelectorAll("section")) {
  bars[section.id] = [...section.querySelectorAll(".bar rect")].map(rect => {
    const box = rect.getBoundingClientRect();
    return [box.width, box.height];
  });
}
const left = document.querySelector("h1").getBoundingClientRect().left;
document.body.insertAdjacentHTML("beforeend", `<pre id="measured">${JSON.stringify({bars, left})}</pre>`);
</script>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    pytest.fail("the report test needs Chromium: apt-get install chromium (.ci/run does)")


def test_a_crawl_writes_a_report_and_crawler_report_makes_it_again_from_the_store(workdir, site, redis_client):
    env = cli_env(TEST_REDIS_URL)
    job, result = crawl_ok(workdir, site.a.url("/"), "--allow-domain", "127.0.0.2", "--allow-private", "--delay",
                           "0", "--workers", "2", env=env)
    written = workdir / f"report-{job}.html"
    assert f"report: {written}" in " ".join(result.stdout.split()), describe(result, workdir)
    records = export_jsonl(workdir, job, env=env)

    again = crawler(workdir, "report", "--job", job, "--output", "again.html", env=env)

    assert again.returncode == 0 and again.stdout.strip() == str(workdir / "again.html"), describe(again, workdir)
    text = (workdir / "again.html").read_text(encoding="utf-8")
    page = BeautifulSoup(text, "lxml")
    headline = {div["id"]: div.b.get_text() for div in page.find(id="headline").find_all("div")}
    disallowed = sum(1 for record in records if record["error"] == BLOCKED and record["status"] is None)
    failed = sum(1 for record in records if record["error"]) - disallowed
    assert (headline["pages"], headline["failed"], headline["disallowed"]) == (
        str(len(records)), str(failed), str(disallowed))
    assert headline["ok"] == str(len(records) - failed - disallowed)
    sections = [section["id"] for section in page.find_all("section")]
    assert {"timeline", "statuses", "content-types", "depths", "elapsed", "hosts", "errors"} <= set(sections)
    hosts = page.find(id="hosts").get_text(" ")
    assert "127.0.0.1:" in hosts and "127.0.0.2:" in hosts
    errors = page.find(id="errors").get_text(" ")
    assert "HTTP 404" in errors and "blocked by robots.txt" in errors
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)

    chromium = _chromium()
    shot = workdir / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1500,2600", f"--user-data-dir={workdir}/c"]
    url = (workdir / "again.html").as_uri()
    subprocess.run([chromium, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    measured = workdir / "measured.html"
    measured.write_text(text.replace("</body>", f"{_MEASURE}</body>"), encoding="utf-8")
    dom = subprocess.run([chromium, *flags, "--dump-dom", measured.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert len(set(_png_pixels(shot))) > 16, "the screenshot is blank"
    rendered = BeautifulSoup(dom, "lxml")
    assert [len(section.find_all("svg")) for section in rendered.find_all("section")] == [1] * len(sections)
    sizes = json.loads(rendered.find(id="measured").get_text())
    span = max(record["fetched_at"] for record in records), min(record["fetched_at"] for record in records)
    assert len(sizes["bars"]["timeline"]) > 1, f"one bar for a crawl from {span[1]} to {span[0]}"
    thinnest = min(min(width, height) for bars in sizes["bars"].values() for width, height in bars)
    assert thinnest >= 2, f"a bar {thinnest:.1f} px thin: {sizes['bars']}"
    assert sizes["left"] >= 16, "the page has no margin"
