"""Timestamps as the database gives them and as the API writes them: psycopg's C loader in
place of Django's on PostgreSQL (``arpilot.db.fast_timestamps``), and ``iso_timestamp``
against DRF's own rendering."""

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from arpilot.api.fields import iso_timestamp
from receivables.models import Invoice
from tests.factories import OrganizationFactory, make_invoice

UTC = dt.UTC
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the loader is PostgreSQL's"
)

FIXED_OFFSETS = [
    UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(-dt.timedelta(hours=7)),
]


def _aware(zones):
    return st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.sampled_from(zones),
    )


# Instants (fixed offsets: an ambiguous local time never equals another zone's in Python).
instants = _aware(FIXED_OFFSETS)
aware = _aware([*FIXED_OFFSETS, zoneinfo.ZoneInfo("America/New_York")])


@postgres_only
@pytest.mark.django_db
def test_the_connection_loads_timestamptz_with_psycopgs_c_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text

    assert loader.__name__ == "_UtcTimestamptzLoader"
    assert loader.timezone is UTC  # what Django's cursors compare: no per-cursor copy


@postgres_only
@pytest.mark.django_db
@settings(max_examples=150, deadline=None)
@given(value=instants)
def test_every_instant_comes_back_exact_in_utc(value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz, %s::timestamptz::text", [value, value])
        loaded, text = cursor.fetchone()

    assert loaded == value
    assert loaded.tzinfo is UTC
    assert loaded.utcoffset() == dt.timedelta(0)
    assert text.endswith("+00")  # the session's time zone is UTC, as the loader assumes


@postgres_only
@pytest.mark.django_db
def test_models_read_back_the_same_aware_datetimes():
    org = OrganizationFactory()
    invoice = make_invoice(org, amount="10.00")
    stamp = dt.datetime(2026, 3, 29, 1, 30, 0, 0, tzinfo=UTC)  # no microseconds
    Invoice.objects.filter(pk=invoice.pk).update(created_at=stamp)

    read = Invoice.objects.get(pk=invoice.pk)

    assert read.created_at == stamp and read.created_at.tzinfo is UTC
    assert Invoice.objects.filter(created_at=read.created_at).count() == 1


@settings(max_examples=300)
@given(value=aware)
def test_iso_timestamp_is_drfs_rendering(value):
    field = serializers.DateTimeField(default_timezone=UTC)

    assert iso_timestamp(value) == field.to_representation(value)
    assert iso_timestamp(value.astimezone(UTC)) == field.to_representation(value)
