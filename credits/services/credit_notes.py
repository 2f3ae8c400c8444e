"""Credit notes: customer documents with GL lines that lower what the customer owes."""

from __future__ import annotations


def open_credit_notes(*, organization, customer) -> list:
    """The customer's posted credit notes with something left to apply (customer credit
    lists them as a source): objects with ``id``, ``number``, ``currency``,
    ``amount_remaining``, ``issue_date``. Filled in by the credit-notes work."""
    return []
