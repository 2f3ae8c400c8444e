"""SWIFT MT940 customer statements (and the bank exports that follow them).

The file is cut into tags line by line here (for line numbers and rejected lines); each
statement line (``:61:``) is read with the ``mt940`` package's own tag pattern. Amounts
use a decimal comma and are read exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from mt940.tags import Statement as _StatementTag

from .csv_format import decode_text
from .dates import DateError, parse_date
from .money import AmountError, parse_swift_amount
from .text import clean, join_distinct, method_from_text, payer_from_description
from .types import FORMAT_MT940, RAW_LIMIT, BankTransaction, ImportFileError, ParseResult

_TAG = re.compile(r"^:(\d{2}[A-Z]?):(.*)$", re.ASCII)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_STATEMENT_LINE = _StatementTag().re
_BALANCE = re.compile(r"([CD])(\d{6})([A-Z]{3})([0-9,]{1,16})", re.ASCII)
_NO_REFERENCE = {"", "NONREF", "NOTPROVIDED", "NONE"}
# :86: structured forms: German "?20..?29" subfields, SWIFT "/CODE/value" keywords.
_SUBFIELD = re.compile(r"\?(\d{2})")
_KEYWORD = re.compile(r"/(NAME|REMI|EREF|ORDP|BENM|CSID|MARF|IBAN|BIC|ADDR|TRCD|PREF|CNTP)/")
_METHOD_BY_ID = {"NCHK": "check", "NCHG": None, "NTRF": "transfer", "NDDT": "direct_debit"}


@dataclass
class _Tag:
    name: str
    value: str
    line: int
    lines: list[str] = field(default_factory=list)


def _tags(text: str) -> list[_Tag]:
    """The file's tags, continuation lines joined with "\\n", SWIFT envelope lines left out."""
    tags: list[_Tag] = []
    for number, physical in enumerate(_LINE_BREAK.split(text), start=1):
        line = physical.rstrip()
        match = _TAG.match(line)
        if match:
            tags.append(_Tag(match.group(1), match.group(2), number, [line]))
            continue
        stripped = line.strip()
        if not stripped or stripped in ("-", "-}") or stripped.startswith(("{1:", "{2:", "{5:")):
            continue
        if stripped.startswith("{4:") and stripped.endswith("{4:"):
            continue
        if tags:
            tags[-1].value += "\n" + line
            tags[-1].lines.append(line)
    return tags


def looks_like_mt940(text: str) -> bool:
    """Whether the text carries the MT940 tags :20:, :25: and :60F:/:60M: or :61:."""
    head = text.lstrip("\ufeff \t\r\n")
    if not (head.startswith((":20:", "{1:", ":940:")) or re.search(r"^:20:", head, re.M)):
        return False
    return bool(
        re.search(r"^:25:", head, re.M)
        and (re.search(r"^:60[FM]:", head, re.M) or re.search(r"^:61:", head, re.M))
    )


@dataclass
class _Statement:
    reference: str
    line: int
    account: str | None = None
    currency: str | None = None
    opening: tuple[Decimal, int] | None = None  # signed amount, line
    movement: Decimal = Decimal(0)
    problem: bool = False


