"""What the browser tests share: Debian's headless Chromium driven by Playwright, a page per
test, a small book for a clerk, and signing in. Test modules take the fixtures by name
(``browser``, ``page``, ``clerk_book``; registered in ``tests/ui/conftest.py``) and set
``pytestmark = BROWSER_MARKS``.

No page may log a console error: the ``page`` fixture records every ``console.error``, every
resource the browser failed to load (Chromium logs a 4xx or 5xx response as a console error)
and every uncaught exception, and fails the test at teardown if any was logged. A test that
provokes one on purpose (a refused request it asserts on) says so first, with
``page.expect_console_errors(r"status of 403")``; an expectation that never happens fails
the test too, so none outlives its reason."""

import os
import re
import shutil
from datetime import timedelta

import pytest
from django.utils import timezone

CHROMIUM = "/usr/bin/chromium"

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium"),
]

from playwright import sync_api as playwright_api  # noqa: E402

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


@pytest.fixture(scope="module")
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
def browser(_allow_orm_beside_playwright_loop):
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


class ConsoleErrors:
    """The errors a page logged or threw, and the ones its test said it would provoke."""

    def __init__(self) -> None:
        self.logged: list[str] = []
        self.expected: dict[str, re.Pattern] = {}

    def watch(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def expect(self, *patterns: str) -> None:
        """Errors matching any of ``patterns`` (regular expressions searched in the logged
        line, which ends with the URL that logged it) are this test's, on purpose."""
        for pattern in patterns:
            self.expected[pattern] = re.compile(pattern)

    def _on_console(self, message) -> None:
        if message.type == "error":
            url = (message.location or {}).get("url", "")
            self.logged.append(f"console error: {message.text} [{url}]")

    def _on_page_error(self, error) -> None:
        self.logged.append(f"uncaught exception: {error}")

    def problems(self) -> list[str]:
        unexpected = [
            line
            for line in self.logged
            if not any(pattern.search(line) for pattern in self.expected.values())
        ]
        unseen = [
            f"expected a console error matching {text!r}, none was logged"
            for text, pattern in self.expected.items()
            if not any(pattern.search(line) for line in self.logged)
        ]
        return unexpected + unseen


# Assertions wait as long as actions do: with the suite spread over every core, a page that
# waits for a background task can take longer than Playwright's default 5 s.
expect.set_options(timeout=15_000)


def new_page(browser, **context_options):
    """A page in a fresh context (desktop size unless told), watched for console errors: its
    ``expect_console_errors(*patterns)`` declares the ones a test provokes on purpose."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **context_options})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = ConsoleErrors()
    errors.watch(page)
    page.console_errors = errors
    page.expect_console_errors = errors.expect
    return page


def close_page(page) -> None:
    """Close the page's context; fail if it logged an error its test did not expect."""
    page.context.close()
    problems = page.console_errors.problems()
    if problems:
        pytest.fail("The page logged errors:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    close_page(page)


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
