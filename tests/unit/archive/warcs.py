"""What the WARC tests write and how they read it back: a small exchange, and the files
read with warcio, as any archive tool would read them."""

from __future__ import annotations

from warcio.archiveiterator import ArchiveIterator

from pipeline.fetch import Exchange


def records(directory):
    """Every record of every WARC file in `directory`, digests checked, in file order."""
    found = []
    for path in sorted(directory.iterdir()):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, check_digests="raise"):
                found.append((path.name, record.rec_type, record.rec_headers, record.http_headers,
                              record.content_stream().read() if record.rec_type == "metadata"
                              else record.raw_stream.read()))
    return found


def sample_exchange() -> Exchange:
    """A 200 with a two-byte body, as the fetcher hands it to the writer."""
    return Exchange("http://example.com/", "2026-01-01T00:00:00Z", "GET / HTTP/1.1", [("Accept", "*/*")],
                    "HTTP/1.1", 200, "OK", [("Content-Length", "2")], [b"o", b"k"])
