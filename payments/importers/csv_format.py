"""CSV bank exports: column mapping, header auto-detection, delimiter sniffing.

(Over 600 lines on purpose: most of it is the tables of header names banks use, in several
languages; the parsing itself is a few functions.)
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .dates import MONTH_FIRST, DateError, detect_day_order, looks_like_date, parse_date
from .money import ISO_CURRENCIES, AmountError, detect_decimal_separator, parse_amount
from .text import clean, join_distinct, method_from_text, payer_from_description
from .types import FORMAT_CSV, BankTransaction, ImportFileError, ParseResult

Column = str | int

DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 30
_CURRENCY = re.compile(r"[A-Z]{3}")

# Header names (normalised: lower case, words only) per role, most specific first.
DATE_HEADERS = (
    "booking date",
    "posting date",
    "posted date",
    "post date",
    "date posted",
    "transaction date",
    "trans date",
    "txn date",
    "tran date",
    "date",
    "entry date",
    "effective date",
    "value date",
    "buchungstag",
    "buchungsdatum",
    "datum",
    "valuta",
    "date operation",
    "fecha",
)
AMOUNT_HEADERS = (
    "amount",
    "transaction amount",
    "amt",
    "net amount",
    "value",
    "betrag",
    "umsatz",
    "montant",
    "importe",
)
CREDIT_HEADERS = (
    "credit",
    "credits",
    "credit amount",
    "deposit",
    "deposits",
    "deposit amount",
    "deposits credits",
    "money in",
    "paid in",
    "amount credit",
    "haben",
    "in",
)
DEBIT_HEADERS = (
    "debit",
    "debits",
    "debit amount",
    "withdrawal",
    "withdrawals",
    "withdrawal amount",
    "withdrawals debits",
    "money out",
    "paid out",
    "amount debit",
    "soll",
    "out",
)
PAYER_HEADERS = (
    "payer name",
    "payer",
    "counterparty name",
    "counterparty",
    "counter party",
    "remitter",
    "remitter name",
    "originator name",
    "originator",
    "sender name",
    "sender",
    "debtor name",
    "debtor",
    "customer name",
    "customer",
    "payee name",
    "payee",
    "name",
    "from",
    "beguenstigter zahlungspflichtiger",
    "auftraggeber",
    "zahlungspflichtiger",
    "name zahlungsbeteiligter",
)
REFERENCE_HEADERS = (
    "remittance information",
    "remittance info",
    "remittance",
    "payment reference",
    "customer reference",
    "reference",
    "ref",
    "memo",
    "description",
    "transaction description",
    "details",
    "transaction details",
    "narrative",
    "narration",
    "particulars",
    "purpose",
    "verwendungszweck",
    "notes",
    "note",
    "message",
    "additional information",
    "text",
)
ID_HEADERS = (
    "transaction id",
    "transaction reference",
    "bank reference",
    "reference number",
    "ref no",
    "ref number",
    "fitid",
    "trans id",
    "txn id",
    "transaction number",
    "transaction no",
    "unique id",
    "id",
)
ACCOUNT_HEADERS = (
    "account number",
    "account no",
    "account",
    "iban",
    "account id",
    "acct",
    "own account",
    "konto",
    "kontonummer",
    "auftragskonto",
)
CURRENCY_HEADERS = ("currency", "ccy", "cur", "currency code", "waehrung", "wahrung")
DIRECTION_HEADERS = (
    "credit debit",
    "debit credit",
    "cr dr",
    "dr cr",
    "credit debit indicator",
    "debit credit indicator",
    "indicator",
    "sign",
    "details",
    "type",
)
TYPE_HEADERS = (
    "type",
    "transaction type",
    "payment type",
    "payment method",
    "method",
    "tran type",
    "trans type",
    "buchungstext",
)

CREDIT_WORDS = frozenset({"credit", "cr", "c", "crdt", "dslip", "deposit", "in", "+", "h"})
DEBIT_WORDS = frozenset({"debit", "dr", "d", "dbit", "out", "-", "withdrawal", "s"})
DIRECTION_WORDS = CREDIT_WORDS | DEBIT_WORDS | {"check"}
SUMMARY_ROW = re.compile(r"total|balance|summary|opening|closing|saldo", re.I)
_ACCOUNT_NOISE = re.compile(r"[^A-Z0-9]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class CsvMapping:
    """Which columns of a CSV bank export hold what, by header name or 0-based index.

    Leave a column as None to auto-detect it from the header row. ``reference`` may name
    several columns; their texts are joined. ``date_format`` is a strptime format (auto when
    None: ISO, US and European forms); ``decimal_separator`` is "." or "," (auto when None);
    ``delimiter`` auto when None. ``has_header`` False means there is no header row (then
    every column must be given as an index). ``currency_default`` applies to rows without one.
    ``direction`` names a credit/debit indicator column (CR/DR, Credit/Debit) for unsigned
    amounts; ``payment_type`` a column naming the method (ACH, WIRE, CHECK). ``day_first``
    forces the order of numeric dates (auto: from values like 13/10, else the decimal comma).
    """

    date: Column | None = None
    amount: Column | None = None
    debit: Column | None = None
    credit: Column | None = None
    payer_name: Column | None = None
    reference: Column | Sequence[Column] | None = None
    transaction_id: Column | None = None
    account: Column | None = None
    currency: Column | None = None
    direction: Column | None = None
    payment_type: Column | None = None
    date_format: str | None = None
    decimal_separator: str | None = None
    delimiter: str | None = None
    has_header: bool = True
    currency_default: str | None = None
    day_first: bool | None = None
    # The payer's account (IBAN or number): read only when mapped (never guessed from a
    # header, which more often names the statement's own account).
    payer_account: Column | None = None


@dataclass
class _Columns:
    date: int
    amount: int | None
    debit: int | None
    credit: int | None
    payer: int | None
    references: list[int]
    transaction_id: int | None
    account: int | None
    currency: int | None
    direction: int | None
    payment_type: int | None
    header_currency: str | None
    payer_account: int | None = None


def decode_text(data: bytes) -> str:
    """Decode a text file: BOMs, UTF-8, then Windows-1252 (what spreadsheet exports use)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def normalise_header(name: str) -> str:
    return " ".join(re.sub(r"[^0-9a-zäöüß]+", " ", name.lower()).split())


