"""Recognising a bank file's format from its content (never its name)."""

from __future__ import annotations

import re

from .csv_format import decode_text, looks_like_csv
from .mt940 import looks_like_mt940
from .types import FORMAT_BAI2, FORMAT_CAMT053, FORMAT_CSV, FORMAT_MT940, FORMAT_OFX

_BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"PK\x03\x04",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\x1f\x8b",
    b"BM",
    b"\xd0\xcf\x11\xe0",
    b"Rar!",
    b"7z\xbc\xaf",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF",
    b"OggS",
)
_OFX_MARKERS = re.compile(r"OFXHEADER\s*[:=]|<\?OFX\s|<OFX>", re.I)
_CAMT053 = re.compile(r"<(?:[\w.-]+:)?BkToCstmrStmt[\s>]")
_NON_SPACE = re.compile(rb"\S")
_BAI2_HEADER = re.compile(r"01,[^,\r\n]*,[^,\r\n]*,\d{6},")
_BAI2_RECORD = re.compile(r"^(?:02|03|16),", re.M)


def detect_format(data: bytes) -> str | None:
    """The bank-file format of ``data``: "csv", "ofx", "camt053", "bai2", "mt940", or None."""
    if not _NON_SPACE.search(data):
        return None
    if data.startswith(_BINARY_MAGIC):
        return None
    head_bytes = data[:65536]
    text = decode_text(head_bytes)
    if "\x00" in text:
        return None
    head = text.lstrip("\ufeff \t\r\n")
    if _OFX_MARKERS.search(head[:4096]):
        return FORMAT_OFX
    if head.startswith("<"):
        if _CAMT053.search(head):
            return FORMAT_CAMT053
        return None
    if _BAI2_HEADER.match(head) and _BAI2_RECORD.search(head):
        return FORMAT_BAI2
    if looks_like_mt940(head):
        return FORMAT_MT940
    if looks_like_csv(data):
        return FORMAT_CSV
    return None
