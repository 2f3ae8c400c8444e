"""Builders for payments tests (``make_payment`` lives in ``tests.factories``)."""

from decimal import Decimal

from django.db.models import Sum

from receivables.models import Account, Invoice, JournalLine
from tests.factories import make_invoice, make_payment  # noqa: F401 (re-exported)


def ar_balance(organization) -> Decimal:
    """Debits minus credits on the organization's receivable account(s)."""
    totals = JournalLine.objects.filter(
        organization=organization, account__role=Account.Role.RECEIVABLE
    ).aggregate(debit=Sum("debit"), credit=Sum("credit"))
    return (totals["debit"] or Decimal("0")) - (totals["credit"] or Decimal("0"))


def open_total(organization) -> Decimal:
    """What the organization's issued, non-void invoices still owe."""
    return Invoice.objects.for_org(organization).filter(
        status__in=Invoice.ISSUED_STATUSES
    ).aggregate(total=Sum("amount_due"))["total"] or Decimal("0")
