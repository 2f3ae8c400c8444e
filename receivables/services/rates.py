"""Exchange rates: what one unit of a foreign currency is worth in the organization's base
currency, per date (one posted at a time, or a CSV of many).

A rate is kept exactly as given (``Decimal(20, 10)``: at most 10 digits before the point
and 10 after, 15 significant digits) or refused with the reason — never rounded. Re-posting a currency and date
replaces that day's rate.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from arpilot.currencies import (
    ISO_CURRENCIES,
    decimal_places_of,
    plain_text,
    significant_digits_of,
)
from arpilot.errors import Conflict, ValidationFailed
from receivables.models import ExchangeRate

RATE_MAX_DIGITS = 20
RATE_PLACES = 10
RATE_INTEGER_DIGITS = RATE_MAX_DIGITS - RATE_PLACES
# SQLite (the embedded default) keeps a decimal column's first 15 significant digits only;
# the same limit on every database, so a rate is read back exactly wherever it is stored.
RATE_SIGNIFICANT_DIGITS = 15
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_LINES = 50_000
IMPORT_COLUMNS = ("currency", "date", "rate")
# Plain decimal text only: no sign, exponent, thousands separators or decimal comma.
_RATE_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+", re.ASCII)
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class RateError(ValueError):
    """Why a rate (or a CSV line) is refused, and the field it is about."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


def _base(organization) -> str:
    return (organization.currency or "USD").upper()