def parse_mt940(data: bytes) -> ParseResult:
    """Read an MT940 file; credits (C) become transactions, debits and reversals are counted.

    RD (reversal of a debit) gives money back but is not a customer payment: it is counted
    with the debits, as reversals are in camt.053. Each statement's opening balance plus
    its lines must give its closing balance, or the file is refused (it may be incomplete).
    """
    text = decode_text(data)
    tags = _tags(text)
    if not any(tag.name == "61" or tag.name.startswith("60") for tag in tags):
        raise ImportFileError("the MT940 file has no statement (no :60F: or :61: tag)")
    result = ParseResult(format=FORMAT_MT940)
    accounts: set[str | None] = set()
    currencies: set[str | None] = set()
    statement: _Statement | None = None
    for index, tag in enumerate(tags):
        if tag.name == "20":
            statement = _Statement(clean(tag.value), tag.line)
        elif statement is None:
            if tag.name in ("25", "60F", "60M", "61"):
                statement = _Statement("", tag.line)
            else:
                continue
        if tag.name == "25":
            statement.account = clean(tag.value) or None
        elif tag.name in ("60F", "60M"):
            balance = _balance(tag, result)
            if balance is None:
                statement.problem = True
                continue
            statement.currency = balance[1]
            statement.opening = (balance[0], tag.line)
            statement.movement = Decimal(0)
        elif tag.name == "61":
            details = tags[index + 1] if index + 1 < len(tags) else None
            if details is not None and details.name != "86":
                details = None
            accounts.add(statement.account)
            currencies.add(statement.currency)
            _read_line(tag, details, statement, result)
        elif tag.name in ("62F", "62M"):
            _check_closing(tag, statement, result)
    if len(accounts) == 1:
        result.account = next(iter(accounts))
    if len(currencies) == 1:
        result.currency = next(iter(currencies))
    return result


def _raw(*tags: _Tag | None) -> str:
    text = "\n".join(line for tag in tags if tag is not None for line in tag.lines)
    return text[:RAW_LIMIT]


def _balance(tag: _Tag, result: ParseResult) -> tuple[Decimal, str] | None:
    match = _BALANCE.fullmatch(tag.value.strip())
    if match is None:
        result.reject(
            tag.line, f"balance :{tag.name}: {tag.value.strip()!r} is not valid", _raw(tag)
        )
        return None
    try:
        amount = parse_swift_amount(match.group(4), match.group(3))
    except AmountError as exc:
        result.reject(tag.line, f"balance :{tag.name}: {exc}", _raw(tag))
        return None
    return (-amount if match.group(1) == "D" else amount), match.group(3)


def _check_closing(tag: _Tag, statement: _Statement, result: ParseResult) -> None:
    closing = _balance(tag, result)
    if closing is None or statement.opening is None or statement.problem:
        return
    expected = statement.opening[0] + statement.movement
    if closing[0] != expected:
        raise ImportFileError(
            f"statement {statement.reference or '?'} (line {statement.line}): closing balance "
            f"{closing[0]:,.2f} (line {tag.line}) does not match the opening balance "
            f"{statement.opening[0]:,.2f} plus its lines ({expected:,.2f}); "
            "the file may be incomplete"
        )
    statement.opening = (closing[0], tag.line)  # a :62M: opens the next part
    statement.movement = Decimal(0)


def _value_date(fields: dict) -> date | None:
    try:
        value_date = parse_date(f"20{fields['year']}-{fields['month']}-{fields['day']}")
    except DateError:
        return None
    month, day = fields.get("entry_month") or "", fields.get("entry_day") or ""
    if not (month.isdigit() and day.isdigit()):
        return value_date
    # The entry (booking) date has no year: the one nearest the value date.
    candidates = []
    for year in (value_date.year - 1, value_date.year, value_date.year + 1):
        try:
            candidates.append(date(year, int(month), int(day)))
        except ValueError:
            continue
    if not candidates:
        return None
    return min(candidates, key=lambda candidate: abs((candidate - value_date).days))


