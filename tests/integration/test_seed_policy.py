"""Following an error's hint works on the same job: a seed that failed for a reason a
flag lifts (its address refused, robots.txt) is fetched when the command runs again
with that flag, and a finished job run again with the same flags stays finished."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli import CRAWL_TIMEOUT, crawler, describe, records
from tests.integration.site import Host, Response, page

CASES = {
    "address refused": ([], ["--allow-private"], "address not allowed", "--allow-private"),
    "robots.txt": (["--allow-private"], ["--allow-private", "--no-robots"], "blocked by robots.txt", None),
}


@pytest.mark.parametrize("case", CASES)
def test_a_failed_seed_is_fetched_when_the_flag_that_lifts_its_failure_is_given(workdir: Path, case: str) -> None:
    first_flags, second_flags, reason, hint = CASES[case]
    site = Host("127.0.0.1")
    if case == "robots.txt":
        site.routes["/robots.txt"] = Response(body="User-agent: *\nDisallow: /\n", content_type="text/plain")
    site.routes["/"] = page("home", ["/a"])
    site.routes["/a"] = page("a")
    site.start()
    try:
        def crawl(flags: list[str]):
            return crawler(workdir, "crawl", site.url("/"), "--job", "site", "--delay", "0", *flags,
                           timeout=CRAWL_TIMEOUT)

        refused = crawl(first_flags)
        assert refused.returncode == 1, describe(refused, workdir)
        assert reason in refused.stdout + refused.stderr
        if hint:
            assert hint in refused.stdout + refused.stderr, "the message names the flag that will work"

        fixed = crawl(second_flags)
        assert fixed.returncode == 0, describe(fixed, workdir)
        assert {(r.url, r.status, r.error) for r in records(workdir, "site")} == {
            (site.url("/"), 200, None), (site.url("/a"), 200, None),
        }

        again = crawl(second_flags)
        assert again.returncode == 0, describe(again, workdir)
        assert "had already finished" in again.stdout + again.stderr, describe(again, workdir)
        assert site.requests()["/"] == 1, "the page is fetched once, by the run whose flag allowed it"
    finally:
        site.stop()
