"""The collector's worklist in a real browser (Playwright, Debian's Chromium): j/k and the
arrows move the selection, ? shows the keys, Enter opens the customer; p records a promise
and c logs a call from the keyboard, each saying so in the toast and updating its row, Esc
closes a form; the promise and the call are then on the customer page's collections
timeline. The shared ``page`` fixture fails a test whose page logged a console error."""

import re
from datetime import timedelta

import pytest

from tests.ui.browser_kit import BROWSER_MARKS, expect, sign_in

pytestmark = BROWSER_MARKS

WORKLIST = "/collections/"


@pytest.fixture
def debtors(clerk_book):
    """Two customers with overdue money: Crane Corp (more, older) ranks above Delta Foods."""
    from dunning import services
    from tests.dunning.factories import customer_with_contacts, overdue_invoice

    today = services.organization_today(clerk_book)
    crane = customer_with_contacts(clerk_book, company_name="Crane Corp", external_id="C-3")
    delta = customer_with_contacts(clerk_book, company_name="Delta Foods", external_id="C-4")
    overdue_invoice(clerk_book, crane, days_overdue=45, amount="900.00", today=today)
    overdue_invoice(clerk_book, crane, days_overdue=20, amount="300.00", today=today)
    overdue_invoice(clerk_book, delta, days_overdue=10, amount="150.00", today=today)
    return {"crane": crane, "delta": delta, "today": today}


def row(page, customer):
    return page.locator(f"#wl-{customer.pk}")


@pytest.mark.django_db(transaction=True)
def test_the_keyboard_moves_through_the_worklist_and_opens_a_customer(page, live_server, debtors):
    crane, delta = debtors["crane"], debtors["delta"]
    sign_in(page, live_server.url)
    page.goto(live_server.url + WORKLIST)
    expect(page.get_by_role("heading", name="Collections worklist")).to_be_visible()
    names = page.locator(".wl-name").all_inner_texts()
    assert names == ["Crane Corp", "Delta Foods"]
    expect(row(page, crane)).to_contain_text("$1,200.00 overdue")
    expect(row(page, crane)).to_contain_text("Never contacted")

    page.keyboard.press("j")
    expect(row(page, crane)).to_be_focused()
    page.keyboard.press("j")
    expect(row(page, delta)).to_be_focused()
    expect(row(page, delta)).to_have_class(re.compile(r"\bis-current\b"))
    page.keyboard.press("k")
    expect(row(page, crane)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(row(page, delta)).to_be_focused()
    page.keyboard.press("ArrowDown")  # the last row stays (one page)
    expect(row(page, delta)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(row(page, crane)).to_be_focused()

    help_box = page.locator("#wl-help")
    expect(help_box).not_to_have_attribute("open", "")
    page.keyboard.press("?")
    expect(help_box).to_have_attribute("open", "")
    expect(help_box.get_by_text("record a promise to pay")).to_be_visible()
    page.keyboard.press("Escape")
    expect(help_box).not_to_have_attribute("open", "")

    row(page, delta).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Delta Foods", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/customers/{delta.pk}/$"))


