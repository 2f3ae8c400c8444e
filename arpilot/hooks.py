"""Explicit, in-transaction calls from lower apps to higher ones, configured by dotted path.

Dependencies point one way (reconciliation → payments → receivables → customers → arpilot),
yet a lower app's money event must become a higher app's accounting change in the same
transaction. The lower app calls ``money_event(...)`` here; settings name the receivers
(``ARPILOT_MONEY_EVENT_HANDLERS``). No Django signals: the call is visible at the call site.
"""

from decimal import Decimal
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


@cache
def _handlers(paths: tuple[str, ...]):
    return [import_string(path) for path in paths]


def money_event(
    *,
    organization,
    change_type: str,
    amount: Decimal,
    invoice=None,
    customer=None,
    payment=None,
    payload: dict | None = None,
) -> None:
    """Tell the configured receivers that money moved (or an invoice changed).

    ``change_type``: invoice_created, invoice_changed, invoice_voided, offline_payment,
    payment_applied, payment_unapplied, write_off.
    """
    for handler in _handlers(tuple(settings.ARPILOT_MONEY_EVENT_HANDLERS)):
        handler(
            organization=organization,
            change_type=change_type,
            amount=amount,
            invoice=invoice,
            customer=customer,
            payment=payment,
            payload=payload or {},
        )