def _read_line(tag: _Tag, details: _Tag | None, statement: _Statement, result: ParseResult) -> None:
    raw_text = _raw(tag, details)

    def reject(reason: str) -> None:
        statement.problem = True
        result.reject(tag.line, reason, raw_text)

    match = _STATEMENT_LINE.match(tag.value)
    if match is None:
        reject(f"statement line (:61:) {tag.value.splitlines()[0][:60]!r} is not valid")
        return
    fields = match.groupdict()
    status = fields["status"].upper()
    try:
        amount = parse_swift_amount(fields["amount"], statement.currency)
    except AmountError as exc:
        reject(str(exc))
        return
    credit = status in ("C", "RD")
    statement.movement += amount if credit else -amount
    booking = _value_date(fields)
    if booking is None:
        reject(f"date {tag.value[:10]!r} is not a valid date")
        return
    if status != "C":
        result.debits_skipped += 1  # D, RC (reversed credit) and RD (reversed debit)
        return
    if amount == 0:
        reject("amount is zero")
        return
    customer_reference = clean(fields.get("customer_reference"))
    bank_reference = clean(fields.get("bank_reference"))
    bank_id = next(
        (ref for ref in (bank_reference, customer_reference) if ref.upper() not in _NO_REFERENCE),
        None,
    )
    payer, reference = _details(details.value if details is not None else "")
    if customer_reference.upper() not in _NO_REFERENCE:
        reference = join_distinct(reference, customer_reference)
    extra = clean(fields.get("extra_details"))
    reference = reference or extra
    transaction_type = (fields.get("id") or "").upper()
    method = _METHOD_BY_ID.get(transaction_type) or method_from_text(
        details.value if details is not None else "", extra
    )
    result.transactions.append(
        BankTransaction(
            line_number=tag.line,
            bank_transaction_id=bank_id,
            booking_date=booking,
            amount=amount,
            currency=statement.currency,
            payer_name=payer,
            reference=reference,
            account=statement.account,
            payment_method=method,
            raw={
                "statement": statement.reference,
                "status": status,
                "transaction_type": transaction_type,
                "customer_reference": customer_reference,
                "bank_reference": bank_reference,
                "supplementary_details": extra,
                "details": details.value if details is not None else "",
            },
        )
    )


_SEPA_KEY = re.compile(r"(?<![A-Za-z])(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC)\+")


def _sepa_reference(text: str) -> str:
    """German SEPA texts: "EREF+E2E-1SVWZ+INV-1042" gives "INV-1042 / E2E-1"."""
    pieces = _SEPA_KEY.split(text)
    if len(pieces) < 3:
        return clean(text)
    values = dict(zip(pieces[1::2], (clean(piece) for piece in pieces[2::2]), strict=False))
    end_to_end = values.get("EREF", "")
    if end_to_end.upper() in _NO_REFERENCE:
        end_to_end = ""
    return join_distinct(clean(pieces[0]), values.get("SVWZ", ""), end_to_end)


def _details(text: str) -> tuple[str, str]:
    """(payer, reference) from a :86: information field."""
    if not text:
        return "", ""
    flat = text.replace("\n", "")
    if _SUBFIELD.search(flat) and flat.count("?") >= 2:
        parts: dict[str, list[str]] = {}
        pieces = _SUBFIELD.split(flat)
        for code, value in zip(pieces[1::2], pieces[2::2], strict=False):
            parts.setdefault(code, []).append(value)
        reference = "".join("".join(parts.get(str(code), [])) for code in range(20, 30)) + "".join(
            "".join(parts.get(str(code), [])) for code in range(60, 64)
        )
        payer = "".join(parts.get("32", [])) + "".join(parts.get("33", []))
        return clean(payer), _sepa_reference(reference)
    if _KEYWORD.search(flat):
        values: dict[str, str] = {}
        pieces = _KEYWORD.split(flat)
        for code, value in zip(pieces[1::2], pieces[2::2], strict=False):
            values.setdefault(code, value.strip("/"))
        payer = values.get("NAME", "")
        reference = values.get("REMI", "")
        if reference.startswith(("USTD//", "STRD/")):
            reference = reference.split("/", 2)[-1].lstrip("/")
        end_to_end = values.get("EREF", "")
        if end_to_end.upper() in _NO_REFERENCE:
            end_to_end = ""
        return clean(payer), clean(join_distinct(reference, end_to_end))
    cleaned = clean(text)
    return payer_from_description(cleaned), cleaned