@pytest.mark.django_db(transaction=True)
def test_a_promise_and_a_call_from_the_keyboard_reach_the_customers_timeline(
    page, live_server, debtors
):
    from dunning.models import CustomerNote, Promise

    crane = debtors["crane"]
    promised = (debtors["today"] + timedelta(days=9)).isoformat()
    sign_in(page, live_server.url)
    page.goto(live_server.url + WORKLIST)
    crane_row = row(page, crane)

    # p: the promise form opens in the row, the overdue invoices ticked and their total filled.
    page.keyboard.press("j")
    expect(crane_row).to_be_focused()
    page.keyboard.press("p")
    form = crane_row.locator("form[data-action-form='promise']")
    expect(form).to_be_visible()
    expect(form.locator("input[name='invoice_ids']").first).to_be_focused()
    amount = form.get_by_label("Amount promised")
    expect(amount).to_have_value("1200.00")
    page.keyboard.press("Space")  # untick the oldest invoice: the amount follows
    expect(amount).to_have_value("300.00")
    page.keyboard.press("Space")
    expect(amount).to_have_value("1200.00")
    amount.fill("500.00")
    form.get_by_label("Promised date").fill(promised)
    form.get_by_label("Who promised").select_option(label="Ada Payable")
    amount.press("Enter")

    toast = page.locator("#toast")
    expect(toast).to_contain_text(f"Promise recorded: $500.00 from Crane Corp by {promised}")
    expect(crane_row).to_contain_text(f"1 open promise: $500.00 by {promised}")
    expect(crane_row.locator("form")).to_have_count(0)
    expect(crane_row).to_be_focused()
    promise = Promise.objects.get(customer=crane)
    assert (str(promise.amount), promise.contact.contact_name) == ("500.00", "Ada Payable")

    # A refused form stays open with the error beside its field; Esc closes it.
    page.keyboard.press("n")
    note_form = crane_row.locator("form[data-action-form='note']")
    expect(note_form.get_by_label("Note")).to_be_focused()
    page.keyboard.press("Control+Enter")
    expect(note_form.locator("[data-field-error='body']")).to_have_text("This field is required.")
    expect(note_form.get_by_label("Note")).to_be_focused()
    page.keyboard.press("Escape")
    expect(crane_row.locator("form")).to_have_count(0)
    expect(crane_row).to_be_focused()

    # c: log a call, sent with Ctrl+Enter.
    page.keyboard.press("c")
    call_form = crane_row.locator("form[data-action-form='call']")
    expect(call_form.get_by_label("What was said")).to_be_focused()
    page.keyboard.type("Rang the AP desk; cheque in the post")
    page.keyboard.press("Control+Enter")
    expect(toast).to_contain_text("Call with Crane Corp logged.")
    expect(crane_row).to_contain_text("Last contact today")
    expect(crane_row).to_be_focused()
    assert CustomerNote.objects.get(customer=crane).kind == "call"

    # o: the customer page, its collections panel showing both.
    page.keyboard.press("o")
    expect(page.get_by_role("heading", name="Crane Corp", level=1)).to_be_visible()
    timeline = page.locator(".collections-timeline")
    expect(timeline.locator(".timeline-item").first).to_contain_text(
        "Call Call by carol: Rang the AP desk; cheque in the post"
    )
    expect(timeline).to_contain_text(f"Promise made Promised 500.00 by {promised}.")
    expect(page.locator("[data-open='promises']")).to_contain_text(f"$500.00 by {promised}")


@pytest.mark.django_db(transaction=True)
def test_the_customer_panel_records_a_note_in_place(page, live_server, debtors):
    delta = debtors["delta"]
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/customers/{delta.pk}/")
    panel = page.locator("#collections-panel")
    expect(panel).to_contain_text("No collections activity yet.")

    panel.get_by_role("link", name="Add a note").click()
    form = panel.locator("form[data-action-form='note']")
    expect(form.get_by_label("Note")).to_be_focused()
    page.keyboard.type("Asked for a copy invoice")
    form.get_by_role("button", name="Add a note").click()

    expect(page.locator("#toast")).to_contain_text("Note on Delta Foods added.")
    panel = page.locator("#collections-panel")
    expect(panel.locator(".timeline-item").first).to_contain_text("Asked for a copy invoice")
    expect(panel.locator("form")).to_have_count(0)


@pytest.mark.django_db(transaction=True)
def test_the_worklist_and_its_forms_pass_axe_and_fit_a_phone(browser, live_server, debtors):
    from tests.ui.browser_kit import close_page, new_page
    from tests.ui.test_accessibility import PHONE, axe_violations, phone_problems

    crane = debtors["crane"]
    for options in ({}, PHONE):
        page = new_page(browser, **options)
        sign_in(page, live_server.url)
        page.goto(live_server.url + WORKLIST)
        page.wait_for_load_state("networkidle")
        problems = axe_violations(page)
        row(page, crane).locator("[data-action='promise']").click()
        expect(row(page, crane).locator("form[data-action-form='promise']")).to_be_visible()
        problems += axe_violations(page)
        if options:
            problems += phone_problems(page)
        page.goto(f"{live_server.url}/customers/{crane.pk}/")
        expect(page.locator("#collections-panel")).to_be_visible()
        page.wait_for_load_state("networkidle")
        problems += axe_violations(page)
        if options:
            problems += phone_problems(page)
        close_page(page)
        assert not problems, "\n".join(problems)
