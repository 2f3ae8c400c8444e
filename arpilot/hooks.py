"""How a lower app tells a higher one, in the same transaction: one event type per hook point,
one dispatcher, receivers named in settings and checked at start-up.

Dependencies point one way (reconciliation → payments → receivables → customers → arpilot).
Where a lower app must tell a higher one (money moved, a customer is being deleted, a payment
was reviewed, an organization was created), it builds the event and calls ``dispatch``:

    hooks.dispatch(hooks.MoneyMoved(organization=org, change_type="payment_applied", …))

``ARPILOT_HOOK_RECEIVERS`` maps each event's class name to the dotted paths of its receivers;
each receiver takes the event as its one argument, and ``dispatch`` returns what they
returned, in order (a receiver that records something hands it back to the caller, so the
caller never looks for it afterwards). A system check (``arpilot.checks``) refuses to start
when a configured receiver does not resolve. No Django signals: the call is visible where it
happens, and "go to definition" on the event lands here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True, kw_only=True)
class OrganizationCreated:
    """A new organization: each app seeds what it needs (the ledger's default accounts)."""

    organization: Any


@dataclass(frozen=True, kw_only=True)
class CustomerDeleting:
    """Inside ``customer_delete``'s transaction, before the customer goes: receivers remove
    what may go with it, or raise ``arpilot.errors.Conflict`` for what may not."""

    customer: Any


@dataclass(frozen=True, kw_only=True)
class MoneyMoved:
    """Money moved, or an invoice changed, and the ledger got a posting.

    ``change_type``: invoice_created, invoice_changed, invoice_voided, offline_payment,
    payment_applied, payment_unapplied, write_off (a payment's short-pay, or an invoice's
    balance written off with no payment), credit_note (a credit against the invoice's
    revenue; no payment). ``payload`` names the ledger entries
    (``journal_entry_id``/``journal_entry_ids``) and anything else the accounting change
    should carry.
    """

    organization: Any
    change_type: str
    amount: Decimal
    invoice: Any = None
    customer: Any = None
    payment: Any = None
    payload: dict = field(default_factory=dict)
    # The journal entries just posted, as objects (with ``posted_lines``): receivers may
    # describe them without reading them back. Not part of what is stored.
    entries: tuple = ()


@dataclass(frozen=True, kw_only=True)
class PaymentReviewed:
    """A payment became reviewed (inside ``payment_mark_reviewed``'s transaction)."""

    organization: Any
    payment: Any


@dataclass(frozen=True, kw_only=True)
class EmailGaveUp:
    """An outbox email will not be sent: it failed for good, or a clerk cancelled it (inside
    the transaction that says so). ``email`` has ``kind`` and the caller's ``reference``."""

    organization: Any
    email: Any


@dataclass(frozen=True, kw_only=True)
class EmailSent:
    """An outbox email was accepted by the mail server (or a clerk confirmed an unconfirmed
    one arrived), inside the transaction that records it."""

    organization: Any
    email: Any


@dataclass(frozen=True, kw_only=True)
class InvoicesDescribed:
    """Invoices are about to be rendered as JSON: receivers return ``{invoice id: {field:
    value}}`` for fields a higher app adds (collections adds ``dispute``), for the whole
    page at once (one query per receiver, however many invoices). ``created``: the invoices
    were created by this request, so nothing refers to them yet (a receiver answers without
    a query: a new invoice has no dispute)."""

    organization: Any
    invoice_ids: tuple
    created: bool = False


@dataclass(frozen=True, kw_only=True)
class InvoiceIssued:
    """A new invoice was created (not a draft), inside the transaction that created it: a
    higher app may settle it at once (customer credit, when the organization turns that on).
    Receivers must cost no query when they have nothing to do for the organization."""

    organization: Any
    invoice: Any


EVENTS = {
    event.__name__: event
    for event in (
        OrganizationCreated,
        CustomerDeleting,
        MoneyMoved,
        PaymentReviewed,
        EmailGaveUp,
        EmailSent,
        InvoicesDescribed,
        InvoiceIssued,
    )
}


@cache
def _receivers(event_name: str, paths: tuple[str, ...]) -> list:
    return [import_string(path) for path in paths]


def receivers_of(event_type: type) -> list:
    """The configured receivers of ``event_type``, resolved once."""
    paths = tuple(settings.ARPILOT_HOOK_RECEIVERS.get(event_type.__name__, ()))
    return _receivers(event_type.__name__, paths)


def dispatch(event) -> list:
    """Call every receiver of the event, in order; their results, in order."""
    return [receiver(event) for receiver in receivers_of(type(event))]