def sniff_delimiter(text: str) -> str | None:
    """The delimiter giving the most consistent multi-column table in the first lines."""
    lines = [line for line in text.splitlines()[:40] if line.strip()]
    if not lines:
        return None
    if lines[0].lower().startswith("sep=") and len(lines[0].strip()) == 5:
        return lines[0].strip()[4]  # Excel's delimiter hint line
    best, best_score = None, (0.0, 0)
    for delimiter in DELIMITERS:
        if delimiter not in text[:20000]:
            continue
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        width, frequency = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (frequency / len(counts), width)
        if score > best_score:
            best, best_score = delimiter, score
    if best_score[0] < 0.5:
        return None
    return best


def _first(headers: list[str], candidates: Sequence[str], used: set[int]) -> int | None:
    for candidate in candidates:
        for index, header in enumerate(headers):
            if index not in used and header == candidate:
                return index
    return None


def _prefixed(headers: list[str], prefix: str, used: set[int]) -> int | None:
    """Headers such as "amount usd" or "credit amount eur"."""
    for index, header in enumerate(headers):
        if index in used or header in DIRECTION_HEADERS:
            continue
        if header.startswith(prefix + " "):
            return index
    return None


def _either(first: int | None, second: int | None) -> int | None:
    return first if first is not None else second


def _is_direction_column(rows: list[list[str]], index: int) -> bool:
    values = [row[index].strip().lower() for row in rows[:200] if len(row) > index]
    values = [value for value in values if value]
    return bool(values) and sum(value in DIRECTION_WORDS for value in values) >= 0.9 * len(values)


def _auto_columns(raw_headers: list[str], sample: list[list[str]]) -> _Columns | None:
    headers = [normalise_header(header) for header in raw_headers]
    used: set[int] = set()

    def take(index: int | None) -> int | None:
        if index is not None:
            used.add(index)
        return index

    date_col = take(_first(headers, DATE_HEADERS, used))
    if date_col is None:
        return None
    credit = take(
        _either(_first(headers, CREDIT_HEADERS, used), _prefixed(headers, "credit", used))
    )
    debit = take(_either(_first(headers, DEBIT_HEADERS, used), _prefixed(headers, "debit", used)))
    amount = take(
        _either(_first(headers, AMOUNT_HEADERS, used), _prefixed(headers, "amount", used))
    )
    if amount is None and credit is None:
        return None
    direction = None
    for candidate in DIRECTION_HEADERS:
        index = _first(headers, (candidate,), used)
        if index is not None and _is_direction_column(sample, index):
            direction = take(index)
            break
    transaction_id = take(_first(headers, ID_HEADERS, used))
    account = take(_first(headers, ACCOUNT_HEADERS, used))
    currency = take(_first(headers, CURRENCY_HEADERS, used))
    payment_type = take(_first(headers, TYPE_HEADERS, used))
    payer = take(_first(headers, PAYER_HEADERS, used))
    references = []
    for candidate in REFERENCE_HEADERS:
        index = _first(headers, (candidate,), used)
        if index is not None:
            references.append(take(index))
    money_col = amount if amount is not None else credit
    words = re.findall(r"\b[A-Z]{3}\b", raw_headers[money_col].upper())
    header_currency = next((word for word in words if word in ISO_CURRENCIES), None)
    return _Columns(
        date=date_col,
        amount=amount,
        debit=debit,
        credit=credit,
        payer=payer,
        references=[index for index in references if index is not None],
        transaction_id=transaction_id,
        account=account,
        currency=currency,
        direction=direction,
        payment_type=payment_type,
        header_currency=header_currency,
    )


