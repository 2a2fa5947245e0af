"""Canonical URLs: two spellings of one page must become one frontier entry, and
anything that is not an absolute http(s) URL must be refused."""

from __future__ import annotations

import random

import pytest

from pipeline.errors import ConfigError
from pipeline.urls import (
    canonicalize,
    fingerprint,
    host_key,
    hostname,
    in_scope,
    redact,
    require_canonical,
    seen_entry,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # scheme and host are case-insensitive; the path is not
        ("HTTP://WWW.Example.COM/Path", "http://www.example.com/Path"),
        ("HtTpS://EXAMPLE.org/", "https://example.org/"),
        # default ports dropped, other ports kept
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        # 80 is only the default of http, 443 only of https
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        # an empty path is "/"
        ("http://example.com", "http://example.com/"),
        ("https://example.com:443", "https://example.com/"),
        # dot segments resolved
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/../../a", "http://example.com/a"),
        # fragment dropped
        ("http://example.com/page#section", "http://example.com/page"),
        ("http://example.com/page?q=1#section", "http://example.com/page?q=1"),
        # query arguments sorted; an empty query disappears
        ("http://example.com/s?b=2&a=1&c=3", "http://example.com/s?a=1&b=2&c=3"),
        ("http://example.com/s?", "http://example.com/s"),
        # percent-escapes: unreserved characters decoded, escapes upper-cased,
        # non-ASCII and spaces escaped
        ("http://example.com/%7euser/%41", "http://example.com/~user/A"),
        ("http://example.com/a%2fb", "http://example.com/a%2Fb"),
        ("http://example.com/?q=%e2%82%ac", "http://example.com/?q=%E2%82%AC"),
        ("http://example.com/caf\u00e9", "http://example.com/caf%C3%A9"),
        ("http://example.com/a b", "http://example.com/a%20b"),
        # internationalised host names become punycode
        ("http://b\u00fccher.de/", "http://xn--bcher-kva.de/"),
        # surrounding whitespace ignored
        ("  http://example.com/x \n", "http://example.com/x"),
    ],
)
def test_canonicalize(raw, expected):
    assert canonicalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://[2001:DB8::1]/", "http://[2001:db8::1]/"),
        ("http://[2001:db8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
        ("http://[::1]:80/", "http://[::1]/"),
        ("https://[::1]:443/x#y", "https://[::1]/x"),
    ],
)
def test_canonicalize_ipv6_host_keeps_brackets(raw, expected):
    assert canonicalize(raw) == expected


@pytest.mark.parametrize(
    "spellings",
    [
        ["http://example.com/", "HTTP://EXAMPLE.COM:80", "http://example.com/#top", "http://example.com/./"],
        ["https://example.com/s?a=1&b=2", "https://Example.com:443/s?b=2&a=1", "https://example.com/x/../s?a=1&b=2#f"],
        ["http://example.com/~u", "http://example.com/%7Eu", "http://example.com/%7eu"],
    ],
)
def test_spellings_of_one_page_collapse(spellings):
    assert len({canonicalize(url) for url in spellings}) == 1


def test_canonicalize_is_idempotent():
    for raw in ["HTTP://Example.com:8080/a/../b?z=1&a=2#f", "http://[::1]:80/x", "http://example.com/caf\u00e9"]:
        once = canonicalize(raw)
        assert canonicalize(once) == once


@pytest.mark.parametrize(
    "raw",
    [
        "ftp://example.com/file",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "tel:+15551234567",
        "data:text/html,hi",
        "file:///etc/passwd",
        "//example.com/protocol-relative",
        "/relative/path",
        "relative.html",
        "",
        "   ",
        "http://",
        "http:///no-host",
        "not a url at all",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://[::1/",
        "http://[not-an-address]/",
    ],
)
def test_non_http_and_garbage_give_none(raw):
    assert canonicalize(raw) is None


def test_require_canonical_returns_canonical_form():
    assert require_canonical("HTTP://Example.com:80/a#b") == "http://example.com/a"


@pytest.mark.parametrize("raw", ["example.com", "ftp://example.com/", ""])
def test_require_canonical_raises_config_error_naming_the_url(raw):
    with pytest.raises(ConfigError) as info:
        require_canonical(raw)

    assert repr(raw) in str(info.value)


@pytest.mark.parametrize(
    ("raw", "hint"),
    [("example.org", "'https://example.org'"), ("example.org/news", "'https://example.org/news'"),
     ("ftp://example.org/", None), ("localhost", None), ("not a url", None)],
)
def test_a_seed_without_a_scheme_is_refused_with_the_https_url_suggested(raw, hint):
    with pytest.raises(ConfigError) as info:
        require_canonical(raw)

    assert ("did you mean" in str(info.value)) is (hint is not None)
    if hint:
        assert str(info.value).endswith(f"(did you mean {hint}?)")


