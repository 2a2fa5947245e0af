"""URL canonicalization, fingerprints and scope, and URLs made safe to print.

Two spellings of one page must collapse to one frontier entry, so every URL is put in
canonical form (w3lib, plus default ports dropped) before it is fingerprinted, scheduled
or stored. The URLs of the crawler's own services (store, Redis, broker, proxies) may
carry a password, so whatever the crawler prints or logs goes through `redact` first.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url

from pipeline.errors import ConfigError

SCHEMES = frozenset({"http", "https"})
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Links repeat from page to page (navigation, footers, indexes): a worker remembers the
# canonical form of this many recent ones (a few MB) instead of working it out again.
# Longer URLs (a data: href, a trap) are worked out each time, so that a hostile page
# cannot fill the memory with them.
CANONICAL_CACHE_SIZE = 16_384
CACHED_URL_LENGTH = 2048
# High bits of a URL fingerprint that pick its seen set (see `seen_entry`).
SEEN_BUCKET_BITS = 16
# A URL already in the form canonicalization gives (lower-case http(s) host, a path of
# unreserved characters, no query or fragment, no dot segment) is only checked, by this
# expression and the host's labels: most seeds and links are like that, and taking each
# apart and putting it together again was most of what seeding cost (64% of it for
# plain URLs).
_PLAIN = re.compile(r"(https?)://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::([0-9]{1,5}))?(/[A-Za-z0-9._~/-]*)?")
_HEX = frozenset("0123456789abcdef")
_NETLOC = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
# The password of a URL's user information (`scheme://user:PASSWORD@host`), wherever a
# URL appears in a text, and query parameters whose value is a secret
# (`?password=…`, as PostgreSQL and S3 URLs allow).
_USERINFO_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):[^/?#\s]*@")
_SECRET_PARAM = re.compile(
    r"([?&](?:password|passwd|pwd|secret|token|secret_key|access_key|aws_secret_access_key|sslpassword)=)[^&#\s]*",
    re.IGNORECASE,
)
REDACTED = "***"


def canonicalize(url: str, drop_params: Iterable[str] = ()) -> str | None:
    """The canonical form of an absolute http(s) URL, or None when it is not one.

    `drop_params` names query parameters that never change the page (session ids,
    tracking tags); a name ending in ``*`` is a prefix. Dropping them keeps one page
    from becoming endless URLs."""
    plain = _PLAIN.fullmatch(url)
    if plain is not None and "/." not in url and not _respelled_ipv4(plain.group(2)):
        return _plain(*plain.groups())
    if len(url) > CACHED_URL_LENGTH:
        return _canonical.__wrapped__(url, tuple(drop_params))
    return _canonical(url, tuple(drop_params))


def _respelled_ipv4(host: str) -> bool:
    """Whether the URL standard reads `host` as an IPv4 address spelled otherwise than as
    its canonical dotted quad (`123`, `127.1`, `0x7f.1`, `a.123`): its last label is a
    number. w3lib follows the standard from 2.6 on (`123` becomes `0.0.0.123`, `a.123` is
    refused), so such a host takes the long way, whatever w3lib makes of it."""
    last = host.rsplit(".", 1)[-1]
    if not (last.isdigit() or (last[:2] == "0x" and all(c in _HEX for c in last[2:]))):
        return False
    try:
        return str(ipaddress.IPv4Address(host)) != host
    except ValueError:
        return True


def _plain(scheme: str, host: str, port: str | None, path: str | None) -> str | None:
    if not _valid_host(host):
        return None
    netloc = host
    if port is not None:
        number = int(port)
        if number > 65535:
            return None
        if number != _DEFAULT_PORTS[scheme]:
            netloc = f"{host}:{number}"
    return f"{scheme}://{netloc}{path or '/'}"


@lru_cache(maxsize=CANONICAL_CACHE_SIZE)
def _canonical(url: str, drop_params: tuple[str, ...]) -> str | None:
    try:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in SCHEMES or not parts.hostname:
            return None
        port = parts.port
        canonical = urlsplit(canonicalize_url(url.strip()))
    except (ValueError, UnicodeError):
        return None
    netloc = canonical.hostname or ""
    if not _valid_host(netloc):
        return None
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None and port != _DEFAULT_PORTS[canonical.scheme]:
        netloc = f"{netloc}:{port}"
    query = _without_params(canonical.query, drop_params) if drop_params else canonical.query
    return urlunsplit((canonical.scheme, netloc, canonical.path or "/", query, ""))


@lru_cache(maxsize=CANONICAL_CACHE_SIZE)
def _valid_host(host: str) -> bool:
    """An IP literal or a DNS name of sane labels: anything else cannot be fetched and
    would only fail deep inside the HTTP stack."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return len(host) <= 253 and all(_LABEL.fullmatch(label) for label in host.rstrip(".").split("."))