def _resolve(column: Column | None, headers: list[str] | None, what: str) -> int | None:
    if column is None:
        return None
    if isinstance(column, int):
        if column < 0:
            raise ImportFileError(f"column mapping: {what} column index must be 0 or more")
        return column
    if headers is None:
        raise ImportFileError(
            f"column mapping: {what} must be a column index when there is no header row"
        )
    wanted = normalise_header(column)
    for index, header in enumerate(headers):
        if normalise_header(header) == wanted:
            return index
    raise ImportFileError(f"column mapping: the file has no column {column!r} for {what}")


def _mapped_columns(
    mapping: CsvMapping, headers: list[str] | None, auto: _Columns | None
) -> _Columns:
    """Columns from the mapping, falling back to the auto-detected ones where unset."""

    def pick(value: Column | None, what: str, fallback: int | None) -> int | None:
        resolved = _resolve(value, headers, what)
        return resolved if resolved is not None else fallback

    refs = mapping.reference
    if refs is None:
        references = list(auto.references) if auto else []
    else:
        seq = [refs] if isinstance(refs, str | int) else list(refs)
        references = [_resolve(ref, headers, "reference") for ref in seq]
    date_col = pick(mapping.date, "date", auto.date if auto else None)
    amount = pick(mapping.amount, "amount", None)
    credit = pick(mapping.credit, "credit", None)
    debit = pick(mapping.debit, "debit", None)
    if amount is None and credit is None and auto:
        amount, credit, debit = auto.amount, auto.credit, auto.debit
    if date_col is None or (amount is None and credit is None):
        raise ImportFileError(
            "the CSV file has no recognisable date and amount columns; "
            "give a column mapping naming them"
        )
    return _Columns(
        date=date_col,
        amount=amount,
        debit=debit,
        credit=credit,
        payer=pick(mapping.payer_name, "payer name", auto.payer if auto else None),
        references=[ref for ref in references if ref is not None],
        transaction_id=pick(
            mapping.transaction_id, "transaction id", auto.transaction_id if auto else None
        ),
        account=pick(mapping.account, "account", auto.account if auto else None),
        currency=pick(mapping.currency, "currency", auto.currency if auto else None),
        direction=pick(mapping.direction, "direction", auto.direction if auto else None),
        payment_type=pick(
            mapping.payment_type, "payment type", auto.payment_type if auto else None
        ),
        header_currency=auto.header_currency if auto else None,
        payer_account=pick(mapping.payer_account, "payer account", None),
    )