def test_fingerprint_is_8_stable_bytes():
    first = fingerprint("http://example.com/")

    assert isinstance(first, bytes)
    assert len(first) == 8
    assert fingerprint("http://example.com/") == first
    # Stable across processes and releases: the seen set in Redis outlives any worker,
    # so a changed fingerprint would make a resumed job fetch everything again.
    assert first.hex() == "fb2241160c9dad06"


def test_fingerprints_differ_for_different_urls():
    urls = [f"http://example.com/page/{i}" for i in range(2000)]

    assert len({fingerprint(url) for url in urls}) == len(urls)


def test_host_key_keeps_the_port_and_hostname_drops_it():
    assert host_key("http://example.com:8080/a") == "example.com:8080"
    assert host_key("http://example.com/a") == "example.com"
    assert hostname("http://example.com:8080/a") == "example.com"
    assert hostname("http://[::1]:8080/a") == "::1"


# --- scope -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://example.com/", "https://example.com/x", "http://example.com:8080/y", "https://EXAMPLE.com:8443/"],
)
def test_seed_hosts_match_on_any_port(url):
    assert in_scope(url, ["example.com"], [])


def test_seed_hosts_do_not_include_subdomains():
    assert not in_scope("http://www.example.com/", ["example.com"], [])
    assert not in_scope("http://example.com.evil.net/", ["example.com"], [])


@pytest.mark.parametrize(
    "url", ["http://example.org/", "http://docs.example.org/a", "https://a.b.example.org:8443/", "http://EXAMPLE.ORG/"]
)
def test_allowed_domains_include_subdomains(url):
    assert in_scope(url, ["seed.net"], ["example.org"])


@pytest.mark.parametrize(
    "url",
    [
        "http://evilexample.org/",
        "http://example.org.evil.net/",
        "http://notexample.org/",
        "http://example.org-evil.net/",
        "http://other.net/",
    ],
)
def test_allowed_domain_is_not_a_suffix_trick(url):
    assert not in_scope(url, ["seed.net"], ["example.org"])


def test_ipv6_seed_host_is_in_scope():
    assert in_scope("http://[::1]:9000/a", ["::1"], [])


def test_allowed_domain_is_case_insensitive():
    # `--allow-domain Example.ORG` names the same host as example.org; host names are
    # case-insensitive and canonical URLs are lower-case.
    assert in_scope("http://docs.example.org/", [], ["Example.ORG"])
    assert in_scope("http://example.org/", [], ["EXAMPLE.org"])


def test_a_denied_domain_is_out_with_its_subdomains_whatever_the_scope():
    for url in ("http://example.org/", "http://docs.Example.org/", "http://a.b.example.org:8443/"):
        assert not in_scope(url, ["example.org"], ["example.org"], ["EXAMPLE.org."], any_host=True)
    assert in_scope("http://notexample.org/", [], [], ["example.org"], any_host=True)


def test_any_host_is_in_scope_with_any_host():
    assert in_scope("http://elsewhere.net/", ["seed.net"], [], any_host=True)
    assert not in_scope("http://elsewhere.net/", ["seed.net"], [])


def test_session_and_tracking_parameters_are_dropped_when_asked():
    drop = ("utm_*", "sessionid", "PHPSESSID")
    url = "http://example.com/a?utm_source=x&b=2&SessionID=9&a=1&phpsessid=abc&utm_medium=y"

    assert canonicalize(url, drop) == "http://example.com/a?a=1&b=2"
    assert canonicalize("http://example.com/?utm_source=x", drop) == "http://example.com/"
    assert canonicalize(url) == "http://example.com/a?SessionID=9&a=1&b=2&phpsessid=abc&utm_medium=y&utm_source=x"


def test_long_urls_are_canonicalized_but_not_remembered():
    """A hostile page's huge hrefs must not fill the worker's cache of canonical links."""
    from pipeline import urls

    long_url = "http://a.example/?q=" + "x" * (urls.CACHED_URL_LENGTH + 1)
    long_host = "http://" + "a" * urls.CACHED_URL_LENGTH + ".example/"
    before = urls._canonical.cache_info().currsize, urls._hostname.cache_info().currsize

    assert canonicalize(long_url) == long_url and hostname(long_host) == long_host[7:-1]
    assert (urls._canonical.cache_info().currsize, urls._hostname.cache_info().currsize) == before


