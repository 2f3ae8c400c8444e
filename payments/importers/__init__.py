"""Bank-file parsing for payment imports: CSV, OFX, ISO 20022 camt.053, BAI2 and MT940.

Pure Python, no database: ``detect_format`` recognises a file by its content, ``parse``
turns it into incoming payments (credits), counting debits and listing each line that could
not be read with its line number, reason and raw text; ``fingerprint`` identifies a transaction that
has no bank id, for duplicate detection.
"""

from __future__ import annotations

import hashlib
import re

from .bai2_format import parse_bai2
from .camt053 import parse_camt053
from .csv_format import CsvMapping, parse_csv
from .detect import detect_format
from .mt940 import parse_mt940
from .ofx import parse_ofx
from .types import (
    FORMAT_BAI2,
    FORMAT_CAMT053,
    FORMAT_CSV,
    FORMAT_MT940,
    FORMAT_OFX,
    FORMATS,
    BankTransaction,
    ImportFileError,
    ParseResult,
    RejectedLine,
)

__all__ = [
    "FORMATS",
    "BankTransaction",
    "CsvMapping",
    "ImportFileError",
    "ParseResult",
    "RejectedLine",
    "detect_format",
    "fingerprint",
    "fingerprints",
    "parse",
]

_NON_SPACE = re.compile(rb"\S")
NOT_A_BANK_FILE = "the file is not a bank file this app reads (CSV, OFX, CAMT.053, BAI2 or MT940)"


def parse(
    data: bytes,
    *,
    fmt: str | None = None,
    csv_mapping: CsvMapping | None = None,
    into: ParseResult | None = None,
) -> ParseResult:
    """Parse a bank file, detecting its format unless ``fmt`` is given.

    ``into``: a result that a CSV parse fills as it reads (see ``parse_csv``); the other
    formats return a result of their own when they are done.

    Raises ImportFileError (one message) when the file as a whole cannot be read; bad lines
    within a readable file become ``ParseResult.rejected`` entries instead.
    """
    if not _NON_SPACE.search(data):
        raise ImportFileError("the file is empty")
    fmt = fmt or detect_format(data)
    if fmt is None:
        if csv_mapping is not None:
            fmt = FORMAT_CSV
        else:
            raise ImportFileError(NOT_A_BANK_FILE)
    try:
        if fmt == FORMAT_CSV:
            return parse_csv(data, csv_mapping, into=into)
        if fmt == FORMAT_OFX:
            return parse_ofx(data)
        if fmt == FORMAT_CAMT053:
            return parse_camt053(data)
        if fmt == FORMAT_BAI2:
            return parse_bai2(data)
        if fmt == FORMAT_MT940:
            return parse_mt940(data)
    except ImportFileError:
        raise
    except RecursionError:
        raise ImportFileError("the file is nested too deeply to be read") from None
    raise ImportFileError(f"unknown bank file format {fmt!r}; expected one of {', '.join(FORMATS)}")


# ASCII punctuation and spaces, removed before hashing: "INV-1042", "inv 1042" and "INV1042" match.
_NOT_ALNUM = bytes(code for code in range(128) if not chr(code).isalnum())


def _normalise(text: str | None) -> bytes:
    return (text or "").lower().encode().translate(None, _NOT_ALNUM)


def fingerprint(tx: BankTransaction, occurrence: int = 1) -> str:
    """A stable id of a transaction from account, date, amount, reference and payer.

    Used to recognise a transaction imported before when the file carries no bank
    transaction id; insensitive to case, spacing and punctuation in the texts.
    ``occurrence`` tells apart identical transactions within one file (see fingerprints).
    """
    parts = [
        _normalise(tx.account),
        tx.booking_date.isoformat().encode(),
        f"{tx.amount:.2f}".encode(),
        (tx.currency or "").upper().encode(),
        _normalise(tx.reference),
        _normalise(tx.payer_name),
    ]
    if occurrence > 1:
        parts.append(str(occurrence).encode())
    return hashlib.sha256(b"\x1f".join(parts)).hexdigest()


def fingerprints(
    transactions: list[BankTransaction], seen: dict[str, int] | None = None
) -> list[str]:
    """Fingerprints of a file's transactions, numbering identical ones (two equal payments
    on one day are both kept, and re-importing the file still finds both). ``seen``
    carries the numbering from one part of a file to the next."""
    seen = {} if seen is None else seen
    result = []
    for tx in transactions:
        base = fingerprint(tx)
        seen[base] = seen.get(base, 0) + 1
        result.append(base if seen[base] == 1 else fingerprint(tx, seen[base]))
    return result
