"""Approvals and imports in a real browser (Playwright, Debian's headless Chromium):
rejecting a payment application through the confirmation dialog (refused without a reason,
reachable by keyboard, says what it undid, keeps the type filter), the ledger-line preview,
the sync banner, the dashboard's pending changes by kind; importing a file, re-uploading it
(a warning, nothing to review) and a refused upload (said once, then listed once). No
console errors (the ``page`` fixture fails on any not expected), no sideways scroll at 390 px."""

import re

import pytest

from tests.ui.browser_kit import (
    BROWSER_MARKS,
    bank_file,
    close_page,
    expect,
    new_page,
    sign_in,
)

pytestmark = BROWSER_MARKS

PAYMENT_CHANGES = "/changes/?status=pending&change_type=payment_applied"


def _apply_acme_payment(org):
    """Acme's $100.00 paid and applied to INV-1001: one pending ``payment_applied``."""
    from payments import services as payment_services
    from receivables.models import Invoice
    from tests.payments.factories import make_payment

    invoice = Invoice.objects.for_org(org).get(invoice_number="INV-1001")
    payment = make_payment(
        org, amount="100.00", payer_name="Acme Widgets", payer_reference="Payment INV-1001"
    )
    payment_services.payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    return payment


def _no_sideways_scroll(page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.mark.django_db(transaction=True)
def test_rejecting_through_the_dialog_needs_a_reason_and_says_what_it_undid(
    page, live_server, clerk_book
):
    from payments.models import Payment
    from reconciliation.models import AccountingChange

    payment = _apply_acme_payment(clerk_book)
    base = live_server.url
    sign_in(page, base)

    page.goto(base + PAYMENT_CHANGES)
    expect(page.locator("[data-sync-banner]")).to_contain_text("No sync target is configured")
    row = page.locator("tr[data-change]", has_text="Acme Widgets")
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name="Payment from Acme Widgets")).to_be_visible()
    row.locator(".ledger-preview summary").click()
    expect(row.locator("table.ledger-lines tbody tr")).to_have_count(2)

    # Open the dialog: the reason has the focus; an empty reason is not sent.
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Reject selected…").click()
    dialog = page.get_by_role("dialog", name="Reject 1 change?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(
        "Unapplies $100.00 of the payment from Acme Widgets from invoice INV-1001"
    )
    reason = dialog.get_by_label("Reason for rejecting")
    expect(reason).to_be_focused()
    dialog.get_by_role("button", name="Reject 1 change").click()
    expect(dialog).to_be_visible()  # the browser asks for the required reason
    assert AccountingChange.objects.get(payment=payment).status == "pending"

    # Blanks are no reason: the server refuses (400) and says why, nothing changes.
    page.expect_console_errors(r"status of 400 .*/changes/action\]$")
    reason.fill("   ")
    dialog.get_by_role("button", name="Reject 1 change").click()
    expect(page.get_by_role("heading", name="Reject 1 change?")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "Give a reason for rejecting: it is kept with the changes and shown to others."
    )
    assert AccountingChange.objects.get(payment=payment).status == "pending"
    assert Payment.objects.get(pk=payment.pk).status == "applied"

    # With a reason: rejected, the payment unapplied, back on the same filter.
    page.get_by_label("Reason for rejecting").fill("paid by the parent company")
    page.get_by_role("button", name="Reject 1 change").click()
    expect(page.get_by_text(re.compile("Rejected 1 change."))).to_have_text(
        "Rejected 1 change. Undone in ARPilot: payment from Acme Widgets unapplied from "
        "INV-1001 ($100.00)."
    )
    expect(page).to_have_url(re.compile(r"status=pending&change_type=payment_applied$"))
    expect(page.get_by_label("Change type")).to_have_value("payment_applied")
    change = AccountingChange.objects.get(payment=payment, change_type="payment_applied")
    assert (change.status, change.rejection_reason) == ("rejected", "paid by the parent company")
    assert Payment.objects.get(pk=payment.pk).status == "unmatched"


