"""A host name that does not resolve is `DNS lookup failed`, not retried, however the name
was looked up: by the address guard, or by urllib3 for a job that allows private
addresses; and a robots.txt whose host does not resolve says so rather than being taken
as unavailable. The lookup is made to fail here, so no resolver is asked."""

from __future__ import annotations

import socket

import pytest

from pipeline.fetch import Fetcher
from pipeline.fetch.errors import PermanentFetchError, TransientFetchError
from pipeline.settings import Policy

URL = "http://no-such-host.invalid/"


def _failing_lookup(errno: int):
    def lookup(host, *args, **kwargs):
        raise socket.gaierror(errno, "lookup failed")

    return lookup


@pytest.fixture(params=[False, True], ids=["guarded", "allow-private"])
def policy(request) -> Policy:
    return Policy(allow_private=request.param, timeout=2, download_deadline=3)


def test_a_name_that_does_not_exist_is_a_permanent_dns_failure(monkeypatch, policy):
    monkeypatch.setattr(socket, "getaddrinfo", _failing_lookup(socket.EAI_NONAME))

    with pytest.raises(PermanentFetchError) as info:
        Fetcher().fetch(URL, policy)

    assert info.value.reason == "DNS lookup failed"


def test_a_resolver_that_did_not_answer_is_a_transient_dns_failure(monkeypatch, policy):
    monkeypatch.setattr(socket, "getaddrinfo", _failing_lookup(socket.EAI_AGAIN))

    with pytest.raises(TransientFetchError) as info:
        Fetcher().fetch(URL, policy)

    assert info.value.reason == "DNS lookup failed temporarily"


def test_robots_txt_of_a_name_that_does_not_exist_raises_as_the_page_would(monkeypatch, policy):
    monkeypatch.setattr(socket, "getaddrinfo", _failing_lookup(socket.EAI_NONAME))

    with pytest.raises(PermanentFetchError) as info:
        Fetcher().get_text(URL + "robots.txt", policy, 1000)

    assert info.value.reason == "DNS lookup failed"
