"""Applying a payment across currencies in a real browser (Playwright, Debian's Chromium):
the review queue's split editor asks for the exchange rate (prefilled from the rate table),
the clerk applies a EUR payment to a USD invoice at the agreed rate, and the row and the
payment's page show the realised exchange loss; no console errors."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.ui.browser_kit import BROWSER_MARKS, expect, sign_in

pytestmark = BROWSER_MARKS

QUEUE = "/payments/review/"


@pytest.mark.django_db(transaction=True)
def test_a_euro_payment_is_applied_to_a_dollar_invoice_with_a_rate(page, live_server, clerk_book):
    from payments.models import PaymentAllocation
    from payments.services import payment_create
    from receivables.models import Invoice
    from receivables.services import exchange_rate_set
    from tests.ledger_invariants import check_ledger

    today = timezone.localdate()
    exchange_rate_set(
        organization=clerk_book, currency="EUR", date=today - timedelta(days=1), rate="1.08"
    )
    payment = payment_create(
        organization=clerk_book,
        amount=Decimal("100.00"),
        payment_date=today,
        payer_name="Bolt Logistics",
        currency="EUR",
    )
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE)
    item = page.locator(f"#payment-{payment.pk}")
    item.focus()
    page.keyboard.press("/")
    rate = item.get_by_label("Exchange rate: USD per 1 EUR")
    expect(rate).to_have_value("1.08")  # the table's rate of the payment date
    item.get_by_label("Find open invoices (number, customer or amount)").fill("INV-2001")
    item.get_by_role("button", name="Add INV-2001").click()
    expect(item.get_by_label("Amount for INV-2001")).to_have_value("100.00")
    rate.fill("1.1")  # the rate agreed with the customer
    item.get_by_role("button", name="Apply split").click()

    expect(item.locator(".ri-changes")).to_contain_text(
        "INV-2001 settled $110.00 at 1.1; realised exchange loss $2.00"
    )
    invoice = Invoice.objects.get(organization=clerk_book, invoice_number="INV-2001")
    assert invoice.amount_due == Decimal("10.00")
    allocation = PaymentAllocation.objects.get(payment=payment)
    assert (allocation.base_amount, allocation.exchange_difference) == (
        Decimal("108.00"),
        Decimal("-2.00"),
    )
    check_ledger(clerk_book)

    page.goto(f"{live_server.url}/payments/{payment.pk}/")
    history = page.locator("table.data").last
    expect(history).to_contain_text("INV-2001")
    expect(history.locator("[data-exchange-difference]").first).to_contain_text("loss")
    expect(history.locator("[data-exchange-difference]").first).to_contain_text("2.00")
