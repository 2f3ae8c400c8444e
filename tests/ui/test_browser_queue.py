"""The review queue in a real browser (Playwright, Debian's Chromium): `a` applies only a
sure suggestion and offers Undo, anything weaker asks in place, ties are never resolved
silently, an expired session says so, the split editor pre-fills only what is left and keeps
its rows when refused, `r` updates the count and moves on, `Esc` closes the search, `j`
turns the page; no console errors, and no sideways scroll at 390 px."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.ui.browser_kit import BROWSER_MARKS, close_page, expect, new_page, sign_in

pytestmark = BROWSER_MARKS

QUEUE = "/payments/review/"


def pay(org, amount, payer, *, suggestions=(), days_ago=0):
    """A payment with the given suggestions: (score, [invoice numbers], amount or None)."""
    from datetime import timedelta

    from payments.models import MatchSuggestion
    from payments.services import payment_create
    from receivables.models import Invoice

    payment = payment_create(
        organization=org,
        amount=Decimal(amount),
        payment_date=timezone.localdate() - timedelta(days=days_ago),
        payer_name=payer,
    )
    for rank, (score, numbers, reasons) in enumerate(suggestions, start=1):
        invoices = [Invoice.objects.get(organization=org, invoice_number=n) for n in numbers]
        MatchSuggestion.objects.create(
            organization=org,
            payment=payment,
            rank=rank,
            invoice_ids=[str(i.pk) for i in invoices],
            invoice_numbers=numbers,
            amount=Decimal(amount),
            score=score,
            reasons=reasons,
        )
    return payment


def row(page, payment):
    return page.locator(f"#payment-{payment.pk}")


@pytest.mark.django_db(transaction=True)
def test_a_applies_a_sure_suggestion_moves_on_and_undo_takes_it_back(page, live_server, clerk_book):
    from payments.models import Payment

    sure = pay(
        clerk_book,
        "100.00",
        "Acme Widgets",
        suggestions=[
            (
                0.97,
                ["INV-1001"],
                ["invoice number INV-1001 in reference", "amount equals open balance"],
            )
        ],
    )
    later = pay(clerk_book, "80.00", "Bolt Logistics", suggestions=[(0.3, ["INV-2002"], [])])
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE)
    expect(row(page, sure).locator(".band-sure")).to_have_text("Sure")
    expect(row(page, sure)).to_contain_text("Strong evidence The reference names invoice INV-1001.")

    page.keyboard.press("j")
    expect(row(page, sure)).to_be_focused()
    page.keyboard.press("a")

    expect(row(page, sure).locator(".ri-changes")).to_contain_text("Payment: Unmatched → Applied")
    toast = page.locator("#toast")
    expect(toast).to_contain_text("INV-1001: due $100.00 → $0.00")
    expect(row(page, later)).to_be_focused()  # the next payment takes focus
    assert Payment.objects.get(pk=sure.pk).status == "applied"

    expect(toast.get_by_role("button", name="Undo")).to_be_visible()
    page.keyboard.press("u")
    expect(row(page, sure).locator(".ri-changes")).to_contain_text("Payment: Applied → Unmatched")
    assert Payment.objects.get(pk=sure.pk).status == "unmatched"


@pytest.mark.django_db(transaction=True)
def test_a_asks_before_a_weak_suggestion_and_says_why(page, live_server, clerk_book):
    from payments.models import Payment

    weak = pay(
        clerk_book,
        "37.00",
        "Zed Traders",
        suggestions=[(0.01, ["INV-1001"], ["partial payment of open balance 100.00"])],
    )
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE)
    item = row(page, weak)
    expect(item.locator(".band-weak")).to_have_text("Weak")
    expect(item).to_contain_text("Weak: the reference names none of its invoices")

    item.focus()
    page.keyboard.press("a")

    confirm = item.get_by_role("button", name="Apply anyway")
    expect(confirm).to_be_focused()
    expect(item.locator(".sg-confirm")).to_contain_text("Weak match (1%).")
    assert Payment.objects.get(pk=weak.pk).status == "unmatched"

    item.get_by_role("button", name="Cancel").click()
    expect(item.locator(".sg-confirm")).to_have_count(0)
    assert Payment.objects.get(pk=weak.pk).status == "unmatched"

    page.keyboard.press("a")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")
    expect(item.locator(".ri-changes")).to_contain_text("INV-1001: due $100.00 → $63.00")
    assert Payment.objects.get(pk=weak.pk).applied_amount == Decimal("37.00")


@pytest.mark.django_db(transaction=True)
def test_a_never_resolves_a_tie(page, live_server, clerk_book):
    from payments.models import Payment

    tied = pay(
        clerk_book,
        "80.00",
        "Bolt Logistics",
        suggestions=[
            (0.88, ["INV-2002"], []),
            (0.88, ["INV-2001"], []),
        ],
    )
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE)
    item = row(page, tied)
    expect(item.locator(".band-tie")).to_have_count(2)

    item.focus()
    page.keyboard.press("a")

    question = item.locator(".sg-confirm p").first
    expect(question).to_contain_text("Suggestion #1 ties with #2 at 88%. Nothing was applied")
    expect(question).to_be_focused()  # not either answer: Enter picks nothing
    page.keyboard.press("Enter")
    page.keyboard.press("a")
    expect(question).to_be_focused()
    assert Payment.objects.get(pk=tied.pk).status == "unmatched"
    item.get_by_role("button", name="Apply #2").click()
    expect(item.locator(".ri-changes")).to_contain_text("INV-2001")
    assert [
        a.invoice.invoice_number for a in Payment.objects.get(pk=tied.pk).allocations.all()
    ] == ["INV-2001"]


@pytest.mark.django_db(transaction=True)
def test_an_expired_session_is_reported_not_swallowed(page, live_server, clerk_book):
    from payments.models import Payment

    payment = pay(clerk_book, "10.00", "Someone")
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE)
    row(page, payment).focus()
    page.context.clear_cookies()
    page.expect_console_errors(r"status of 403", r"Response Status Error Code 403")

    page.keyboard.press("r")

    toast = page.locator("#toast")
    expect(toast).to_contain_text("Your session has expired")
    expect(toast).to_have_attribute("role", "alert")
    link = toast.get_by_role("link", name="Sign in again")
    expect(link).to_have_attribute("href", "/accounts/login/?next=%2Fpayments%2Freview%2F")
    assert Payment.objects.get(pk=payment.pk).reviewed is False


@pytest.mark.django_db(transaction=True)
def test_the_split_editor_prefills_what_is_left_and_keeps_rows_when_refused(
    page, live_server, clerk_book
):
    from payments.models import Payment

    payment = pay(clerk_book, "150.00", "Bolt Logistics")
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE)
    item = row(page, payment)
    item.focus()
    page.keyboard.press("/")
    search = item.get_by_label("Find open invoices (number, customer or amount)")
    expect(search).to_be_focused()

    search.fill("INV-2001")
    item.get_by_role("button", name="Add INV-2001").click()
    expect(item.get_by_label("Amount for INV-2001")).to_have_value("120.00")
    search.fill("500")  # by amount
    item.get_by_role("button", name="Add INV-2003").click()
    expect(item.get_by_label("Amount for INV-2003")).to_have_value("30.00")  # only what is left
    expect(item.locator("[data-split-total]")).to_contain_text("Allocated 150.00 of 150.00")

    item.get_by_label("Amount for INV-2003").fill("100.00")
    item.get_by_role("button", name="Apply split").click()
    expect(item.locator(".ri-error")).to_contain_text("more than the payment")
    expect(item.get_by_label("Amount for INV-2001")).to_have_value("120.00")
    expect(item.get_by_label("Amount for INV-2003")).to_have_value("100.00")
    assert Payment.objects.get(pk=payment.pk).applied_amount == Decimal("0.00")

    item.get_by_label("Amount for INV-2003").fill("30.00")
    item.get_by_role("button", name="Apply split").click()
    expect(item.locator(".ri-changes")).to_contain_text("INV-2003: due $500.00 → $470.00")
    expect(page.locator(f"[id='payment-{payment.pk}']")).to_have_count(1)
    expect(page.locator(".review-item")).to_have_count(1)


@pytest.mark.django_db(transaction=True)
def test_a_search_typed_before_the_split_editor_is_wired_up_still_searches(
    page, live_server, clerk_book
):
    """The split editor loads when opened; htmx wires up its search only when the new content
    settles. A search pasted in between (a busy browser stretches that moment; here a long
    settle delay) still runs once the editor is ready, instead of waiting for another key."""
    payment = pay(clerk_book, "60.00", "Bolt Logistics")
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE)
    page.evaluate("window.htmx.config.defaultSettleDelay = 1500")
    item = row(page, payment)
    item.focus()
    page.keyboard.press("/")
    search = item.get_by_label("Find open invoices (number, customer or amount)")
    search.fill("INV-2002")  # before the settle: htmx has no listener on it yet
    item.get_by_role("button", name="Add INV-2002").click()
    expect(item.get_by_label("Amount for INV-2002")).to_have_value("60.00")


@pytest.mark.django_db(transaction=True)
def test_a_refused_split_does_not_move_the_cursor_from_a_field_the_clerk_is_typing_in(
    page, live_server, clerk_book
):
    """A refused split comes back with the clerk's rows and focuses its first amount when
    htmx settles, a moment after the swap (here stretched to 1.5 s). A clerk already typing in
    another amount keeps the cursor there: what they type lands where they typed it."""
    payment = pay(clerk_book, "150.00", "Bolt Logistics")
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE)
    item = row(page, payment)
    item.focus()
    page.keyboard.press("/")
    search = item.get_by_label("Find open invoices (number, customer or amount)")
    expect(search).to_be_focused()
    search.fill("INV-2001")
    item.get_by_role("button", name="Add INV-2001").click()
    search.fill("INV-2003")
    item.get_by_role("button", name="Add INV-2003").click()
    item.get_by_label("Amount for INV-2003").fill("100.00")  # 220.00 of 150.00: refused

    page.evaluate("window.htmx.config.defaultSettleDelay = 1500")
    item.get_by_role("button", name="Apply split").click()
    expect(item.locator(".ri-error")).to_contain_text("more than the payment")
    item.get_by_label("Amount for INV-2003").fill("30.00")  # before the settle
    page.wait_for_timeout(1800)  # the settle has come and gone

    expect(item.get_by_label("Amount for INV-2001")).to_have_value("120.00")
    expect(item.get_by_label("Amount for INV-2003")).to_have_value("30.00")
    expect(item.get_by_label("Amount for INV-2003")).to_be_focused()


@pytest.mark.django_db(transaction=True)
def test_r_updates_the_count_esc_closes_the_search_and_j_turns_the_page(
    page, live_server, clerk_book, monkeypatch
):
    from payments.views import queue

    monkeypatch.setattr(queue, "QUEUE_PAGE", 2)
    first = pay(clerk_book, "30.00", "First Payer", days_ago=0)
    second = pay(clerk_book, "20.00", "Second Payer", days_ago=1)
    third = pay(clerk_book, "10.00", "Third Payer", days_ago=2)
    sign_in(page, live_server.url)
    page.goto(live_server.url + QUEUE + "?order=newest")
    count = page.locator("[data-unreviewed-count]")
    expect(count).to_have_text("3 unreviewed payments")

    page.keyboard.press("j")
    expect(row(page, first)).to_be_focused()
    page.keyboard.press("/")
    search = row(page, first).get_by_label("Find open invoices (number, customer or amount)")
    expect(search).to_be_focused()
    page.keyboard.press("Escape")
    expect(row(page, first).locator("details[data-split]")).not_to_have_attribute("open", "")
    expect(row(page, first)).to_be_focused()

    page.keyboard.press("r")
    expect(page.locator("#toast")).to_contain_text("Marked reviewed")
    expect(page.locator("#toast").get_by_role("button", name="Undo reviewed")).to_be_visible()
    expect(count).to_have_text("2 unreviewed payments")
    expect(row(page, second)).to_be_focused()

    page.keyboard.press("j")  # past the last row: the next page (less the one reviewed)
    expect(page).to_have_url(re.compile(r"page=1"))
    expect(row(page, third)).to_be_focused()
    expect(page.locator("[data-unreviewed-count]")).to_have_text("2 unreviewed payments")


@pytest.mark.django_db(transaction=True)
def test_narrow_queue_and_payer_page_have_no_sideways_scroll(browser, live_server, clerk_book):
    weak = pay(
        clerk_book,
        "37.00",
        "A payer with a rather long name that goes on",
        suggestions=[
            (
                0.01,
                ["INV-1001"],
                ["partial payment of open balance 100.00", "payer name ≈ Acme Widgets (0.41)"],
            ),
            (0.01, ["INV-2001"], []),
        ],
    )
    page = new_page(browser, viewport={"width": 390, "height": 800})
    try:
        sign_in(page, live_server.url)
        page.goto(live_server.url + QUEUE)
        row(page, weak).focus()
        page.keyboard.press("a")
        expect(row(page, weak).locator(".sg-confirm").first).to_be_visible()
        page.keyboard.press("/")
        for path in [None, "/payments/payers/"]:
            if path:
                page.goto(live_server.url + path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, path
    finally:
        close_page(page)
