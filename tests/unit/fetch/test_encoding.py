"""Response bytes to text: header charset, BOM, <meta>, and pages that declare nothing."""

from __future__ import annotations

import codecs

import pytest

from pipeline.fetch.encoding import decode_html
from pipeline.parse import parse_html

RUSSIAN = "Привет, мир! Это тестовая страница про погоду в Москве."
JAPANESE = "日本語のページです。東京の天気は晴れです。"
FRENCH = "Café crème brûlée à Noël"


def _page(title: str, head: str = "", body: str = "") -> str:
    return f"<html><head>{head}<title>{title}</title></head><body><p>{body}</p></body></html>"


def _title(text: str) -> str | None:
    return parse_html(text, "http://example.com/").title


def _same_codec(name: str, expected: str) -> bool:
    return codecs.lookup(name).name == codecs.lookup(expected).name


def test_header_charset_decodes_windows_1251():
    body = _page(RUSSIAN).encode("cp1251")

    encoding, text = decode_html(body, "text/html; charset=windows-1251")

    assert _title(text) == RUSSIAN
    assert _same_codec(encoding, "cp1251")


def test_header_charset_wins_over_a_wrong_meta():
    body = _page(RUSSIAN, head='<meta charset="windows-1251">').encode("utf-8")

    _, text = decode_html(body, "text/html; charset=utf-8")

    assert _title(text) == RUSSIAN


def test_meta_charset_is_used_without_a_header_charset():
    body = _page(RUSSIAN, head='<meta charset="windows-1251">').encode("cp1251")

    _, text = decode_html(body, "text/html")

    assert _title(text) == RUSSIAN


def test_http_equiv_content_type_is_used():
    head = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
    body = _page(RUSSIAN, head=head).encode("cp1251")

    _, text = decode_html(body, None)

    assert _title(text) == RUSSIAN


def test_shift_jis_from_meta():
    body = _page(JAPANESE, head='<meta charset="Shift_JIS">').encode("shift_jis")

    _, text = decode_html(body, None)

    assert _title(text) == JAPANESE


def test_shift_jis_from_header():
    body = _page(JAPANESE).encode("shift_jis")

    _, text = decode_html(body, "text/html; charset=Shift_JIS")

    assert _title(text) == JAPANESE


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16_with_bom(codec):
    body = _page(JAPANESE).encode(codec)
    if codec == "utf-16-be":
        body = codecs.BOM_UTF16_BE + body

    _, text = decode_html(body, None)

    assert _title(text) == JAPANESE


def test_bom_wins_over_a_wrong_header_charset():
    body = codecs.BOM_UTF8 + _page(FRENCH).encode("utf-8")

    _, text = decode_html(body, "text/html; charset=iso-8859-1")

    assert _title(text) == FRENCH


def test_no_charset_anywhere_utf8_is_decoded():
    body = _page(RUSSIAN, body=RUSSIAN).encode("utf-8")

    encoding, text = decode_html(body, "text/html")

    assert _title(text) == RUSSIAN
    assert _same_codec(encoding, "utf-8")


def test_no_charset_anywhere_ascii_is_decoded():
    _, text = decode_html(b"<title>Plain old ASCII</title>", None)

    assert _title(text) == "Plain old ASCII"


def test_unknown_charset_name_falls_back_instead_of_failing():
    _, text = decode_html(_page("Hello").encode(), "text/html; charset=no-such-charset")

    assert _title(text) == "Hello"


def test_invalid_bytes_become_replacement_characters():
    _, text = decode_html(b"<title>ok \xff\xfe\xfa end</title>", "text/html; charset=utf-8")

    assert _title(text) == "ok \ufffd\ufffd\ufffd end"


@pytest.mark.parametrize(
    ("text", "codec"),
    [(RUSSIAN, "cp1251"), (JAPANESE, "shift_jis")],
    ids=["windows-1251", "shift_jis"],
)
def test_no_charset_anywhere_legacy_encoding_is_detected(text, codec):
    # encoding.py promises "then detection": a page in a legacy encoding that declares
    # nothing must not come out as U+FFFD soup.
    body = _page(text, body=" ".join([text] * 3)).encode(codec)

    _, decoded = decode_html(body, "text/html")

    assert _title(decoded) == text