def _without_params(query: str, drop: tuple[str, ...]) -> str:
    exact, prefixes = _dropped_names(drop)

    def kept(pair: str) -> bool:
        name = pair.split("=", 1)[0].lower()
        return name not in exact and not (prefixes and name.startswith(prefixes))

    return "&".join(pair for pair in query.split("&") if pair and kept(pair))


@lru_cache(maxsize=64)
def _dropped_names(drop: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Exact names and prefixes (`name*`) of the parameters to drop, lower-cased."""
    exact = frozenset(name.lower() for name in drop if not name.endswith("*"))
    return exact, tuple(name[:-1].lower() for name in drop if name.endswith("*"))


def require_canonical(url: str, drop_params: Iterable[str] = ()) -> str:
    """Like `canonicalize`, but a bad seed is the user's mistake and says so."""
    canonical = canonicalize(url, drop_params)
    if canonical is None:
        hint = _scheme_hint(url)
        raise ConfigError(f"not an absolute http(s) URL: {url!r}" + (f" (did you mean {hint!r}?)" if hint else ""))
    return canonical


def _scheme_hint(url: str) -> str | None:
    """`https://example.org/` for a bare `example.org` (or `example.org/path`), when that
    is a URL; None when the scheme is not what is missing."""
    if "://" in url or not url.strip():
        return None
    guess = f"https://{url.strip()}"
    return guess if canonicalize(guess) is not None and "." in hostname(guess) else None


def fingerprint(url: str) -> bytes:
    """8 bytes identify a canonical URL."""
    return hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest()


def seen_entry(digest: bytes, shards: int = 1) -> tuple[str, str]:
    """Where a fingerprint goes in the seen sets: its high SEEN_BUCKET_BITS name the set,
    the other bits, as a decimal integer, are the member. Sets of small integers stay
    intsets in Redis, 8 bytes a member, where one set of 8-byte strings costs ~48 bytes a
    member; the 65,536 sets keep that up to set-max-intset-entries (512) each, 33M URLs.
    A job of several frontier shards has fewer sets in each shard (a bit less per
    doubling), as full as one shard's would be; the member keeps the bits the set lost."""
    value = int.from_bytes(digest, "big")
    low_bits = 8 * len(digest) - SEEN_BUCKET_BITS + (shards - 1).bit_length()
    return format(value >> low_bits, "04x"), str(value & ((1 << low_bits) - 1))


def host_key(url: str) -> str:
    """The politeness unit: host and port, as in the canonical URL (read off its start:
    every link of every page asks)."""
    start = _NETLOC.match(url)
    return start.group(1) if start is not None else urlsplit(url).netloc


def hostname(url: str) -> str:
    netloc = host_key(url)
    return _hostname(netloc) if len(netloc) <= CACHED_URL_LENGTH else _hostname.__wrapped__(netloc)


@lru_cache(maxsize=CANONICAL_CACHE_SIZE)
def _hostname(netloc: str) -> str:
    return urlsplit("//" + netloc).hostname or ""


def in_scope(
    url: str, scope_hosts: Iterable[str], allowed_domains: Iterable[str], denied_domains: Iterable[str] = (),
    any_host: bool = False,
) -> bool:
    """Denied domains are out, with their subdomains, whatever the scope; else every host
    is in with `any_host`; else seed hosts match exactly (any port) and allowed domains
    with their subdomains. Every link of every page is checked, so the answer is kept
    per host name."""
    return _name_in_scope(
        hostname(url).rstrip("."), tuple(scope_hosts), tuple(allowed_domains), tuple(denied_domains), any_host
    )


@lru_cache(maxsize=CANONICAL_CACHE_SIZE)
def _name_in_scope(
    name: str, scope_hosts: tuple[str, ...], allowed_domains: tuple[str, ...], denied_domains: tuple[str, ...],
    any_host: bool,
) -> bool:
    if _under(name, denied_domains):
        return False
    if any_host or name in {host.lower().rstrip(".") for host in scope_hosts}:
        return True
    return _under(name, allowed_domains)


def _under(name: str, domains: tuple[str, ...]) -> bool:
    """`name` is one of `domains` or a subdomain of one."""
    names = (domain.lower().strip(".") for domain in domains)
    return any(name == domain or name.endswith("." + domain) for domain in names if domain)


def redact(text: str) -> str:
    """`text` with the password of every URL in it (and secret query parameters) shown as
    `***`: `postgresql://crawler:***@db/crawl`. The user name stays, to tell accounts apart."""
    if "://" not in text:
        return text
    text = _USERINFO_PASSWORD.sub(rf"\1:{REDACTED}@", text)
    return _SECRET_PARAM.sub(rf"\1{REDACTED}", text)
