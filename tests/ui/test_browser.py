"""The clerk's day in a real browser: Playwright drives Debian's headless Chromium against
the live server. Sign in, import a bank file, apply a suggestion with the keyboard, split a
payment over two invoices, approve the accounting changes, see the dashboard change."""

import os
import re
import shutil
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium"),
]

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a-long-browser-password"


@pytest.fixture(scope="module", autouse=True)
def _allow_orm_beside_playwright_loop():
    """Playwright's sync API runs its own event loop; Django must not refuse ORM calls from
    the test thread meanwhile. Set for this module only, and restored after it."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def clerk_book(transactional_db):
    """An organization with a clerk and four open invoices; auto-apply off so the clerk
    applies the suggestions."""
    from arpilot import services as org_services
    from payments.models import PaymentSettings
    from payments.services import payment_settings_get
    from tests.factories import CustomerFactory
    from tests.receivables.factories import make_invoice

    org = org_services.organization_create(name="Browser Receivables")
    user = org_services.user_create(username="carol", password=PASSWORD)
    org_services.membership_add(organization=org, user=user)
    payment_settings_get(organization=org)
    PaymentSettings.objects.filter(organization=org).update(auto_apply_enabled=False)
    today = timezone.localdate()
    acme = CustomerFactory(organization=org, company_name="Acme Widgets", external_id="C-1")
    bolt = CustomerFactory(organization=org, company_name="Bolt Logistics", external_id="C-2")
    for number, customer, amount in [
        ("INV-1001", acme, "100.00"),
        ("INV-2001", bolt, "120.00"),
        ("INV-2002", bolt, "80.00"),
        ("INV-2003", bolt, "500.00"),
    ]:
        make_invoice(
            org,
            customer=customer,
            invoice_number=number,
            amount=amount,
            issue_date=today - timedelta(days=10),
            due_date=today + timedelta(days=20),
        )
    return org


def bank_file(tmp_path):
    day = timezone.localdate().isoformat()
    path = tmp_path / "statement.csv"
    path.write_text(
        "Date,Amount,Payer,Reference\n"
        f"{day},100.00,Acme Widgets,Payment INV-1001\n"
        f"{day},150.00,Bolt Logistics,Remittance\n"
        f"{day},-12.50,Bank,Monthly fee\n"
        f"{day},not-money,Broken,INV-9\n"
    )
    return path


def sign_in(page, base):
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def kpi(page, name: str) -> str:
    return page.locator(f'[data-kpi="{name}"] .kpi-value').inner_text().strip()


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
    expect(acme).to_be_focused()
    page.keyboard.press("a")
    changed = acme.locator(".ri-changes")
    expect(changed).to_contain_text("INV-1001: due $100.00 → $0.00 (Pending → Paid)")
    expect(changed).to_contain_text("Payment: Unmatched → Applied")

    # Split the Bolt payment over two invoices found with the search (/).
    bolt.focus()
    page.keyboard.press("/")
    search = bolt.get_by_label("Find open invoices (number or customer)")
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
