"""What the money, matching and import services share: the organization's payment settings
and currency, queueing a task, pausing the cyclic collector, and writing rows by COPY."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from datetime import date

import orjson
from django.db import IntegrityError, connection, transaction

from arpilot.models import Organization
from payments.models import PaymentSettings

logger = logging.getLogger("payments.services")


def payment_settings_get(*, organization) -> PaymentSettings:
    """The organization's payment settings (created with the defaults on first use)."""
    org_id = getattr(organization, "pk", organization)
    found = PaymentSettings.objects.filter(organization_id=org_id).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return PaymentSettings.objects.create(organization_id=org_id)
    except IntegrityError:
        return PaymentSettings.objects.get(organization_id=org_id)


def organization_currency(organization) -> str:
    """The organization's currency (the invoices' currency until invoices carry their own)."""
    currency = getattr(organization, "currency", None)
    if currency is None:
        currency = Organization.objects.values_list("currency", flat=True).get(
            pk=getattr(organization, "pk", organization)
        )
    return (currency or "").upper()


@contextmanager
def collector_paused():
    """The cyclic garbage collector off for a bulk job that makes hundreds of thousands of
    long-lived objects with few cycles: each full collection would walk them all again.
    Reference counting still frees everything as usual."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


# --- COPY (PostgreSQL) ------------------------------------------------------------------------

COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": ""})
COPY_NULL = "\\N"


def copy_field(value) -> str:
    """A value as a field of COPY's text format."""
    if value is None:
        return COPY_NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(COPY_ESCAPES)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return str(value)


def copy_json(value) -> str:
    """JSON as a COPY text field: JSON escapes control characters, so only its backslashes
    need escaping again."""
    return orjson.dumps(value).decode().replace("\\", "\\\\")


def copy_rows(table: str, columns: Sequence[str], chunks: Iterable[str]) -> None:
    """COPY rows into ``table``'s ``columns``: the one writer of imports and suggestions.

    ``chunks`` are COPY text, whole lines each (fields escaped by ``copy_field`` /
    ``copy_json`` or ``COPY_ESCAPES``); they are written as they come, so the server stores
    one chunk while the caller formats the next. Table and column names come from the
    models, never from input.
    """
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for chunk in chunks:
            copy.write(chunk)
