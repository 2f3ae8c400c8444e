"""Builders of collections' test data: overdue invoices, contacts, a webhook subscriber."""

from datetime import date, timedelta
from decimal import Decimal

from receivables import services as receivable_services
from tests.factories import ContactFactory, CustomerFactory, make_invoice
from webhooks.models import WebhookEndpoint

TODAY = date(2026, 3, 10)


def overdue_invoice(organization, customer, *, days_overdue: int, amount="100.00", today=TODAY):
    """An issued invoice whose due date was ``days_overdue`` days before ``today``."""
    due = today - timedelta(days=days_overdue)
    return make_invoice(
        organization,
        customer=customer,
        amount=amount,
        issue_date=due - timedelta(days=30),
        due_date=due,
    )


def customer_with_contacts(organization, **kwargs):
    """A customer with a primary escalation-1 contact and an escalation-2 contact."""
    customer = CustomerFactory(organization=organization, **kwargs)
    ContactFactory(
        customer=customer,
        email=f"ap@{customer.external_id.lower()}.example.com",
        is_primary=True,
        escalation_level=1,
        contact_name="Ada Payable",
    )
    ContactFactory(
        customer=customer,
        email=f"cfo@{customer.external_id.lower()}.example.com",
        escalation_level=2,
        contact_name="Cleo Finance",
    )
    return customer


def pay(invoice, amount=None):
    """Money received for the invoice (the whole amount due by default)."""
    receivable_services.invoice_apply_payment(
        invoice=invoice, amount=Decimal(amount) if amount else invoice.amount_due
    )
    invoice.refresh_from_db()
    return invoice


def subscriber(organization) -> WebhookEndpoint:
    """An endpoint subscribed to every event (events are stored, not delivered, in tests)."""
    return WebhookEndpoint.objects.create(
        organization=organization,
        url="https://hooks.example.com/in",
        events=["*"],
        secret="whsec_test",
    )


# --- the worklist's figures: today in the organization, overdue money, contact history --------


def org_today(organization):
    from dunning import services

    return services.organization_today(organization)


def overdue_for(organization, customer, days, amount="100.00"):
    """An invoice ``days`` overdue in the organization's today."""
    return overdue_invoice(
        organization, customer, days_overdue=days, amount=amount, today=org_today(organization)
    )


def sent_reminder(organization, customer, days_ago=0):
    from django.utils import timezone

    from dunning.models import Reminder

    return Reminder.objects.create(
        organization=organization,
        customer=customer,
        level=1,
        status=Reminder.Status.SENT,
        subject="Overdue",
        total=Decimal("100.00"),
        run_date=org_today(organization),
        sent_at=timezone.now() - timedelta(days=days_ago),
    )


def broken_promise(organization, customer, invoice):
    from django.utils import timezone

    from dunning.models import Promise, PromiseInvoice

    promise = Promise.objects.create(
        organization=organization,
        customer=customer,
        amount=Decimal("50.00"),
        promised_date=org_today(organization) - timedelta(days=5),
        status=Promise.Status.BROKEN,
        amount_due_at_promise=Decimal("100.00"),
        resolved_at=timezone.now() - timedelta(days=3),
    )
    PromiseInvoice.objects.create(organization=organization, promise=promise, invoice=invoice)
    return promise
