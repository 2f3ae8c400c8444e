"""Deductions in a real browser (Playwright, Debian's Chromium): a short pay beyond the
write-off tolerance opens a deduction from the review queue's split editor, and the clerk
resolves it on the deductions page; no console errors."""

from decimal import Decimal

import pytest
from django.utils import timezone

from tests.ui.browser_kit import BROWSER_MARKS, expect, sign_in

pytestmark = BROWSER_MARKS

QUEUE = "/payments/review/"
DEDUCTIONS = "/credits/deductions/"


@pytest.mark.django_db(transaction=True)
def test_a_short_pay_becomes_a_deduction_and_is_resolved_on_its_page(page, live_server, clerk_book):
    from credits.models import Deduction
    from payments.services import payment_create
    from receivables.models import Invoice

    payment = payment_create(
        organization=clerk_book,
        amount=Decimal("60.00"),
        payment_date=timezone.localdate(),
        payer_name="Bolt Logistics",
    )
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE)
    item = page.locator(f"#payment-{payment.pk}")
    item.focus()
    page.keyboard.press("/")
    search = item.get_by_label("Find open invoices (number, customer or amount)")
    search.fill("INV-2002")
    item.get_by_role("button", name="Add INV-2002").click()
    expect(item.get_by_label("Amount for INV-2002")).to_have_value("60.00")
    item.get_by_label("Or open a deduction for what they still owe", exact=False).select_option(
        "pricing"
    )
    item.get_by_role("button", name="Apply split").click()

    expect(item.locator(".ri-changes")).to_contain_text("Deduction of 20.00 opened on INV-2002")
    deduction = Deduction.objects.get(organization=clerk_book)
    assert (deduction.amount, deduction.payment_id) == (Decimal("20.00"), payment.pk)

    page.goto(live_server.url + DEDUCTIONS)
    aging = page.locator("#deduction-aging")
    expect(aging.locator('tr[data-reason="pricing"]')).to_contain_text("$20.00")
    listed = page.locator(f'tr[data-deduction="{deduction.pk}"]')
    expect(listed).to_contain_text("INV-2002")
    listed.get_by_label("Resolution").select_option("credit_note")
    listed.get_by_label("Note").fill("agreed price")
    listed.get_by_role("button", name="Resolve").click()

    expect(page.locator(".messages")).to_contain_text("Deduction on INV-2002 resolved: credit note")
    expect(page.locator(f'tr[data-deduction="{deduction.pk}"]')).to_have_count(0)
    deduction.refresh_from_db()
    assert (deduction.status, deduction.resolution) == ("resolved", "credit_note")
    invoice = Invoice.objects.get(organization=clerk_book, invoice_number="INV-2002")
    assert invoice.amount_due == Decimal("0.00")
