"""The customer-delete hook: invoices that never moved money go; otherwise 409."""

from decimal import Decimal

import pytest

from arpilot.errors import Conflict
from receivables import services
from receivables.models import Invoice, InvoiceLine, JournalEntry
from tests.factories import CustomerFactory
from tests.receivables.factories import make_invoice

pytestmark = pytest.mark.django_db


def test_hook_deletes_invoices_without_money_and_keeps_the_ledger_balanced(org):
    customer = CustomerFactory(organization=org)
    issued = make_invoice(org, customer=customer)
    voided = make_invoice(org, customer=customer)
    services.invoice_void(invoice=voided)
    make_invoice(org, customer=customer, status="draft")

    services.customer_delete_hook(customer=customer)

    assert not Invoice.objects.filter(customer=customer).exists()
    assert not InvoiceLine.objects.exists()
    assert sorted(JournalEntry.objects.values_list("kind", flat=True)) == [
        "issue",
        "issue",
        "issue_reversal",
        "issue_reversal",
    ]
    assert JournalEntry.objects.filter(invoice__isnull=True).count() == 4
    assert issued.pk


@pytest.mark.parametrize("money", ["offline", "payment", "reversed_payment"])
def test_hook_refuses_when_money_moved_and_deletes_nothing(org, money):
    customer = CustomerFactory(organization=org, company_name="Paying Co")
    untouched = make_invoice(org, customer=customer, invoice_number="INV-A")
    paid = make_invoice(org, customer=customer, invoice_number="INV-B")
    if money == "offline":
        services.invoice_record_offline_payment(invoice=paid, amount=Decimal("5"))
    else:
        entry = services.invoice_apply_payment(invoice=paid, amount=Decimal("5"))
        if money == "reversed_payment":
            services.invoice_unapply_payment(invoice=paid, entry=entry)

    with pytest.raises(Conflict, match="INV-B"):
        services.customer_delete_hook(customer=customer)

    assert Invoice.objects.filter(pk=untouched.pk).exists()


def test_hook_is_configured():
    from django.conf import settings

    receivers = settings.ARPILOT_HOOK_RECEIVERS
    assert receivers["CustomerDeleting"] == [
        "credits.receivers.customer_deleting",  # refuses a customer with credit notes posted
        "receivables.receivers.customer_deleting",
    ]
    assert receivers["OrganizationCreated"] == [
        "receivables.receivers.organization_created",
        "dunning.receivers.organization_created",  # the default dunning policy and reasons
        "credits.receivers.organization_created",  # the deduction reasons and their accounts
    ]