def rate_currency(code, base: str) -> str:
    """The ISO 4217 code of a rate's currency: not the base (its rate is 1 by definition)."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if text not in ISO_CURRENCIES:
        raise RateError("currency", f"{code!r} is not an ISO 4217 currency code.")
    if text == base:
        raise RateError(
            "currency",
            f"{text} is the organization's base currency: its rate is always 1.",
        )
    return text


def rate_value(value) -> Decimal:
    """The rate exactly as given: positive, at most 10 decimal places, 10 digits before the
    point and 15 significant digits (more is refused, not rounded)."""
    if isinstance(value, str):
        text = value.strip()
        if not _RATE_TEXT.fullmatch(text):
            raise RateError("rate", f"{value!r} is not a plain decimal number (e.g. 1.0825).")
        value = Decimal(text)
    try:
        value = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise RateError("rate", f"{value!r} is not a number.") from None
    if not value.is_finite():
        raise RateError("rate", "The rate must be a finite number.")
    if value <= 0:
        raise RateError("rate", "The rate must be greater than zero.")
    shown = plain_text(value)  # as sent, without the zeros a parser may have added
    if decimal_places_of(value) > RATE_PLACES:
        raise RateError(
            "rate", f"{shown} has more than {RATE_PLACES} decimal places; rates are kept exactly."
        )
    if value.adjusted() >= RATE_INTEGER_DIGITS:
        raise RateError("rate", f"{shown} is too large (at most {RATE_INTEGER_DIGITS} digits).")
    if significant_digits_of(value) > RATE_SIGNIFICANT_DIGITS:
        raise RateError(
            "rate",
            f"{shown} has more than {RATE_SIGNIFICANT_DIGITS} significant digits; rates are "
            "kept exactly.",
        )
    return value


def _refuse(error: RateError):
    return ValidationFailed(error.reason, fields={error.field: [error.reason]})


@transaction.atomic
def exchange_rate_set(*, organization, currency, date: date, rate) -> tuple[ExchangeRate, bool]:
    """Record the rate of ``currency`` on ``date`` (base per unit); the same currency and
    date posted again replaces the rate. Returns (rate, created)."""
    try:
        currency = rate_currency(currency, _base(organization))
        rate = rate_value(rate)
    except RateError as error:
        raise _refuse(error) from None
    found = _replace(organization, currency, date, rate)
    if found is not None:
        return found, False
    row = ExchangeRate(organization=organization, currency=currency, date=date, rate=rate)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # posted meanwhile by another request: that one is replaced
        return _replace(organization, currency, date, rate), False
    return row, True


def _replace(organization, currency: str, day: date, rate) -> ExchangeRate | None:
    row = (
        ExchangeRate.objects.for_org(organization)
        .select_for_update()
        .filter(currency=currency, date=day)
        .first()
    )
    if row is None:
        return None
    row.rate = rate
    row.save(update_fields=["rate", "updated_at"])
    return row


# --- CSV import -------------------------------------------------------------------------------


@dataclass
class RatesImported:
    created: int = 0
    replaced: int = 0
    rejected: list[dict] = field(default_factory=list)


def _header(row: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in row]
    if sorted(names) != sorted(IMPORT_COLUMNS):
        raise ValidationFailed(
            "The first line must be the header currency,date,rate.",
            fields={"file": ["Line 1: the header must name the columns currency, date and rate."]},
        )
    return {name: names.index(name) for name in IMPORT_COLUMNS}


def _line(row: list[str], columns: dict[str, int], base: str):
    if len(row) != len(columns):
        raise RateError("file", f"expected 3 values (currency,date,rate), found {len(row)}")
    currency = rate_currency(row[columns["currency"]], base)
    text = row[columns["date"]].strip()
    try:
        if not _DATE_TEXT.fullmatch(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise RateError("date", f"{text!r} is not a date (YYYY-MM-DD)") from None
    return currency, day, rate_value(row[columns["rate"]])


def _read_lines(data: bytes, base: str):
    """(line number, currency, date, rate) of each line, and the rejected lines."""
    if len(data) > IMPORT_MAX_BYTES:
        raise ValidationFailed(
            "The file is too large.",
            fields={"file": [f"At most {IMPORT_MAX_BYTES // (1024 * 1024)} MB."]},
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(
            "The file is not UTF-8 text.", fields={"file": ["Must be a UTF-8 CSV file."]}
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, rejected, seen = [], [], {}
    columns = None
    try:
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines are skipped
            if columns is None:
                columns = _header(row)
                continue
            if len(rows) + len(rejected) >= IMPORT_MAX_LINES:
                raise ValidationFailed(
                    "The file has too many lines.",
                    fields={"file": [f"At most {IMPORT_MAX_LINES} rates per file."]},
                )
            try:
                currency, day, rate = _line(row, columns, base)
            except RateError as error:
                rejected.append({"line": number, "field": error.field, "reason": error.reason})
                continue
            first = seen.setdefault((currency, day), number)
            if first != number:
                rejected.append(
                    {
                        "line": number,
                        "field": "date",
                        "reason": f"{currency} on {day} is already on line {first}",
                    }
                )
                continue
            rows.append((number, currency, day, rate))
    except csv.Error as error:
        rejected.append({"line": reader.line_num, "field": "file", "reason": f"not CSV: {error}"})
    if columns is None:
        raise ValidationFailed(
            "The file is empty.", fields={"file": ["The header currency,date,rate is missing."]}
        )
    return rows, rejected


@transaction.atomic
def exchange_rates_import(*, organization, data: bytes) -> RatesImported:
    """Record every rate of a CSV file (``currency,date,rate`` with a header), all or none.

    Every bad line is reported with its line number and reason, and then nothing is
    written (a 400): a table half-loaded would convert some days with stale rates. A
    currency and date already recorded are replaced (``replaced`` counts them).
    """
    rows, rejected = _read_lines(data, _base(organization))
    if rejected:
        shown = "; ".join(f"line {item['line']}: {item['reason']}" for item in rejected[:5])
        more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
        raise ValidationFailed(
            f"{len(rejected)} line(s) rejected, nothing imported: {shown}{more}.",
            fields={"file": [f"Line {item['line']}: {item['reason']}" for item in rejected]},
            extra={"rejected": rejected},
        )
    if not rows:
        raise ValidationFailed(
            "The file has no rates.", fields={"file": ["No rates after the header."]}
        )
    existing = {
        (row.currency, row.date): row
        for row in ExchangeRate.objects.for_org(organization)
        .select_for_update()
        .filter(
            currency__in={currency for _, currency, _, _ in rows},
            date__range=(min(day for *_, day, _ in rows), max(day for *_, day, _ in rows)),
        )
    }
    now = timezone.now()
    new, changed = [], []
    for _number, currency, day, rate in rows:
        row = existing.get((currency, day))
        if row is None:
            new.append(
                ExchangeRate(organization=organization, currency=currency, date=day, rate=rate)
            )
        else:
            row.rate, row.updated_at = rate, now
            changed.append(row)
    try:
        with transaction.atomic():
            ExchangeRate.objects.bulk_create(new, batch_size=1000)
    except IntegrityError:
        raise Conflict(
            "Another request recorded some of these rates meanwhile; send the file again "
            "(its rates then replace those)."
        ) from None
    ExchangeRate.objects.bulk_update(changed, ["rate", "updated_at"], batch_size=1000)
    return RatesImported(created=len(new), replaced=len(changed))
