"""Failover within one exchange: the proxy's own failures bench it and the next one is
tried; the site's failures are the site's; past the deadline, the error says whose fault."""

from __future__ import annotations

import io
import time

import pytest
import requests

from pipeline.fetch.deadline import deadline
from pipeline.fetch.errors import EgressUnavailable, TransientFetchError
from pipeline.fetch.failover import Failover
from pipeline.fetch.proxies import ProxyRotation, parse_proxy

FIRST, SECOND = parse_proxy("http://one.example:3128"), parse_proxy("http://two.example:3128")


def _rotation() -> ProxyRotation:
    return ProxyRotation([FIRST, SECOND], cooldown=60.0)


def _response(status: int, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.raw = io.BytesIO()
    response.headers.update(headers or {})
    return response


def test_a_proxy_refusing_our_credentials_is_benched_and_the_next_one_tried():
    rotation = _rotation()
    failover = Failover(rotation)

    proxy = failover.pick()
    refused = _response(407, {"Proxy-Authenticate": "Basic"})

    assert proxy == FIRST and not failover.answered(proxy, "http://a.example/", refused)
    assert failover.pick() == SECOND and failover.pick() == SECOND, "the first is benched"
    assert failover.answered(SECOND, "http://a.example/", _response(200))


def test_a_407_through_a_tunnel_is_the_sites_answer():
    failover = Failover(_rotation())

    assert failover.answered(FIRST, "https://a.example/", _response(407, {"Proxy-Authenticate": "Basic"}))


def test_only_the_proxys_own_connection_failures_bench_it():
    rotation = _rotation()
    failover = Failover(rotation)

    with pytest.raises(TransientFetchError, match="CONNECT: 502"):
        failover.unreachable(FIRST, requests.exceptions.ProxyError("Tunnel connection failed: 502 Bad Gateway"))
    site = requests.ConnectionError("connection refused")
    with pytest.raises(requests.ConnectionError) as raised:
        failover.unreachable(FIRST, site)
    assert raised.value is site
    assert [rotation.pick(), rotation.pick()] == [FIRST, SECOND], "no proxy benched"

    failover.unreachable(FIRST, requests.exceptions.ProxyError("cannot connect to proxy"))
    assert [rotation.pick(), rotation.pick()] == [SECOND, SECOND]


def test_past_the_deadline_the_error_says_whose_fault_it_was():
    with deadline(0.01):
        time.sleep(0.02)
        with pytest.raises(TransientFetchError, match="download deadline exceeded"):
            Failover(_rotation()).pick()
        benched = Failover(_rotation())
        benched.unreachable(FIRST, requests.exceptions.ProxyError("cannot connect to proxy"))
        with pytest.raises(EgressUnavailable):
            benched.pick()
