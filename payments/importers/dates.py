"""Reading booking dates in the formats banks export (ISO, US, European, month names)."""

from __future__ import annotations

import re
from datetime import date, datetime

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january", "janv", "jän", "jaen"),
            ("feb", "february", "fev", "fév", "febr"),
            ("mar", "march", "mär", "maerz", "mrz", "mars"),
            ("apr", "april", "avr"),
            ("may", "mai"),
            ("jun", "june", "juin"),
            ("jul", "july", "juil"),
            ("aug", "august", "aoû", "aou"),
            ("sep", "sept", "september"),
            ("oct", "october", "okt"),
            ("nov", "november"),
            ("dec", "december", "dez", "déc"),
        ],
        start=1,
    )
    for name in names
}

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?", re.ASCII)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{4,6}(?:\.\d+)?)?(?:\[.*\])?", re.ASCII)
_YMD = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?: .*)?", re.ASCII)
_NUMERIC = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T].*)?", re.ASCII)
_NAMED_DMY = re.compile(r"(\d{1,2})[ \-./]*([A-Za-zäéû]{3,9})\.?[ \-./,]*(\d{4}|\d{2})", re.ASCII)
_NAMED_MDY = re.compile(
    r"([A-Za-zäéû]{3,9})\.?[ \-./]*(\d{1,2})(?:st|nd|rd|th)?,?[ \-./]*(\d{4}|\d{2})"
)

DAY_FIRST = "dmy"
MONTH_FIRST = "mdy"


class DateError(ValueError):
    """The text is not a valid date; the message says why, for a rejected line."""


def detect_day_order(samples: list[str], default: str = MONTH_FIRST) -> str:
    """Decide whether numeric dates like 03/04/2024 are day-first or month-first."""
    separators = set()
    for sample in samples:
        match = _NUMERIC.fullmatch(sample.strip())
        if not match:
            continue
        first, second = int(match.group(1)), int(match.group(3))
        separators.add(match.group(2))
        if first > 12 >= second:
            return DAY_FIRST
        if second > 12 >= first:
            return MONTH_FIRST
    if separators == {"."}:
        return DAY_FIRST
    return default


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _make(year: int, month: int, day: int, original: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateError(f"date {original!r} is not a valid date") from None


def parse_date(text: str, *, day_order: str = MONTH_FIRST, fmt: str | None = None) -> date:
    """Read a date; ``fmt`` is a strptime format when the mapping gives one."""
    original = text
    text = text.strip()
    if not text:
        raise DateError("date is empty")
    if fmt:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            raise DateError(f"date {original!r} is not a valid date (expected {fmt})") from None
    match = _ISO.fullmatch(text)
    if match:
        return _make(int(match.group(1)), int(match.group(2)), int(match.group(3)), original)
    match = _NUMERIC.fullmatch(text)
    if match:
        first, second, year = int(match.group(1)), int(match.group(3)), _year(match.group(4))
        if day_order == DAY_FIRST:
            return _make(year, second, first, original)
        return _make(year, first, second, original)
    match = _COMPACT.fullmatch(text) or _YMD.fullmatch(text)
    if match:
        return _make(int(match.group(1)), int(match.group(2)), int(match.group(3)), original)
    match = _NAMED_DMY.fullmatch(text)
    if match and match.group(2).lower() in _MONTHS:
        month = _MONTHS[match.group(2).lower()]
        return _make(_year(match.group(3)), month, int(match.group(1)), original)
    match = _NAMED_MDY.fullmatch(text)
    if match and match.group(1).lower() in _MONTHS:
        month = _MONTHS[match.group(1).lower()]
        return _make(_year(match.group(3)), month, int(match.group(2)), original)
    raise DateError(f"date {original!r} is not a valid date")


def looks_like_date(text: str) -> bool:
    """Whether the text has the shape of a date (used to recognise CSV columns)."""
    text = text.strip()
    if not text or len(text) > 40:
        return False
    try:
        parse_date(text)
    except DateError:
        return bool(_NUMERIC.fullmatch(text) or _ISO.fullmatch(text))
    return True
