"""BAI2 (Cash Management Balance Reporting Specification v2) files.

Written here rather than with the ``bai2`` package: that package stops at the first record
it dislikes (an unknown or bank-specific type code, a bad amount, a control-total mismatch)
and gives no line numbers, while an import must keep the good records and report each bad
one by line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .csv_format import decode_text
from .dates import DateError, parse_date
from .money import AmountError, amount_from_minor_units
from .text import clean, join_distinct, method_from_text, payer_from_description
from .types import FORMAT_BAI2, BankTransaction, ImportFileError, ParseResult

TYPE_DESCRIPTIONS = {
    "108": "Credit (Any Type)",
    "115": "Lockbox Deposit",
    "116": "Item in Lockbox Deposit",
    "142": "ACH Credit Received",
    "145": "ACH Concentration Credit",
    "165": "Preauthorized ACH Credit",
    "166": "ACH Settlement",
    "169": "Miscellaneous ACH Credit",
    "175": "Check Deposit Package",
    "191": "Individual Incoming Internal Money Transfer",
    "195": "Incoming Money Transfer",
    "196": "Money Transfer Adjustment",
    "206": "Book Transfer Credit",
    "208": "Incoming International Money Transfer",
    "301": "Commercial Deposit",
    "399": "Miscellaneous Credit",
    "455": "Preauthorized ACH Debit",
    "475": "Check Paid",
    "495": "Outgoing Money Transfer",
    "699": "Miscellaneous Debit",
}
_SUMMARY_FIELDS = 4  # type code, amount, item count, funds type


def _is_number(text: str) -> bool:
    """ASCII digits only (str.isdigit also accepts superscripts and other scripts)."""
    return text.isascii() and text.isdigit()


def _method_for(type_code: int, text: str) -> str | None:
    if 140 <= type_code <= 169:
        return "ach"
    if 110 <= type_code <= 119 or type_code == 175:
        return "check"
    if type_code in (191, 195, 196, 208):
        return "wire"
    if type_code == 206:
        return "transfer"
    return method_from_text(text)


@dataclass
class _Record:
    code: str
    text: str
    line: int
    physical_lines: int = 1


@dataclass
class _Account:
    number: str
    currency: str | None
    line: int
    physical_lines: int
    control: int = 0
    problem: bool = False
    details: list[int] = field(default_factory=list)


def _records(text: str, result: ParseResult) -> list[_Record]:
    records: list[_Record] = []
    for number, physical in enumerate(text.splitlines(), start=1):
        physical = physical.strip()
        if not physical:
            continue
        code, _, rest = physical.partition(",")
        if code == "88":
            if not records:
                result.reject(number, "continuation record (88) with no record before it")
                continue
            previous = records[-1]
            if previous.text.endswith("/"):
                previous.text = previous.text[:-1] + "," + rest
            else:
                previous.text = previous.text + " " + rest
            previous.physical_lines += 1
            continue
        records.append(_Record(code, rest, number))
    return records


def _field(fields: list[str], index: int) -> str:
    return fields[index].strip() if index < len(fields) else ""


def _split_fixed(text: str) -> list[str]:
    """Fields of a record that ends with '/' (everything but 16's free text)."""
    if text.endswith("/"):
        text = text[:-1]
    return text.split(",")


def parse_bai2(data: bytes) -> ParseResult:
    """Read a BAI2 file; credit details (type codes 100-399) become transactions."""
    text = decode_text(data)
    result = ParseResult(format=FORMAT_BAI2)
    records = _records(text, result)
    if not records or records[0].code != "01":
        raise ImportFileError("the file is not a BAI2 file (no 01 file header)")
    file_header = _split_fixed(records[0].text)
    file_date = _yymmdd(_field(file_header, 2))
    if _field(file_header, 7) not in ("", "2"):
        raise ImportFileError(
            f"BAI version {_field(file_header, 7)!r} is not supported, only version 2"
        )
    group_date: date | None = None
    group_currency: str | None = None
    account: _Account | None = None
    seen_trailer = False
    accounts, currencies = set(), set()
    for record in records[1:]:
        if record.code == "02":
            fields = _split_fixed(record.text)
            group_date = _yymmdd(_field(fields, 3)) or file_date
            group_currency = _field(fields, 5).upper() or "USD"
            if not _field(fields, 3) or _yymmdd(_field(fields, 3)) is None:
                result.reject(
                    record.line,
                    f"group as-of date {_field(fields, 3)!r} is not a valid YYMMDD date"
                    + ("; using the file creation date" if file_date else ""),
                )
        elif record.code == "03":
            fields = _split_fixed(record.text)
            currency = _field(fields, 1).upper() or group_currency or "USD"
            account = _Account(_field(fields, 0), currency, record.line, record.physical_lines)
            account.control += _summary_total(fields[2:], record, result)
            accounts.add(account.number)
            currencies.add(currency)
        elif record.code == "16":
            if account is None:
                result.reject(
                    record.line,
                    "transaction detail (16) outside an account (no 03 record before it)",
                )
                continue
            account.physical_lines += record.physical_lines
            _read_detail(record, account, group_date, result)
        elif record.code == "49":
            if account is None:
                result.reject(record.line, "account trailer (49) with no account")
                continue
            _check_account_trailer(record, account, result)
            account = None
        elif record.code in ("98", "99"):
            seen_trailer = seen_trailer or record.code == "99"
            continue
        elif record.code == "01":
            result.reject(record.line, "a second file header (01) inside the file")
        else:
            result.reject(record.line, f"unknown record type {record.code[:10]!r}")
    if not seen_trailer:
        last_line = records[-1].line + records[-1].physical_lines - 1
        result.reject(last_line, "the file ends without a file trailer (99); it may be truncated")
    if len(accounts) == 1:
        result.account = next(iter(accounts))
    if len(currencies) == 1:
        result.currency = next(iter(currencies))
    return result


def _yymmdd(text: str) -> date | None:
    if len(text) != 6 or not _is_number(text):
        return None
    try:
        return parse_date("20" + text)
    except DateError:
        return None


def _summary_total(fields: list[str], record: _Record, result: ParseResult) -> int:
    """Sum of the summary amounts of an 03 record (part of the 49 control total)."""
    total = 0
    position = 0
    while position + 1 < len(fields):
        amount = fields[position + 1].strip()
        funds_type = _field(fields, position + 3).upper()
        if amount:
            if not _is_number(amount.lstrip("+-")):
                result.reject(record.line, f"summary amount {amount!r} is not a number")
                return 0
            total += int(amount)
        position += _SUMMARY_FIELDS + _availability_width(
            fields, position + _SUMMARY_FIELDS, funds_type
        )
    return total


def _availability_width(fields: list[str], position: int, funds_type: str) -> int:
    if funds_type == "S":
        return 3
    if funds_type == "V":
        return 2
    if funds_type == "D":
        count = _field(fields, position)
        return 1 + 2 * int(count) if _is_number(count) else 1
    return 0


def _read_detail(
    record: _Record, account: _Account, booking: date | None, result: ParseResult
) -> None:
    fields = record.text.split(",")
    line = record.line
    type_text = _field(fields, 0).rstrip("/")
    amount_text = _field(fields, 1).rstrip("/")
    if _is_number(amount_text):
        account.control += int(amount_text)
    if not (len(type_text) == 3 and _is_number(type_text)):
        result.reject(line, f"type code {type_text!r} is not a 3-digit BAI2 type code")
        account.problem = True
        return
    type_code = int(type_text)
    if not amount_text:
        result.reject(line, "amount is empty")
        return
    try:
        amount = amount_from_minor_units(amount_text, account.currency)
    except AmountError as exc:
        result.reject(line, str(exc))
        account.problem = True
        return
    if 400 <= type_code <= 699:
        result.debits_skipped += 1
        return
    if not 100 <= type_code <= 399:
        result.reject(
            line, f"type code {type_text} is not a credit (100-399) or debit (400-699) code"
        )
        return
    if booking is None:
        result.reject(line, "no valid as-of date in the group header (02) for this transaction")
        return
    if amount == 0:
        result.reject(line, "amount is zero")
        return
    funds_type = _field(fields, 2).rstrip("/").upper()
    position = 3 + _availability_width(fields, 3, funds_type)
    bank_reference, customer_reference, text = _references(fields, position)
    raw = {
        "type_code": type_text,
        "type_description": TYPE_DESCRIPTIONS.get(type_text, ""),
        "funds_type": funds_type,
        "bank_reference": bank_reference,
        "customer_reference": customer_reference,
        "text": text,
    }
    result.transactions.append(
        BankTransaction(
            line_number=line,
            bank_transaction_id=bank_reference if bank_reference.strip("0") else None,
            booking_date=booking,
            amount=amount,
            currency=account.currency,
            payer_name=payer_from_description(text),
            reference=join_distinct(customer_reference, text),
            account=account.number or None,
            payment_method=_method_for(type_code, text),
            raw=raw,
        )
    )


def _references(fields: list[str], position: int) -> tuple[str, str, str]:
    """Bank reference, customer reference and free text, honouring an early '/' end."""
    values = []
    for index in (position, position + 1):
        value = _field(fields, index)
        if value.endswith("/"):
            values.append(value[:-1].strip())
            values.extend([""] * (2 - len(values)))
            return values[0], values[1], ""
        values.append(value)
    text = ",".join(fields[position + 2 :]).strip()
    if text.endswith("/"):
        text = text[:-1]
    return values[0], values[1], clean(text)


def _check_account_trailer(record: _Record, account: _Account, result: ParseResult) -> None:
    fields = _split_fixed(record.text)
    control, count = _field(fields, 0), _field(fields, 1)
    records = account.physical_lines + record.physical_lines
    if _is_number(control.lstrip("+-")) and int(control) != account.control and not account.problem:
        result.reject(
            record.line,
            f"account {account.number} control total {Decimal(int(control)).scaleb(-2)} does not match "
            f"the sum of its records {Decimal(account.control).scaleb(-2)}; the file may be incomplete",
        )
    elif _is_number(count) and int(count) != records:
        result.reject(
            record.line,
            f"account {account.number} trailer counts {count} records but the account has {records}; "
            "the file may be incomplete",
        )
