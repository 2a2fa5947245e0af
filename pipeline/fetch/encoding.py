"""Turning response bytes into text: the HTTP header's charset, then a BOM, then
``<meta charset>`` / ``http-equiv``, then detection (w3lib applies the declared ones in
that order; charset_normalizer guesses when nothing is declared)."""

from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode

# Detection on a whole 10 MiB page is slow and gains nothing over its start.
DETECT_BYTES = 64 * 1024


def decode_html(body: bytes, content_type_header: str | None) -> tuple[str, str]:
    """(encoding used, decoded text); undecodable bytes become U+FFFD, never an error."""
    encoding, text = html_to_unicode(content_type_header, body, auto_detect_fun=_detect)
    return encoding, text


def _detect(body: bytes) -> str | None:
    sample = body[:DETECT_BYTES]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:
            return "utf-8"
    best = from_bytes(sample).best()
    return best.encoding if best is not None else None
