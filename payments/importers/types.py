"""Value types shared by the bank-file parsers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from arpilot.money import MAX_AMOUNT  # noqa: F401  re-exported to the parsers

FORMAT_CSV = "csv"
FORMAT_OFX = "ofx"
FORMAT_CAMT053 = "camt053"
FORMAT_BAI2 = "bai2"
FORMAT_MT940 = "mt940"
FORMATS = (FORMAT_CSV, FORMAT_OFX, FORMAT_CAMT053, FORMAT_BAI2, FORMAT_MT940)
# The raw text kept with a rejected line is cut at this many characters.
RAW_LIMIT = 500


class ImportFileError(Exception):
    """The file as a whole cannot be read as a bank file (the API answers 400)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class BankTransaction:
    """One incoming payment (a credit to the receiving account) read from a bank file.

    Not frozen: building 100k frozen instances costs several times more.
    """

    line_number: int
    bank_transaction_id: str | None
    booking_date: date
    amount: Decimal
    currency: str | None
    payer_name: str
    reference: str
    account: str | None
    payment_method: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    # The payer's account (IBAN or number; upper case, letters and digits) when the file
    # gives it: CAMT.053/054 ``RltdPties/DbtrAcct``, a CSV column mapped as ``payer_account``.
    payer_account: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line (record, entry) of the file that could not be read, with the reason why.

    ``raw``: the rejected line(s) as they are in the file (cut at RAW_LIMIT characters), so
    a clerk can find them in the statement; not part of equality.
    """

    line_number: int
    reason: str
    raw: str = field(default="", compare=False)


@dataclass(slots=True)
class ParseResult:
    """Everything read from one bank file."""

    format: str
    transactions: list[BankTransaction] = field(default_factory=list)
    rejected: list[RejectedLine] = field(default_factory=list)
    debits_skipped: int = 0
    account: str | None = None
    currency: str | None = None

    def reject(self, line_number: int, reason: str, raw: str = "") -> None:
        raw = raw or ""
        if len(raw) > RAW_LIMIT:
            raw = raw[: RAW_LIMIT - 1] + "…"
        self.rejected.append(RejectedLine(line_number, f"line {line_number}: {reason}", raw))
