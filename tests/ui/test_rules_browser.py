"""Matching rules in a real browser (Playwright, Debian's Chromium): a clerk writes a rule
on its page, tries it, and sees its evidence ("rule 'NAME'") on a payment it matched; no
console errors."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.ui.browser_kit import BROWSER_MARKS, expect, sign_in

pytestmark = BROWSER_MARKS


@pytest.mark.django_db(transaction=True)
def test_a_rule_written_on_its_page_points_a_payment_to_its_invoice(page, live_server, clerk_book):
    from payments.models import MatchRule, MatchSuggestion
    from payments.services import payment_record
    from receivables.models import Invoice

    sign_in(page, live_server.url)
    page.get_by_role("link", name="Matching rules").click()
    expect(page.get_by_role("heading", name="Matching rules")).to_be_visible()
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name", exact=True).fill("Stripe payouts")
    page.get_by_label("Payer name contains").fill("stripe")
    page.get_by_label("Reference pattern (regular expression)").fill("po:(?P<order>\\d+)")
    page.get_by_label("Then", exact=True).select_option("point_to_invoice")
    page.expect_console_errors(r"status of 400 .*/payments/rules/new")  # the refused form
    page.get_by_role("button", name="Save rule").click()

    # The pattern names a group rules do not know: refused next to the field.
    field = page.get_by_label("Reference pattern (regular expression)")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_contain_text("Unknown named group order")
    field.fill("po:(?P<invoice>\\d+)")
    page.get_by_role("button", name="Save rule").click()

    expect(page.locator(".messages")).to_contain_text("Rule 'Stripe payouts' saved.")
    expect(page.locator("table.rule-table")).to_contain_text("Stripe payouts")
    rule = MatchRule.objects.get(organization=clerk_book)
    assert (rule.action, rule.reference_regex) == ("point_to_invoice", "po:(?P<invoice>\\d+)")

    page.get_by_role("link", name="Stripe payouts").click()
    page.get_by_label("Payer name", exact=True).fill("Stripe Payments")
    page.get_by_label("Reference", exact=True).fill("payout po:2003")
    page.get_by_role("button", name="Try").click()
    expect(page.locator(".trial-result")).to_contain_text(
        "invoice INV-2003 becomes the first suggestion"
    )

    payment = payment_record(
        organization=clerk_book,
        amount=Decimal("80.00"),
        payment_date=timezone.localdate(),
        payer_name="STRIPE PAYMENTS",
        payer_reference="po:2003",
    )
    best = MatchSuggestion.objects.filter(payment=payment).order_by("rank").first()
    invoice = Invoice.objects.get(organization=clerk_book, invoice_number="INV-2003")
    assert best.invoice_ids == [str(invoice.pk)]

    page.goto(f"{live_server.url}/payments/{payment.pk}/")
    expect(page.get_by_text(re.compile(r"rule 'Stripe payouts'", re.I)).first).to_be_visible()
