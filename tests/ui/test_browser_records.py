"""Customer, invoice and webhook pages in a real browser (Playwright, Debian's Chromium):
balances and the activity timeline, sorting, filter chips, a bad date in words, the CSV
export with a formula cell neutralised, webhook endpoint changes (and both kinds of events
refused), and no sideways scrolling at 390 px. The shared ``page`` fixture fails a test whose
page logged a console error it did not announce."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.ui.browser_kit import BROWSER_MARKS, PASSWORD, expect, sign_in

pytestmark = BROWSER_MARKS

NARROW = {"width": 390, "height": 844}


def assert_no_sideways_scroll(page):
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{page.url} is {width} px wide in a {inner} px window"


def sign_in_as(page, base, username):
    page.goto(base + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.fixture
def admin_user(clerk_book):
    from arpilot import services as org_services

    user = org_services.user_create(username="dora", password=PASSWORD)
    org_services.membership_add(organization=clerk_book, user=user, role="admin")
    return user


# --- customers --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_customer_balances_and_activity(page, live_server, clerk_book):
    from payments import services as payment_services
    from receivables.models import Invoice
    from tests.factories import make_payment

    invoice = Invoice.objects.for_org(clerk_book).get(invoice_number="INV-2001")
    payment = make_payment(clerk_book, amount="120.00", payer_name="Bolt Logistics", days_ago=0)
    payment_services.payment_update(
        organization=clerk_book, payment_id=payment.pk, invoice_id=invoice.pk
    )
    Invoice.objects.for_org(clerk_book).filter(invoice_number="INV-2003").update(status="overdue")
    base = live_server.url
    sign_in(page, base)

    page.get_by_role("link", name="Customers").click()
    bolt_row = page.get_by_role("row", name=re.compile("Bolt Logistics"))
    expect(bolt_row.locator('[data-balance="open"]')).to_have_text("$580.00")
    expect(bolt_row.locator('[data-balance="overdue"]')).to_contain_text("$500.00")

    bolt_row.get_by_role("link", name="Bolt Logistics").click()
    expect(page.get_by_role("heading", name="Bolt Logistics")).to_be_visible()
    expect(page.locator('dd[data-balance="open"]')).to_have_text("$580.00")
    expect(page.locator('dd[data-balance="overdue"]')).to_have_text("$500.00")
    timeline = page.locator("#customer-activity .timeline-item")
    expect(timeline.first).to_contain_text("Payment applied")
    expect(timeline.first).to_contain_text("INV-2001")
    expect(timeline).to_have_count(4)
    expect(timeline.filter(has_text="Invoice issued")).to_have_count(3)
    open_rows = page.locator("#customer-receivables .table-wrap tbody tr")
    expect(open_rows).to_have_count(2)
    expect(page.locator("#customer-receivables .badge-not-due")).to_have_text("Pending")

    page.set_viewport_size(NARROW)
    assert_no_sideways_scroll(page)
    page.goto(base + "/customers/")
    assert_no_sideways_scroll(page)
    page.goto(f"{base}/invoices/{invoice.pk}/")
    expect(page.get_by_role("heading", name=re.compile("Invoice INV-2001"))).to_be_visible()
    assert_no_sideways_scroll(page)


# --- invoices ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_invoice_sorting_chips_bad_dates_and_export(page, live_server, clerk_book, tmp_path):
    from tests.factories import CustomerFactory, make_invoice

    sneaky = CustomerFactory(organization=clerk_book, company_name='=HYPERLINK("x")')
    today = timezone.localdate()
    make_invoice(
        clerk_book,
        customer=sneaky,
        invoice_number="INV-3001",
        amount="7.00",
        issue_date=today - timedelta(days=3),
        due_date=today + timedelta(days=3),
    )
    base = live_server.url
    sign_in(page, base)
    page.get_by_role("link", name="Invoices", exact=True).click()
    expect(page.locator("[data-totals]")).to_have_text("5 invoices · amount $807.00 · due $807.00")

    # Sort by amount: ascending, then descending; the header says which.
    page.get_by_role("link", name=re.compile(r"^Amount \(sort ascending\)")).click()
    amount_header = page.locator("th[aria-sort]")
    expect(amount_header).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("tbody tr").first).to_contain_text("INV-3001")
    page.get_by_role("link", name=re.compile(r"^Amount \(sort descending\)")).click()
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    expect(page.locator("tbody tr").first).to_contain_text("INV-2003")

    # A dashboard-style link's hidden filters are chips; removing one widens the list.
    page.goto(base + "/invoices/?status=pending&open=1")
    chips = page.locator("ul.chips li")
    expect(chips).to_have_count(2)
    expect(chips.first).to_have_text(re.compile("Status: Pending"))
    page.get_by_role("link", name="Remove filter Status: Pending").click()
    expect(page).to_have_url(re.compile(r"/invoices/\?open=1$"))
    expect(page.locator("ul.chips li")).to_have_count(1)
    expect(page.locator("tbody tr")).to_have_count(5)

    # Export what the filters select: the formula cell is neutralised.
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Export CSV")).click()
    body = tmp_path / "out.csv"
    download.value.save_as(body)
    rows = list(csv.reader(io.StringIO(body.read_text())))
    assert rows[0][:2] == ["Invoice", "Customer"]
    sneaky_row = next(row for row in rows if row[0] == "INV-3001")
    assert sneaky_row[1] == '\'=HYPERLINK("x")'
    assert len(rows) == 6

    # Narrow window: no sideways scroll, the table scrolls in its own frame.
    page.set_viewport_size(NARROW)
    page.goto(base + "/invoices/?sort=-due")
    assert_no_sideways_scroll(page)

    # A date the filter cannot read is an error in words, and nothing is listed.
    page.goto(base + "/invoices/?due_date_to=2024-13-45")
    expect(page.get_by_role("alert")).to_contain_text("Due date to: enter a valid date")
    expect(page.get_by_label("Due on or before")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("No invoices match.")).to_be_visible()
    assert_no_sideways_scroll(page)


# --- webhooks ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_webhook_endpoint_lifecycle(page, live_server, clerk_book, admin_user, settings):
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    base = live_server.url
    sign_in_as(page, base, "dora")
    page.get_by_role("link", name="Webhooks").click()

    # The script keeps "every event type" and single types apart.
    every = page.get_by_label("Every event type")
    paid = page.get_by_label("invoice.paid")
    expect(every).to_be_checked()
    paid.check()
    expect(every).not_to_be_checked()
    every.check()
    expect(paid).not_to_be_checked()
    paid.check()
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/erp-hooks")
    page.get_by_label("Description").fill("ERP")
    page.get_by_role("button", name="Register endpoint").click()
    expect(page.get_by_role("heading", name="Signing secret")).to_be_visible()
    endpoint = WebhookEndpoint.objects.for_org(clerk_book).get()
    assert endpoint.events == ["invoice.paid"]
    first_secret = endpoint.secret
    expect(page.get_by_role("textbox", name="Signing secret")).to_have_value(first_secret)

    # Edit: every event type instead.
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Every event type").check()
    expect(page.get_by_label("invoice.paid")).not_to_be_checked()
    page.get_by_role("button", name="Save endpoint").click()
    expect(page.get_by_text("Endpoint saved.")).to_be_visible()
    endpoint.refresh_from_db()
    assert endpoint.events == ["*"]

    # Disable, then enable again.
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("Endpoint disabled: new events wait")).to_be_visible()
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_text("Endpoint enabled")).to_be_visible()

    # Rotate the secret: the new one is shown once.
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("heading", name="New signing secret")).to_be_visible()
    endpoint.refresh_from_db()
    assert endpoint.secret != first_secret
    expect(page.get_by_role("textbox", name="Signing secret")).to_have_value(endpoint.secret)

    # The last response in words, not an exception.
    from webhooks import services

    services.endpoint_update(endpoint=endpoint, is_active=False)
    services.endpoint_send_test(endpoint=endpoint)
    WebhookDelivery.objects.for_org(clerk_book).update(
        status="failed",
        attempt_count=3,
        last_error="ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries "
        "exceeded (Caused by NewConnectionError('[Errno 111] Connection refused'))",
    )
    page.reload()
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("The server refused the connection.")
    expect(row).not_to_contain_text("Errno")

    # 390 px: neither page scrolls sideways.
    page.set_viewport_size(NARROW)
    assert_no_sideways_scroll(page)
    for path in ("edit", "delete"):
        page.goto(f"{base}/webhooks/{endpoint.pk}/{path}")
        assert_no_sideways_scroll(page)
    page.goto(base + "/webhooks/")
    assert_no_sideways_scroll(page)
    page.set_viewport_size({"width": 1280, "height": 800})

    # Delete, after a question.
    page.get_by_role("link", name="http://127.0.0.1:9/erp-hooks").click()
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete endpoint?")).to_be_visible()
    expect(page.get_by_text("Its 1 delivery and their attempts")).to_be_visible()
    page.get_by_role("button", name="Delete endpoint").click()
    expect(page.get_by_text("Endpoint http://127.0.0.1:9/erp-hooks deleted.")).to_be_visible()
    assert not WebhookEndpoint.objects.for_org(clerk_book).exists()


@pytest.mark.django_db(transaction=True)
def test_both_kinds_of_events_are_refused_without_the_script(
    page, live_server, clerk_book, admin_user, settings
):
    from webhooks.models import WebhookEndpoint

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    base = live_server.url
    sign_in_as(page, base, "dora")
    page.expect_console_errors(r"status of 400 .*/webhooks/")  # the refusal, on purpose
    page.goto(base + "/webhooks/")
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/both")
    # Tick both as a page without the script would let one (no change events fire).
    page.evaluate(
        """() => {
            document.querySelector('input[name="all_events"]').checked = true;
            document.querySelector('input[name="events"][value="invoice.paid"]').checked = true;
        }"""
    )
    page.get_by_role("button", name="Register endpoint").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "Events: Tick either every event type or single event types, not both."
    )
    assert not WebhookEndpoint.objects.for_org(clerk_book).exists()
    assert_no_sideways_scroll_at_390(page)


def assert_no_sideways_scroll_at_390(page):
    page.set_viewport_size(NARROW)
    assert_no_sideways_scroll(page)


@pytest.mark.django_db(transaction=True)
def test_a_clerk_sees_webhooks_but_cannot_change_them(page, live_server, clerk_book, settings):
    from webhooks import services

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    endpoint = services.endpoint_create(
        organization=clerk_book, url="http://127.0.0.1:9/clerk-view", events=["*"]
    )
    base = live_server.url
    sign_in(page, base)
    page.goto(f"{base}/webhooks/{endpoint.pk}/")
    expect(page.get_by_role("heading", name="http://127.0.0.1:9/clerk-view")).to_be_visible()
    expect(page.get_by_role("button", name="Rotate secret")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
