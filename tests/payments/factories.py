"""Builders for payments tests."""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from payments import services
from receivables.models import Account, Invoice, JournalLine
from tests.receivables.factories import make_invoice  # noqa: F401 (re-exported)


def make_payment(organization, *, amount="100.00", days_ago=1, **kwargs):
    """An unmatched payment (created through the service, not matched)."""
    kwargs.setdefault("payer_name", "Somebody Else")
    return services.payment_create(
        organization=organization,
        amount=Decimal(str(amount)),
        payment_date=kwargs.pop("payment_date", None)
        or timezone.localdate() - timedelta(days=days_ago),
        **kwargs,
    )


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
