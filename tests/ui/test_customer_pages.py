"""The customer pages through Django's test client: open balance and overdue on the list and
the customer's page, and the activity timeline built from the customer's ledger entries."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.selectors import OPEN_INVOICE_STATUSES, OVERDUE_INVOICE_STATUS
from payments import services as payment_services
from receivables import services as receivable_services
from receivables.models import Invoice
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.ui.builders import book, customer_with_invoices, words

pytestmark = pytest.mark.django_db


def test_the_invoice_statuses_customers_names_are_receivables_own():
    assert set(OPEN_INVOICE_STATUSES) == set(Invoice.OPEN_STATUSES)
    assert OVERDUE_INVOICE_STATUS == Invoice.Status.OVERDUE


def test_the_list_shows_each_customers_open_balance_and_overdue(ui, org):
    late, _ = customer_with_invoices(org, 1, overdue_days=10)
    make_invoice(org, customer=late, invoice_number="INV-LATE-2", amount="50.00")
    Invoice.objects.for_org(org).filter(invoice_number="INV-00001").update(status="overdue")
    customer_with_invoices(org, 2)
    Invoice.objects.for_org(org).filter(invoice_number="INV-00002").update(
        due_date=timezone.localdate() + timedelta(days=5)
    )
    CustomerFactory(organization=org, company_name="Zed Without Invoices")

    page = words(ui.get(reverse("customers:list")))

    assert "Company Customer ID Open balance Overdue Primary contact Tags" in page
    assert "Customer 001 Holdings CU-0001 $150.00 $100.00 (1)" in page
    assert "Customer 002 Holdings CU-0002 $100.00 —" in page
    assert re.search(r"Zed Without Invoices \S+ \$0\.00 — ", page)


def test_the_list_links_balances_to_the_customers_invoices(ui, org):
    customer, _ = customer_with_invoices(org, 1)
    Invoice.objects.for_org(org).update(status="overdue")

    html = ui.get(reverse("customers:list")).content.decode()

    assert f'href="/invoices/?customer_id={customer.pk}&amp;open=1"' in html
    assert f'href="/invoices/?customer_id={customer.pk}&amp;status=overdue"' in html


def test_the_customer_page_shows_balances_and_loads_its_panels(ui, org):
    customer, _ = customer_with_invoices(org, 1)
    Invoice.objects.for_org(org).update(status="overdue")
    make_invoice(org, customer=customer, amount="25.00")

    response = ui.get(reverse("customers:detail", args=[customer.pk]))

    page = words(response)
    assert "Open balance $125.00 Overdue $100.00" in page
    html = response.content.decode()
    assert f'hx-get="/invoices/customers/{customer.pk}/"' in html
    assert f'hx-get="/invoices/customers/{customer.pk}/activity/"' in html
    assert 'href="/static/css/records.css"' in html


def test_the_open_invoices_panel_lists_them_with_a_neutral_pending_badge(ui, org):
    customer, invoice = customer_with_invoices(org, 1)
    Invoice.objects.for_org(org).update(due_date=timezone.localdate() + timedelta(days=3))

    html = ui.get(reverse("receivables:customer-panel", args=[customer.pk])).content.decode()

    assert '<span class="badge badge-not-due">Pending</span>' in html
    assert "badge-pending" not in html
    assert invoice.invoice_number in html


def _activity_book(org):
    """A customer whose invoice was paid short and written off, unapplied, paid outside
    ARPilot and that payment reversed."""
    customer = CustomerFactory(organization=org, company_name="Timeline Traders")
    invoice = make_invoice(org, customer=customer, invoice_number="INV-T1", amount="100.00")
    payment = make_payment(org, amount="99.50", payer_name="Timeline Traders", days_ago=0)
    payment_services.payment_update(
        organization=org, payment_id=payment.pk, invoice_id=invoice.pk, write_off_short_payment=True
    )
    payment_services.payment_unapply(
        organization=org, payment_id=payment.pk, by_clerk=True, reason="wrong customer"
    )
    invoice.refresh_from_db()
    offline = receivable_services.invoice_record_offline_payment(
        invoice=invoice, amount=Decimal("30.00")
    )
    invoice.refresh_from_db()
    receivable_services.invoice_offline_payment_reverse(
        invoice=invoice, offline_payment_id=offline.pk, reason="bounced", reversed_by="ada"
    )
    return customer


def test_the_activity_timeline_tells_what_happened_newest_first(ui, org):
    customer = _activity_book(org)

    response = ui.get(reverse("receivables:customer-activity", args=[customer.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    labels = re.findall(r'<span class="timeline-what"><strong>([^<]+)</strong>', html)
    assert labels[0] == "Offline payment reversed"
    assert labels[1] == "Offline payment"
    assert labels[-1] == "Invoice issued"
    assert labels[-2] == "Payment applied"
    assert sorted(labels[2:-2]) == [
        "Payment unapplied",
        "Short-payment written off",
        "Write-off reversed",
    ]
    page = words(response)
    assert "Invoice issued · INV-T1 Invoice INV-T1 issued $100.00" in page
    assert "Short-payment written off · INV-T1" in page
    assert "$0.50" in page
    assert 'class="date"' in html


def test_the_activity_timeline_pages_by_25(ui, org):
    customer = CustomerFactory(organization=org)
    for number in range(27):
        make_invoice(org, customer=customer, invoice_number=f"INV-P{number:02d}")
    url = reverse("receivables:customer-activity", args=[customer.pk])

    first = ui.get(url).content.decode()
    second = ui.get(url + "?page=2").content.decode()

    assert first.count('class="timeline-item"') == 25
    assert "Page 1 of 2 · 27 entries" in first
    assert "Older →" in first
    assert second.count('class="timeline-item"') == 2
    assert "← Newer" in second


def test_the_activity_of_a_customer_without_any(ui, org):
    customer = CustomerFactory(organization=org)

    page = words(ui.get(reverse("receivables:customer-activity", args=[customer.pk])))

    assert "No activity yet." in page


def test_another_organizations_customer_is_not_found(ui, other_org):
    customer, _ = customer_with_invoices(other_org, 1)

    for name in ("customers:detail", "receivables:customer-activity"):
        assert ui.get(reverse(name, args=[customer.pk])).status_code == 404


@pytest.mark.parametrize("size", [2, 6])
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # session, user, memberships; customers with balances (count, page), contacts, tags.
        ("customers:list", 8),
        # … the customer with balances, contacts, tags.
        ("customers:detail", 6),
        # … the customer, the entries (count, page).
        ("receivables:customer-activity", 6),
    ],
)
def test_customer_pages_query_counts_do_not_grow_with_rows(
    ui, org, size, name, expected, django_assert_num_queries
):
    invoices = book(org, size)
    customer_id = invoices[0].customer_id
    for index in range(size):
        make_invoice(org, customer=invoices[0].customer, invoice_number=f"INV-X{index}")
    url = reverse(name) if name == "customers:list" else reverse(name, args=[customer_id])

    with django_assert_num_queries(expected):
        response = ui.get(url)

    assert response.status_code == 200