def test_urls_already_canonical_in_form_get_the_same_answer_as_the_full_canonicalization():
    """Plain URLs skip w3lib: over URLs made of every part that matters, the short way
    must give what the long way gives, None included."""
    from pipeline import urls

    rng = random.Random(7)
    schemes = ["http", "https"] * 3 + ["HTTP", "ftp"]
    hosts = ["a.example"] * 4 + ["A.example", "a..example", "-a.example", "a-.example", "127.0.0.1", "123",
                                 "a_b.example", "x" * 64 + ".example", "xn--bcher-kva.example", "a.example."]
    ports = [""] * 4 + [":80", ":443", ":8080", ":080", ":0", ":65536", ":99999", ":"]
    segments = ["p"] * 6 + [".", "..", ".x", "a~b_c-d.e", "", "A%7eB", "%41", "x y", "caf\u00e9", "a+b", "a;b", "a:b"]
    tails = [""] * 4 + ["?", "?b=2&a=1", "#f", "?a=1#f"]
    checked = 0
    for _ in range(20_000):
        path = "".join("/" + rng.choice(segments) for _ in range(rng.randrange(4)))
        url = f"{rng.choice(schemes)}://{rng.choice(hosts)}{rng.choice(ports)}{path}{rng.choice(tails)}"
        checked += urls._PLAIN.fullmatch(url) is not None and "/." not in url
        assert canonicalize(url) == urls._canonical.__wrapped__(url, ()), url
    assert checked > 1_000


def test_a_fingerprint_goes_to_one_of_65536_seen_sets_as_a_small_integer():
    digest = fingerprint("http://example.com/")

    bucket, entry = seen_entry(digest)

    assert len(bucket) == 4 and int(bucket, 16) == digest[0] << 8 | digest[1]
    assert 0 <= int(entry) < 2**48 and (int(bucket, 16) << 48 | int(entry)).to_bytes(8, "big") == digest


@pytest.mark.parametrize(("shards", "sets"), [(2, 32_768), (3, 16_384), (4, 16_384), (64, 1024)])
def test_a_shard_of_a_job_has_fewer_seen_sets_and_each_entry_still_names_its_url(shards, sets):
    digests = [fingerprint(f"http://example.com/{i}") for i in range(5000)]

    entries = [seen_entry(digest, shards) for digest in digests]

    low_bits = 64 - 16 + (shards - 1).bit_length()
    assert max(int(bucket, 16) for bucket, _ in entries) < sets
    assert all(int(entry) < 2**63 for _, entry in entries), "an int64: the set stays an intset"
    assert [(int(bucket, 16) << low_bits | int(entry)).to_bytes(8, "big") for bucket, entry in entries] == digests


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://postgres:topsecret@127.0.0.1:5432/test?sslmode=disable",
         "postgresql://postgres:***@127.0.0.1:5432/test?sslmode=disable"),
        ("redis://:topsecret@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("rediss://default:top@secret@redis.example:6380", "rediss://default:***@redis.example:6380"),
        ("seed failed: socks5://me:topsecret@proxy:1080 refused; amqp://guest:topsecret@mq//",
         "seed failed: socks5://me:***@proxy:1080 refused; amqp://guest:***@mq//"),
        ("postgresql://db/test?user=crawler&password=topsecret", "postgresql://db/test?user=crawler&password=***"),
        ("s3://bucket/warc?endpoint=http://minio:9000&secret_key=topsecret",
         "s3://bucket/warc?endpoint=http://minio:9000&secret_key=***"),
    ],
)
def test_redact_hides_every_password_and_keeps_the_rest(text, shown):
    assert redact(text) == shown
    assert "topsecret" not in redact(text)


@pytest.mark.parametrize("text", ["http://user@example.org/", "sqlite:///crawl.db", "no URL here: a:b@c"])
def test_redact_leaves_text_without_a_password_as_it_is(text):
    assert redact(text) == text


def test_a_host_the_url_standard_reads_as_an_ipv4_address_takes_the_long_way():
    """w3lib 2.6 respells such hosts (`123` as `0.0.0.123`) or refuses them (`a.123`);
    the short way must not keep them as they are, whichever w3lib is installed."""
    from pipeline import urls

    for url in ["http://123/p", "http://127.1/", "http://0x7f.1/", "http://a.123/", "http://1.2.3.04/"]:
        assert canonicalize(url) == urls._canonical.__wrapped__(url, ()), url
    assert urls._respelled_ipv4("127.0.0.1") is False and urls._respelled_ipv4("123.example") is False
    assert canonicalize("http://127.0.0.1:8080/p") == "http://127.0.0.1:8080/p"
