"""Test data builders, one per model: factory_boy factories of the organization and the
customers app, then each domain app's builders below (through its services, so the ledger,
the money events and the accounting changes are what production writes). The per-app modules
(``tests.receivables.factories`` ...) re-export these beside their payload helpers."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from arpilot import hooks
from arpilot.models import Organization
from customers.models import Contact, Customer, Tag
from payments import services as payment_services
from receivables import services as receivable_services
from reconciliation import services as reconciliation_services
from reconciliation.models import AccountingChange


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    company_name = factory.Sequence(lambda n: f"Customer {n} Ltd")
    external_id = factory.Sequence(lambda n: f"CUST-{n:05d}")
    address = "1 Main Street, Springfield"
    timezone = "UTC"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    contact_name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")
    color = "#336699"


# --- receivables -----------------------------------------------------------------------------


def make_invoice(organization, *, customer=None, amount="100.00", due_in_days=30, **kwargs):
    """An issued invoice (through the service, so the ledger has its entry)."""
    customer = customer or CustomerFactory(organization=organization)
    today = timezone.localdate()
    kwargs.setdefault(
        "invoice_number", f"INV-{receivable_services._next_aplos_id(organization):05d}"
    )
    kwargs.setdefault("issue_date", today)
    if "amount_due" in kwargs:
        kwargs["amount_due"] = Decimal(kwargs["amount_due"])
    return receivable_services.invoice_create(
        organization=organization,
        customer=customer,
        amount=Decimal(amount),
        due_date=kwargs.pop("due_date", None) or today + timedelta(days=due_in_days),
        **kwargs,
    )


# --- payments --------------------------------------------------------------------------------


def make_payment(organization, *, amount="100.00", days_ago=1, **kwargs):
    """An unmatched payment (created through the service, not matched)."""
    kwargs.setdefault("payer_name", "Somebody Else")
    return payment_services.payment_create(
        organization=organization,
        amount=Decimal(str(amount)),
        payment_date=kwargs.pop("payment_date", None)
        or timezone.localdate() - timedelta(days=days_ago),
        **kwargs,
    )


# --- reconciliation --------------------------------------------------------------------------


def make_change(
    organization,
    *,
    change_type: str = "invoice_created",
    amount: str = "100.00",
    invoice=None,
    customer=None,
    payment=None,
    payload: dict | None = None,
    status: str = "pending",
) -> AccountingChange:
    """A change recorded as a money event would, then moved to ``status`` by the services
    (failed and synced through ``sync-status``; rejected directly)."""
    change = reconciliation_services.change_record_from_event(
        hooks.MoneyMoved(
            organization=organization,
            change_type=change_type,
            amount=Decimal(amount),
            invoice=invoice,
            customer=customer,
            payment=payment,
            payload=payload or {},
        )
    )
    if status in ("approved", "synced", "failed"):
        reconciliation_services.changes_approve(organization=organization, change_ids=[change.pk])
    if status in ("synced", "failed"):
        action = "mark_synced" if status == "synced" else "mark_failed"
        reconciliation_services.changes_sync_status(
            organization=organization, action=action, change_ids=[change.pk], error_message="boom"
        )
    if status == "rejected":
        reconciliation_services.changes_reject(organization=organization, change_ids=[change.pk])
    change.refresh_from_db()
    assert change.status == status
    return change


def make_due(*changes) -> None:
    """Let changes that are backing off be sent now."""
    AccountingChange.objects.filter(pk__in=[c.pk for c in changes]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
