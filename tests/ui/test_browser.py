"""The clerk's day in a real browser: Playwright drives Debian's headless Chromium against
the live server. Sign in, import a bank file, apply a suggestion with the keyboard, split a
payment over two invoices, approve the accounting changes, see the dashboard change."""

import re
from decimal import Decimal

import pytest

from tests.ui.browser_kit import BROWSER_MARKS, bank_file, expect, kpi, sign_in

pytestmark = BROWSER_MARKS


@pytest.mark.django_db(transaction=True)
def test_a_clerks_day(page, live_server, clerk_book, tmp_path):
    from payments.models import Payment
    from reconciliation.models import AccountingChange

    base = live_server.url
    sign_in(page, base)
    assert kpi(page, "open") == "$800.00"
    waiting = int(kpi(page, "pending"))  # the invoices' own changes, if recorded

    # Import a bank file: progress, then the outcome, then straight to review.
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("Bank file").set_input_files(str(bank_file(tmp_path)))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("heading", name=re.compile("Finished"))).to_be_visible()
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    expect(page.locator('[data-count="rejected"]')).to_have_text("1")
    expect(page.get_by_text("is not a number")).to_be_visible()
    page.get_by_role("link", name="Review the 2 new payments").click()
    expect(page.get_by_role("heading", name="Payment review queue")).to_be_visible()
    rows = page.locator(".review-item")
    expect(rows).to_have_count(2)

    # Keyboard: j to the Acme payment, a applies its first suggestion; the row says what changed.
    acme = page.locator(".review-item", has_text="Acme Widgets")
    bolt = page.locator(".review-item", has_text="Bolt Logistics")
    page.keyboard.press("j")
    if "Acme" not in page.evaluate("document.activeElement.innerText"):
        page.keyboard.press("j")
    expect(acme).to_have_class(re.compile(r"\bis-current\b"))
    # With the suite on every core, a busy headless page can lose focus after `j` marked
    # the row current (seen once in CI); the keys below need it on the row.
    if not acme.evaluate("row => row === document.activeElement"):
        acme.focus()
    expect(acme).to_be_focused()
    page.keyboard.press("a")
    changed = acme.locator(".ri-changes")
    expect(changed).to_contain_text("INV-1001: due $100.00 → $0.00 (Pending → Paid)")
    expect(changed).to_contain_text("Payment: Unmatched → Applied")

    # Split the Bolt payment over two invoices found with the search (/).
    bolt.focus()
    page.keyboard.press("/")
    search = bolt.get_by_label("Find open invoices (number, customer or amount)")
    expect(search).to_be_focused()
    search.fill("INV-2001")
    bolt.get_by_role("button", name="Add INV-2001").click()
    search.fill("INV-2002")
    bolt.get_by_role("button", name="Add INV-2002").click()
    bolt.get_by_label("Amount for INV-2001").fill("100.00")
    bolt.get_by_label("Amount for INV-2002").fill("50.00")
    expect(bolt.locator("[data-split-total]")).to_contain_text("Allocated 150.00 of 150.00")
    bolt.get_by_role("button", name="Apply split").click()
    changed = bolt.locator(".ri-changes")
    expect(changed).to_contain_text("INV-2001: due $120.00 → $20.00 (Pending → Partially paid)")
    expect(changed).to_contain_text("INV-2002: due $80.00 → $30.00 (Pending → Partially paid)")

    # The dashboard shows the money applied and three more changes waiting.
    page.get_by_role("link", name="Dashboard").click()
    assert kpi(page, "open") == "$550.00"
    assert int(kpi(page, "pending")) == waiting + 3

    # r marks the Bolt payment reviewed, which approves its two changes.
    page.get_by_role("link", name="Review queue").click()
    bolt.focus()
    page.keyboard.press("r")
    expect(bolt.locator(".ri-changes")).to_contain_text("Marked reviewed")
    assert Payment.objects.filter(reviewed=True).count() == 1

    # Approve what is left from the accounting-changes page (select all, approve).
    page.get_by_role("link", name="Dashboard").click()
    assert int(kpi(page, "pending")) == waiting + 1
    page.locator('[data-kpi="pending"]').click()
    expect(page.get_by_role("heading", name="Accounting changes")).to_be_visible()
    page.get_by_label("Select all on this page").check()
    page.get_by_role("button", name="Approve selected").click()
    count = waiting + 1
    expect(page.get_by_text(f"Approved {count} change{'s' if count != 1 else ''}.")).to_be_visible()
    assert set(AccountingChange.objects.values_list("status", flat=True)) == {"approved"}

    page.get_by_role("link", name="Dashboard").click()
    assert kpi(page, "pending") == "0"
    assert kpi(page, "open") == "$550.00"
    assert Payment.objects.get(payer_name="Bolt Logistics").applied_amount == Decimal("150.00")


@pytest.mark.django_db(transaction=True)
def test_narrow_window_has_no_sideways_scroll_and_focus_is_visible(
    browser, live_server, clerk_book
):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        sign_in(page, live_server.url)
        for path in ["/", "/payments/review/", "/invoices/", "/changes/"]:
            page.goto(live_server.url + path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, path
        page.goto(live_server.url + "/invoices/")
        page.get_by_label("Search").focus()
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
    finally:
        context.close()