def _read_rows(text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """All records with the physical line number each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows, starts = [], []
    previous_end = 0
    try:
        for row in reader:
            rows.append(row)
            starts.append(previous_end + 1)
            previous_end = reader.line_num
    except csv.Error as exc:
        raise ImportFileError(
            f"the CSV file cannot be read after line {previous_end}: {exc}"
        ) from None
    return rows, starts


def _find_header(rows: list[list[str]]) -> tuple[int, _Columns] | None:
    for position, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if len(row) < 2:
            continue
        columns = _auto_columns(row, rows[position + 1 : position + 201])
        if columns is not None:
            return position, columns
    return None


def looks_like_csv(data: bytes) -> bool:
    """Whether the bytes are a delimited bank export with a date and an amount column."""
    text = decode_text(data[:65536])
    if "\x00" in text:
        return False
    delimiter = sniff_delimiter(text)
    if delimiter is None:
        return False
    lines = text.splitlines()[: HEADER_SEARCH_ROWS + 20]
    if len(data) > 65536:
        lines = lines[:-1]  # the last line may be cut
    rows = list(csv.reader(lines, delimiter=delimiter, strict=False))
    if _find_header(rows) is not None:
        return True
    # Headerless or unusual headers: rows with a date cell and a number cell.
    data_like = 0
    for row in rows[:20]:
        has_date = any(looks_like_date(cell) for cell in row)
        has_number = any(
            re.fullmatch(r"[-+(]?[$€£]?\s?\d[\d,.' ]*\)?", cell.strip() or "x") for cell in row
        )
        data_like += has_date and has_number
    return data_like >= 2


def parse_csv(
    data: bytes, mapping: CsvMapping | None = None, *, into: ParseResult | None = None
) -> ParseResult:
    """Read a CSV bank export; credits become transactions, debits are counted.

    ``into``: the result to fill (and return). Its transactions are appended one by one as
    the rows are read, so another thread may take the first ones while the parse goes on.
    """
    mapping = mapping or CsvMapping()
    text = decode_text(data)
    if "\x00" in text[:65536]:
        raise ImportFileError("the file is not a text (CSV) file")
    delimiter = mapping.delimiter or sniff_delimiter(text)
    if delimiter is None:
        raise ImportFileError("the file is not a delimited (CSV) file")
    rows, starts = _read_rows(text, delimiter)
    header_index: int | None = None
    headers: list[str] | None = None
    if mapping.has_header:
        header_index = _header_by_mapping(rows, mapping)
        if header_index is not None:
            auto = _auto_columns(rows[header_index], rows[header_index + 1 : header_index + 201])
        else:
            found = _find_header(rows)
            if found is None:
                raise ImportFileError(
                    "the CSV file has no recognisable header row with date and amount columns; "
                    "give a column mapping naming them"
                )
            header_index, auto = found
        headers = rows[header_index]
        columns = _mapped_columns(mapping, headers, auto)
        body_start = header_index + 1
    else:
        columns = _mapped_columns(mapping, None, None)
        body_start = 0
    return _parse_rows(
        rows[body_start:],
        starts[body_start:],
        headers,
        columns,
        mapping,
        delimiter,
        into,
        physical_lines=_LINE_BREAK.split(text),
        ends_with_newline=text.endswith(("\n", "\r")),
    )


def _header_by_mapping(rows: list[list[str]], mapping: CsvMapping) -> int | None:
    wanted = {
        normalise_header(c)
        for c in (mapping.date, mapping.amount, mapping.credit)
        if isinstance(c, str)
    }
    if not wanted:
        return None
    for position, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if wanted <= {normalise_header(cell) for cell in row}:
            return position
    return None


def _parse_rows(
    rows: list[list[str]],
    starts: list[int],
    headers: list[str] | None,
    columns: _Columns,
    mapping: CsvMapping,
    delimiter: str,
    into: ParseResult | None = None,
    *,
    physical_lines: list[str] | None = None,
    ends_with_newline: bool = True,
) -> ParseResult:
    result = into if into is not None else ParseResult(format=FORMAT_CSV)
    physical_lines = physical_lines or []
    next_starts = [*starts[1:], len(physical_lines) + 1]

    def reject(index: int, reason: str) -> None:
        line = starts[index]
        end = max(line, min(next_starts[index] - 1, len(physical_lines)))
        raw = "\n".join(physical_lines[line - 1 : end])
        if end > line and not raw.split("\n")[-1].strip():
            raw = raw.rstrip()
        result.reject(line, reason, raw)

    money_columns = [c for c in (columns.amount, columns.credit, columns.debit) if c is not None]
    decimal_separator = mapping.decimal_separator or detect_decimal_separator(
        [row[c] for row in rows[:2000] for c in money_columns if len(row) > c and row[c].strip()],
        default="," if delimiter == ";" else ".",
    )
    if mapping.day_first is not None:
        day_order = "dmy" if mapping.day_first else MONTH_FIRST
    else:
        distinct_dates = list({row[columns.date] for row in rows if len(row) > columns.date})
        default_order = "dmy" if decimal_separator == "," else MONTH_FIRST
        day_order = detect_day_order(distinct_dates, default=default_order)
    date_cache: dict[str, date | str] = {}
    keys = headers or [str(index) for index in range(max((len(row) for row in rows), default=0))]
    width = max([*money_columns, columns.date])
    expected_cells = max(len(headers) if headers else 0, width + 1)
    last_index = len(rows) - 1
    default_currency = mapping.currency_default or columns.header_currency
    seen_accounts: set[str | None] = set()
    seen_currencies: set[str | None] = set()

    date_col, currency_col, direction_col = columns.date, columns.currency, columns.direction
    payer_col, account_col, type_col, id_col = (
        columns.payer,
        columns.account,
        columns.payment_type,
        columns.transaction_id,
    )
    reference_cols = columns.references
    payer_account_col = columns.payer_account
    append = result.transactions.append
    for index, row in enumerate(rows):
        line = starts[index]
        if len(row) < expected_cells:
            if not any(cell.strip() for cell in row) or (row and SUMMARY_ROW.search(row[0])):
                continue  # blank lines, "Total ..." / "Closing balance ..." lines
            if index == last_index and not ends_with_newline:
                reject(
                    index,
                    f"truncated line ({len(row)} of {expected_cells} columns); "
                    "the file may be incomplete",
                )
            else:
                reject(index, f"too few columns ({len(row)} of {expected_cells})")
            continue
        date_text = row[date_col]
        booking = date_cache.get(date_text)
        if booking is None:
            try:
                booking = parse_date(date_text, day_order=day_order, fmt=mapping.date_format)
            except DateError as exc:
                booking = str(exc)
            date_cache[date_text] = booking
        if isinstance(booking, str):
            if not any(cell.strip() for cell in row) or _is_summary_row(
                row, date_text, money_columns
            ):
                continue
            reject(index, booking)
            continue
        row_currency = (
            _cell(row, currency_col).strip().upper() if currency_col is not None else ""
        ) or default_currency  # for the amount's places (BHD has three)
        try:
            amount, currency_in_amount = _row_amount(row, columns, decimal_separator, row_currency)
        except AmountError as exc:
            if not any(row[c].strip() for c in money_columns) and SUMMARY_ROW.search(" ".join(row)):
                continue  # "Beginning balance as of ..." lines carry no transaction
            reject(index, str(exc))
            continue
        if (
            direction_col is not None
            and amount > 0
            and _cell(row, direction_col).strip().lower() in DEBIT_WORDS
        ):
            amount = -amount
        if amount <= 0:
            if amount:
                result.debits_skipped += 1
            else:
                reject(index, "amount is zero")
            continue
        currency = currency_in_amount or default_currency
        if currency_col is not None and not currency_in_amount:
            value = _cell(row, currency_col).strip().upper()
            if value:
                if not _CURRENCY.fullmatch(value):
                    reject(index, f"currency {row[currency_col].strip()!r} is not an ISO 4217 code")
                    continue
                currency = value
        if len(reference_cols) == 1:
            reference = clean(_cell(row, reference_cols[0]))
        else:
            reference = join_distinct(*(_cell(row, c) for c in reference_cols))
        payer = clean(_cell(row, payer_col)) if payer_col is not None else ""
        account = clean(_cell(row, account_col)) or None if account_col is not None else None
        payer_account = (
            _ACCOUNT_NOISE.sub("", _cell(row, payer_account_col).upper())[:64] or None
            if payer_account_col is not None
            else None
        )
        seen_accounts.add(account)
        seen_currencies.add(currency)
        append(
            BankTransaction(
                line_number=line,
                bank_transaction_id=clean(_cell(row, id_col)) or None
                if id_col is not None
                else None,
                booking_date=booking,
                amount=amount,
                currency=currency,
                payer_name=payer or payer_from_description(reference),
                reference=reference,
                account=account,
                payment_method=method_from_text(_cell(row, type_col), reference),
                raw=dict(zip(keys, row, strict=False)),
                payer_account=payer_account,
            )
        )
    if len(seen_accounts) == 1:
        result.account = next(iter(seen_accounts))
    if len(seen_currencies) == 1:
        result.currency = next(iter(seen_currencies))
    return result


def _is_summary_row(row: list[str], date_text: str, money_columns: list[int]) -> bool:
    """Totals and balance lines that exports append; blank-dated lines without money."""
    if SUMMARY_ROW.search(date_text):
        return True
    if not date_text.strip():
        return not any(row[c].strip() for c in money_columns) or bool(
            SUMMARY_ROW.search(" ".join(row))
        )
    return False


def _cell(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index]


def _row_amount(
    row: list[str], columns: _Columns, decimal_separator: str, row_currency: str | None = None
) -> tuple[Decimal, str | None]:
    if columns.amount is not None and (columns.credit is None or row[columns.amount].strip()):
        return parse_amount(row[columns.amount], decimal_separator, currency=row_currency)
    credit_text = _cell(row, columns.credit).strip()
    debit_text = _cell(row, columns.debit).strip()
    credit, currency = (
        parse_amount(credit_text, decimal_separator, currency=row_currency)
        if credit_text
        else (Decimal(0), None)
    )
    debit, debit_currency = (
        parse_amount(debit_text, decimal_separator, currency=row_currency)
        if debit_text
        else (Decimal(0), None)
    )
    if not credit_text and not debit_text:
        raise AmountError("has neither a credit nor a debit amount")
    if credit and debit:
        raise AmountError(f"has both a credit ({credit_text}) and a debit ({debit_text}) amount")
    if credit:
        return credit, currency
    return -abs(debit), debit_currency
