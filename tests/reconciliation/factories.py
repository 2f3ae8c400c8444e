"""Builders for reconciliation tests: changes recorded through the money-event receiver
(``make_change`` and ``make_due`` live in ``tests.factories``)."""

from tests.factories import make_change, make_due  # noqa: F401 (re-exported)
