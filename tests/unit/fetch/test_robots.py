"""robots.txt per RFC 9309: 2xx is obeyed, 4xx allows everything, 5xx/429/no answer
disallows everything for a while. Sharing it between workers is tested on a real Redis
in tests/integration/test_robots.py."""

from __future__ import annotations

import pytest
from protego import Protego

from pipeline.fetch.robots import DISALLOW_ALL, UNAVAILABLE_TTL, site_of, verdict
from pipeline.settings import Policy

POLICY = Policy(user_agent="testbot/1.0", robots_ttl=3600)
ROBOTS_TXT = """
User-agent: *
Disallow: /private/

User-agent: testbot
Disallow: /no-testbot/
"""


def test_2xx_file_is_obeyed_for_our_user_agent():
    body, ttl = verdict(200, ROBOTS_TXT, POLICY)
    parser = Protego.parse(body)

    assert ttl == 3600
    assert parser.can_fetch("http://example.com/public", POLICY.user_agent)
    assert not parser.can_fetch("http://example.com/no-testbot/x", POLICY.user_agent)
    # our own group replaces the "*" group, as RFC 9309 says
    assert parser.can_fetch("http://example.com/private/x", POLICY.user_agent)


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_4xx_allows_everything(status):
    body, ttl = verdict(status, "User-agent: *\nDisallow: /\n", POLICY)

    assert Protego.parse(body).can_fetch("http://example.com/anything", POLICY.user_agent)
    assert ttl == 3600


@pytest.mark.parametrize("status", [429, 500, 503, None])
def test_unavailable_robots_disallows_everything_for_a_while(status):
    body, ttl = verdict(status, "", POLICY)

    assert body == DISALLOW_ALL
    assert not Protego.parse(body).can_fetch("http://example.com/", POLICY.user_agent)
    assert ttl == UNAVAILABLE_TTL


def test_each_scheme_host_and_port_is_its_own_site():
    assert site_of("http://example.com/a?b") == "http://example.com"
    assert site_of("http://example.com:8080/") == "http://example.com:8080"
    assert site_of("https://example.com/") == "https://example.com"
