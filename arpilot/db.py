"""The database as the judge of uniqueness: a clash is a 409 naming the row that won."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction

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
