"""Turning response bytes into text: the HTTP header's charset, then a BOM, then
``<meta charset>`` / ``http-equiv``, then detection (w3lib implements that order)."""

from __future__ import annotations

from w3lib.encoding import html_to_unicode


def decode_html(body: bytes, content_type_header: str | None) -> tuple[str, str]:
    """(encoding used, decoded text); undecodable bytes become U+FFFD, never an error."""
    encoding, text = html_to_unicode(content_type_header, body)
    return encoding, text
