"""Strict decoding of text files: invalid UTF-8 is an error with the byte offset, never
silently replaced characters in a medical index."""

from __future__ import annotations

from ingest.errors import SourceError


def decode_utf8(data: bytes, what: str = "file") -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            "invalid_encoding", f"{what} is not valid UTF-8 (byte {exc.start}: {exc.reason})"
        ) from exc
