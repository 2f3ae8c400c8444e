"""The database as the judge of uniqueness (a clash is a 409 naming the row that won) and
of numbering (sequences as column defaults)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Func
from django.utils.deconstruct import deconstructible

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
