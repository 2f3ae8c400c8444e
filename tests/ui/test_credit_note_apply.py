"""Applying a credit note in a real browser (Playwright, Debian's Chromium): the clerk opens a
posted note, the apply form offers the customer's open invoices prefilled oldest first, and
after "Apply" the invoice owes less; then unapplies it. No console errors."""

from decimal import Decimal

import pytest

from tests.ui.browser_kit import BROWSER_MARKS, expect, sign_in

pytestmark = BROWSER_MARKS


@pytest.mark.django_db(transaction=True)
def test_a_clerk_applies_a_credit_note_and_the_invoice_owes_less(page, live_server, clerk_book):
    from credits.services.credit_notes import credit_note_create
    from customers.models import Customer
    from receivables.models import Invoice

    bolt = Customer.objects.get(organization=clerk_book, company_name="Bolt Logistics")
    note = credit_note_create(
        organization=clerk_book,
        customer=bolt,
        amount=Decimal("50.00"),
        memo="damaged pallets",
        status="posted",
    )

    sign_in(page, live_server.url)
    page.get_by_role("link", name="Credit notes").click()
    page.locator(f'tr[data-credit-note="{note.pk}"]').get_by_role("link", name=note.number).click()
    expect(page.get_by_role("heading", name=f"Credit note {note.number}")).to_be_visible()

    first = page.get_by_label("Amount for INV-2001")
    expect(first).to_have_value("50.00")  # the whole note, on the first open invoice
    first.fill("30.00")
    page.get_by_label("Amount for INV-2002").fill("20.00")
    page.get_by_role("button", name="Apply", exact=True).click()

    expect(page.locator(".messages")).to_contain_text(f"Credit note {note.number} applied to 2")
    expect(page.locator("#amount-remaining")).to_contain_text("$0.00")
    allocations = page.locator("#allocations")
    expect(allocations).to_contain_text("INV-2001")
    expect(allocations).to_contain_text("INV-2002")
    invoice = Invoice.objects.get(organization=clerk_book, invoice_number="INV-2001")
    assert invoice.amount_due == Decimal("90.00")

    allocations.locator("tr", has_text="INV-2001").get_by_role("link", name="INV-2001").click()
    expect(page.get_by_role("heading", name="Invoice INV-2001")).to_be_visible()
    expect(page.locator(".stats")).to_contain_text("$90.00")

    page.go_back()
    page.get_by_role("button", name="Unapply from INV-2001").click()
    expect(page.locator(".messages")).to_contain_text("Allocation unapplied")
    expect(page.locator("#amount-remaining")).to_contain_text("$30.00")
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("120.00")