@pytest.mark.django_db(transaction=True)
def test_the_reject_dialog_works_from_the_keyboard(page, live_server, clerk_book):
    _apply_acme_payment(clerk_book)
    base = live_server.url
    sign_in(page, base)
    page.goto(base + PAYMENT_CHANGES)

    page.get_by_label("Select all on this page").focus()
    page.keyboard.press("Space")
    opener = page.get_by_role("button", name="Reject selected…")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Reason for rejecting")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Reject 1 change")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    opener.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_splits_pending_changes_by_kind(page, live_server, clerk_book):
    from tests.factories import make_change

    _apply_acme_payment(clerk_book)
    make_change(clerk_book, change_type="invoice_voided", amount="80.00")
    base = live_server.url
    sign_in(page, base)

    kinds = page.locator("[data-pending-kinds]")
    expect(kinds.locator('tr[data-kind="payment_applied"]')).to_contain_text("$100.00")
    expect(kinds.locator('tr[data-kind="invoice_voided"]')).to_contain_text("$80.00")
    expect(page.locator('[data-kpi="pending"] .kpi-sub')).to_contain_text("1 payment change · ")
    kinds.get_by_role("link", name="Invoice voided").click()
    expect(page.get_by_label("Change type")).to_have_value("invoice_voided")
    expect(page.locator("tr[data-change]")).to_have_count(1)


@pytest.mark.django_db(transaction=True)
def test_importing_then_re_uploading_and_a_refused_upload(page, live_server, clerk_book, tmp_path):
    base = live_server.url
    sign_in(page, base)
    statement = bank_file(tmp_path)

    page.goto(base + "/payments/import/")
    page.get_by_label("Bank file").set_input_files(str(statement))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("heading", name=re.compile("Finished"))).to_be_visible()
    totals = page.locator("table[data-totals]")
    expect(totals).to_contain_text("$250.00")
    expect(page.locator("code.raw-line")).to_contain_text("not-money,Broken,INV-9")
    expect(page.get_by_role("link", name="Review the 2 new payments")).to_be_visible()

    # The same file again: a warning, and nothing to review.
    page.get_by_role("link", name="Import another file").click()
    page.get_by_label("Bank file").set_input_files(str(statement))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("heading", name=re.compile("Finished"))).to_be_visible()
    expect(page.locator("[data-nothing-new]")).to_contain_text(
        "Nothing new in this file: its 2 credits were imported before — it is the same file"
    )
    expect(page.get_by_role("link", name=re.compile("Review the"))).to_have_count(0)

    # A file that is not a bank file: refused (400), the reason once on the form, then listed
    # once.
    page.expect_console_errors(r"status of 400 .*/payments/import/\]$")
    page.get_by_role("link", name="Import another file").click()
    junk = tmp_path / "notes.txt"
    junk.write_text("hello, this is not a statement\n")
    page.get_by_label("Bank file").set_input_files(str(junk))
    page.get_by_role("button", name="Upload and import").click()
    alert = page.locator("#file-err")
    expect(alert).to_contain_text("notes.txt was refused:")
    assert page.content().count("notes.txt was refused") == 1
    page.get_by_role("link", name="Import", exact=True).click()
    expect(page.locator("[data-refused] li")).to_have_count(1)
    expect(page.locator("[data-refused] li")).to_contain_text("notes.txt was refused:")
    assert page.content().count("notes.txt was refused") == 1
    expect(page.locator("#file-err")).to_have_count(0)


@pytest.mark.django_db(transaction=True)
def test_the_approval_and_import_pages_fit_390_px(browser, live_server, clerk_book, tmp_path):
    _apply_acme_payment(clerk_book)
    page = new_page(browser, viewport={"width": 390, "height": 800})
    try:
        base = live_server.url
        sign_in(page, base)
        page.goto(base + "/payments/import/")
        page.get_by_label("Bank file").set_input_files(str(bank_file(tmp_path)))
        page.get_by_role("button", name="Upload and import").click()
        expect(page.get_by_role("heading", name=re.compile("Finished"))).to_be_visible()
        assert _no_sideways_scroll(page) <= 0, "import detail"
        for path in ["/", "/changes/", PAYMENT_CHANGES, "/payments/import/"]:
            page.goto(base + path)
            assert _no_sideways_scroll(page) <= 0, path
        page.goto(base + PAYMENT_CHANGES)
        page.locator(".ledger-preview summary").first.click()
        assert _no_sideways_scroll(page) <= 0, "ledger lines open"
        page.get_by_label("Select all on this page").check()
        page.get_by_role("button", name="Reject selected…").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        assert _no_sideways_scroll(page) <= 0, "reject dialog"
    finally:
        close_page(page)
