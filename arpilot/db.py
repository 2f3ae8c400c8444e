"""The database as the judge of uniqueness (a clash is a 409 naming the row that won) and
of numbering (sequences as column defaults)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Func
from django.utils.deconstruct import deconstructible
from psycopg.pq import Format

from arpilot.errors import Conflict


def conflict(message: str, *, field: str, existing_id, detail: str | None = None) -> Conflict:
    """The 409 for a unique value already taken: the field named, ``existing_id`` given."""
    return Conflict(
        message,
        fields={field: [detail or "Already used."]},
        extra={"existing_id": str(existing_id)},
    )


@contextmanager
def unique_or_conflict(
    existing: Callable[[], object | None], message: str, *, field: str, detail: str | None = None
) -> Iterator[None]:
    """Run the writes inside a savepoint; an ``IntegrityError`` becomes a 409.

    ``existing`` returns the id of the row that holds the unique value (looked up after the
    clash, so a concurrent writer that committed first is found). When it finds none, the
    IntegrityError was about something else and is raised as it is.

    Check first for the common case (a friendly 409 without a failed insert), then write
    inside this: two concurrent requests that both passed the check meet at the constraint,
    and the loser gets the same 409 instead of a 500.
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        existing_id = existing()
        if existing_id is None:
            raise
        raise conflict(message, field=field, existing_id=existing_id, detail=detail) from None


@deconstructible(path="arpilot.db.NextVal")
class NextVal(Func):
    """``nextval('<sequence>')`` as a column's database default (``db_default``), so an
    INSERT numbers its row and returns the number (PostgreSQL: no statement of its own).

    SQLite has no sequences: there the default compiles to NULL and the code gives the
    value itself (SQLite serializes writers, so ``max + 1`` or a counter row is safe).
    """

    output_field = BigIntegerField()

    def __init__(self, sequence: str):
        self.sequence = sequence
        super().__init__()

    def as_sql(self, compiler, connection, **extra):
        return "nextval(%s)", [self.sequence]

    def as_postgresql(self, compiler, connection, **extra):
        # A DEFAULT clause cannot take parameters: the sequence name is a constant of ours.
        return f"nextval('{self.sequence}')", []

    def as_sqlite(self, compiler, connection, **extra):
        return "NULL", []

    def __eq__(self, other):
        return isinstance(other, NextVal) and other.sequence == self.sequence

    def __hash__(self):
        return hash((NextVal, self.sequence))


@contextmanager
def statement_or_conflict() -> Iterator[None]:
    """Around one INSERT that may clash with a unique constraint, inside a service's
    transaction: a savepoint only where an enclosing transaction may carry on after the
    error. When the service's own ``atomic`` is the outermost block, the clash rolls the
    whole service back anyway, so the savepoint (two statements) is skipped and the caller's
    error (raised from the ``IntegrityError``) ends the transaction."""
    if len(connection.atomic_blocks) > 1:
        with transaction.atomic():
            yield
    else:
        with transaction.atomic(savepoint=False):
            yield


def execute_with_settings(cursor, sql: str, params, settings: Mapping[str, object]) -> None:
    """Run one statement with PostgreSQL settings changed for it alone, in one round trip:
    ``SET LOCAL name = value`` before it, ``SET LOCAL name TO DEFAULT`` after (SET LOCAL
    would otherwise last to the end of the transaction, which may be the caller's; DEFAULT
    is the connection's own value, its startup options included). Django's psycopg cursor
    binds client-side and sends the statements as one string (server-side binding would
    refuse it). The cursor is left on the statement's result.

    ``settings`` are constants of ours (names and values are written into the SQL)."""
    cursor.execute(
        "; ".join(
            [
                *(f"SET LOCAL {name} = {value}" for name, value in settings.items()),
                sql,
                *(f"SET LOCAL {name} TO DEFAULT" for name in settings),
            ]
        ),
        params,
    )
    for _ in settings:
        cursor.nextset()


class _UtcTimestamptzLoader:
    """psycopg's own (C) ``timestamptz`` loader for a connection whose session time zone is
    UTC, in place of Django's.

    Django registers a Python subclass of psycopg's pure-Python loader that parses the text
    and then sets the connection's time zone on the result: ~3.2 µs a value against ~0.2 µs
    for psycopg's C loader, which reads the session's ``TimeZone`` (UTC: Django sets it when
    it connects) and gives the same aware datetimes, in ``datetime.timezone.utc``. A page of
    100 invoices loads 200 of them. This class wraps it (the C class cannot be subclassed)
    and carries the ``timezone`` attribute Django's cursors check."""

    timezone = UTC
    format = Format.TEXT

    def __init__(self, oid: int, context=None) -> None:
        loader = _c_timestamptz_loader()(oid, context)
        self.load = loader.load  # the C method itself: psycopg calls ``load`` per value


@functools.cache
def _c_timestamptz_loader():
    """psycopg's default text loader for ``timestamptz`` when it is its C implementation
    (the ``psycopg[binary]`` build), else None (pure-Python psycopg: Django's stays)."""
    loader = psycopg.adapters.get_loader(psycopg.postgres.types["timestamptz"].oid, Format.TEXT)
    return loader if loader is not None and loader.__module__.startswith("psycopg_") else None


def fast_timestamps(sender, connection, **kwargs) -> None:
    """``connection_created``: on PostgreSQL, when the session's time zone is UTC (Django's
    with ``USE_TZ`` and no database ``TIME_ZONE``), load ``timestamptz`` with psycopg's C
    loader (``_UtcTimestamptzLoader``)."""
    if connection.vendor != "postgresql" or connection.timezone != UTC:
        return
    if _c_timestamptz_loader() is None:
        return
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") != "UTC":
        return
    raw.adapters.register_loader("timestamptz", _UtcTimestamptzLoader)


def index_dropped(model_name: str, name: str, field, *, table: str, index: str, column: str):
    """A migration operation that drops only a foreign key's own index (``field`` is the
    field as it becomes, with ``db_index=False``): the state changes as ``AlterField``
    would, the database only loses the index, by the name Django gave it (the same on
    PostgreSQL and SQLite). ``AlterField`` itself would also drop and re-add the foreign
    key constraint, which re-checks every row. Reversible."""
    from django.db import migrations

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model_name, name=name, field=field)],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
            )
        ],
    )
