"""BAI2 (Cash Management Balance Reporting Specification v2) files.

Written here rather than with the ``bai2`` package: that package stops at the first record
it dislikes (an unknown or bank-specific type code, a bad amount, a control-total mismatch)
and gives no line numbers, while an import must keep the good records and report each bad
one by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .csv_format import decode_text
from .dates import DateError, parse_date
from .money import AmountError, amount_from_minor_units, minor_unit_exponent
from .text import clean, join_distinct, method_from_text, payer_from_description
from .types import FORMAT_BAI2, RAW_LIMIT, BankTransaction, ImportFileError, ParseResult

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
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


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
    text: str  # the fields joined as one 16 record reads them (text continued)
    line: int
    physical_lines: int = 1
    segments: list[str] = field(default_factory=list)  # each physical line after "NN,"
    raw: str = ""

    def split_lines(self):
        """Per physical line: (index, its fields, whether a "/" ended it, whether it is the
        last line). A "/" ends the fields of a line."""
        last = len(self.segments) - 1
        for index, segment in enumerate(self.segments):
            segment = segment.strip()
            slash = segment.endswith("/")
            if slash:
                segment = segment[:-1]
            yield index, segment.split(","), slash, index == last

    def fields(self) -> list[str]:
        """The record's fields, its 88 continuations joined as the BAI2 spec says.

        An 88 continues the previous record's fields (a trailing "," before the line end
        is only the delimiter before the next field); a "/" ends the fields of a line.
        """
        fields: list[str] = []
        for _index, parts, _slash, is_last in self.split_lines():
            if not is_last and len(parts) > 1 and parts[-1].strip() == "":
                parts.pop()
            fields.extend(parts)
        return fields


@dataclass
class _Account:
    number: str
    currency: str | None
    line: int
    physical_lines: int
    control: int = 0
    problem: bool = False
    details: list[int] = field(default_factory=list)


@dataclass
class _Group:
    number: int
    line: int
    currency: str | None
    physical_lines: int
    accounts: int = 0
    control: int = 0  # sum of its accounts' 49 control totals
    open_account: _Account | None = None


def _records(text: str, result: ParseResult) -> list[_Record]:
    records: list[_Record] = []
    for number, physical in enumerate(_LINE_BREAK.split(text), start=1):
        line_text = physical.strip()
        if not line_text:
            continue
        code, _, rest = line_text.partition(",")
        if code == "88":
            if not records:
                result.reject(
                    number, "continuation record (88) with no record before it", line_text
                )
                continue
            previous = records[-1]
            if previous.text.endswith("/"):
                previous.text = previous.text[:-1] + "," + rest
            else:
                previous.text = previous.text + " " + rest
            previous.physical_lines += 1
            previous.segments.append(rest)
            if len(previous.raw) < RAW_LIMIT:
                previous.raw += "\n" + physical.rstrip("\r\n")
            continue
        records.append(_Record(code, rest, number, 1, [rest], physical.rstrip("\r\n")))
    return records


def _field(fields: list[str], index: int) -> str:
    return fields[index].strip() if index < len(fields) else ""


def _split_fixed(text: str) -> list[str]:
    """Fields of a one-line record that ends with '/'."""
    if text.endswith("/"):
        text = text[:-1]
    return text.split(",")


def _money(minor: int, currency: str | None) -> str:
    """A control total in minor units for a message: 1,388,842.58."""
    exponent = minor_unit_exponent(currency)
    return f"{Decimal(minor).scaleb(-exponent):,.{exponent}f}"


def _signed(text: str) -> int | None:
    text = text.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not _is_number(digits):
        return None
    return -int(digits) if text.startswith("-") else int(digits)


def _incomplete(what: str) -> ImportFileError:
    return ImportFileError(f"{what}; the file may be incomplete")


def parse_bai2(data: bytes) -> ParseResult:
    """Read a BAI2 file; credit details (type codes 100-399) become transactions.

    The file's own control totals and record counts are checked at every level (account
    49, group 98, file 99); a file that fails them, or lacks a trailer, is refused whole.
    """
    text = decode_text(data)
    result = ParseResult(format=FORMAT_BAI2)
    records = _records(text, result)
    if not records or records[0].code != "01":
        raise ImportFileError("the file is not a BAI2 file (no 01 file header)")
    file_header = records[0].fields()
    file_date = _yymmdd(_field(file_header, 2))
    if _field(file_header, 7) not in ("", "2"):
        raise ImportFileError(
            f"BAI version {_field(file_header, 7)!r} is not supported, only version 2"
        )
    file_records = records[0].physical_lines
    file_control = 0
    groups = 0
    group: _Group | None = None
    group_date: date | None = None
    trailer: _Record | None = None
    accounts, currencies = set(), set()
    for record in records[1:]:
        if trailer is not None:
            result.reject(record.line, "record after the file trailer (99)", record.raw)
            continue
        file_records += record.physical_lines
        if group is not None:
            group.physical_lines += record.physical_lines
        account = group.open_account if group is not None else None
        if account is not None and record.code not in ("02", "03", "49", "98", "99"):
            account.physical_lines += record.physical_lines
        if record.code == "02":
            if group is not None:
                raise _incomplete(
                    f"group {group.number} (line {group.line}) has no group trailer (98)"
                )
            fields = record.fields()
            groups += 1
            group_date = _yymmdd(_field(fields, 3)) or file_date
            group = _Group(
                groups, record.line, _field(fields, 5).upper() or "USD", record.physical_lines
            )
            if not _field(fields, 3) or _yymmdd(_field(fields, 3)) is None:
                result.reject(
                    record.line,
                    f"group as-of date {_field(fields, 3)!r} is not a valid YYMMDD date"
                    + ("; using the file creation date" if file_date else ""),
                    record.raw,
                )
        elif record.code == "03":
            if group is None:
                raise ImportFileError(
                    f"line {record.line}: account (03) outside a group (no 02 record before it)"
                )
            if account is not None:
                raise _incomplete(
                    f"account {account.number} (line {account.line}) has no account trailer (49)"
                )
            fields = record.fields()
            currency = _field(fields, 1).upper() or group.currency or "USD"
            account = _Account(_field(fields, 0), currency, record.line, record.physical_lines)
            group.open_account = account
            group.accounts += 1
            account.control += _summary_total(record, account, result)
            accounts.add(account.number)
            currencies.add(currency)
        elif record.code == "16":
            if account is None:
                result.reject(
                    record.line,
                    "transaction detail (16) outside an account (no 03 record before it)",
                    record.raw,
                )
                continue
            _read_detail(record, account, group_date, result)
        elif record.code == "49":
            if account is None or group is None:
                raise ImportFileError(
                    f"line {record.line}: account trailer (49) with no account (03) before it"
                )
            group.control += _check_account_trailer(record, account)
            group.open_account = None
        elif record.code == "98":
            if group is None:
                raise ImportFileError(
                    f"line {record.line}: group trailer (98) with no group (02) before it"
                )
            if account is not None:
                raise _incomplete(
                    f"account {account.number} (line {account.line}) has no account trailer (49)"
                )
            file_control += _check_group_trailer(record, group)
            group = None
        elif record.code == "99":
            if group is not None:
                raise _incomplete(
                    f"group {group.number} (line {group.line}) has no group trailer (98)"
                )
            trailer = record
        elif record.code == "01":
            raise ImportFileError(
                f"line {record.line}: a second file header (01) inside the file; "
                "send the files one by one"
            )
        else:
            result.reject(record.line, f"unknown record type {record.code[:10]!r}", record.raw)
    if trailer is None:
        last_line = records[-1].line + records[-1].physical_lines - 1
        raise ImportFileError(
            f"the file ends at line {last_line} without a file trailer (99); it may be truncated"
        )
    _check_file_trailer(trailer, file_control, groups, file_records)
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


def _summary_items(record: _Record) -> list[list[str]]:
    """The summary items (type, amount, item count, funds type, availability) of an 03.

    Item by item over the physical lines: a "/" ends a line's fields, so an item left
    incomplete there ends with defaulted fields, and a line of only empty fields after the
    last item ("...,,,/") adds none.
    """
    items: list[list[str]] = []
    current: list[str] = []
    for index, parts, slash, is_last in record.split_lines():
        if index == 0:
            parts = parts[2:]  # account number, currency
        if not slash and not is_last and len(parts) > 1 and parts[-1].strip() == "":
            parts.pop()
        for part in parts:
            current.append(part.strip())
            if len(current) >= _SUMMARY_FIELDS:
                width = _SUMMARY_FIELDS + _availability_width(
                    current, _SUMMARY_FIELDS, current[3].upper()
                )
                if len(current) >= width:
                    items.append(current)
                    current = []
        if (slash or is_last) and current:
            if any(current):
                items.append(current)
            current = []
    return items


def _summary_total(record: _Record, account: _Account, result: ParseResult) -> int:
    """Sum of the summary amounts of an 03 record (part of the 49 control total)."""
    total = 0
    for item in _summary_items(record):
        amount = _field(item, 1)
        if amount:
            value = _signed(amount)
            if value is None:
                result.reject(record.line, f"summary amount {amount!r} is not a number", record.raw)
                account.problem = True
                return 0
            total += value
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

    def reject(reason: str) -> None:
        result.reject(line, reason, record.raw)

    type_text = _field(fields, 0).rstrip("/")
    amount_text = _field(fields, 1).rstrip("/")
    if _is_number(amount_text):
        account.control += int(amount_text)
    if not (len(type_text) == 3 and _is_number(type_text)):
        reject(f"type code {type_text!r} is not a 3-digit BAI2 type code")
        account.problem = True
        return
    type_code = int(type_text)
    if not amount_text:
        reject("amount is empty")
        return
    try:
        amount = amount_from_minor_units(amount_text, account.currency)
    except AmountError as exc:
        reject(str(exc))
        account.problem = account.problem or not _is_number(amount_text)
        return
    if 400 <= type_code <= 699:
        result.debits_skipped += 1
        return
    if not 100 <= type_code <= 399:
        reject(f"type code {type_text} is not a credit (100-399) or debit (400-699) code")
        return
    if booking is None:
        reject("no valid as-of date in the group header (02) for this transaction")
        return
    if amount == 0:
        reject("amount is zero")
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


def _check_account_trailer(record: _Record, account: _Account) -> int:
    """Check an account's 49 trailer; its control total (for the group's)."""
    fields = record.fields()
    control, count = _field(fields, 0), _field(fields, 1)
    records = account.physical_lines + record.physical_lines
    value = _signed(control)
    where = f"account {account.number} (line {record.line})"
    if value is None:
        raise ImportFileError(
            f"{where}: account control total {control!r} in the trailer (49) is not a number"
        )
    if value != account.control and not account.problem:
        raise _incomplete(
            f"{where} control total {_money(value, account.currency)} does not match the sum "
            f"of its records {_money(account.control, account.currency)}"
        )
    if count and _is_number(count) and int(count) != records:
        raise _incomplete(f"{where} trailer counts {count} records but the account has {records}")
    return value


def _check_group_trailer(record: _Record, group: _Group) -> int:
    """Check a group's 98 trailer; its control total (for the file's)."""
    fields = record.fields()
    control, count, records_text = _field(fields, 0), _field(fields, 1), _field(fields, 2)
    value = _signed(control)
    where = f"group {group.number} (line {record.line})"
    if value is None:
        raise ImportFileError(
            f"{where}: group control total {control!r} in the trailer (98) is not a number"
        )
    if value != group.control:
        raise _incomplete(
            f"{where} control total {_money(value, group.currency)} does not match the sum "
            f"of its accounts {_money(group.control, group.currency)}"
        )
    if count and _is_number(count) and int(count) != group.accounts:
        raise _incomplete(
            f"{where} trailer counts {count} accounts but the group has {group.accounts}"
        )
    if records_text and _is_number(records_text) and int(records_text) != group.physical_lines:
        raise _incomplete(
            f"{where} trailer counts {records_text} records but the group has "
            f"{group.physical_lines}"
        )
    return value


def _check_file_trailer(record: _Record, control_sum: int, groups: int, records: int) -> None:
    fields = record.fields()
    control, count, records_text = _field(fields, 0), _field(fields, 1), _field(fields, 2)
    value = _signed(control)
    where = f"the file trailer (99, line {record.line})"
    if value is None:
        raise ImportFileError(f"{where}: file control total {control!r} is not a number")
    if value != control_sum:
        raise _incomplete(
            f"{where} control total {_money(value, None)} does not match the sum of its "
            f"groups {_money(control_sum, None)}"
        )
    if count and _is_number(count) and int(count) != groups:
        raise _incomplete(f"{where} counts {count} groups but the file has {groups}")
    if records_text and _is_number(records_text) and int(records_text) != records:
        raise _incomplete(f"{where} counts {records_text} records but the file has {records}")
