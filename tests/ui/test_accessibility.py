"""Every clerk page, at a desktop width and on a phone, for everyone: axe-core (vendored under
tests/ui/vendor/) finds no serious or critical violation; on a 390 px touch screen nothing
scrolls sideways, the nav has no blank band under it, no date breaks across lines and the
keyboard help is gone; badges and the focus ring keep their contrast.

One case per page, so a page's failure names the page."""

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.ui.browser_kit import BROWSER_MARKS, PASSWORD, close_page, new_page, sign_in

pytestmark = [*BROWSER_MARKS, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# A phone: 390 CSS px wide, a touch screen (so `(hover: none)` and `(pointer: coarse)` match).
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True}
FAILING_IMPACTS = {"serious", "critical"}


# --- the book ---------------------------------------------------------------------------------


def demo_book(settings) -> dict:
    """The demo organization's data (small), an admin ``carol``, a finished bank-file import,
    a webhook endpoint with deliveries and a reviewed payment; the ids the pages need."""
    from arpilot import services as org_services
    from arpilot.models import Membership
    from demo.seed import seed_collections, seed_organization
    from payments.models import Payment
    from payments.services import payment_import_create
    from reconciliation.models import AccountingChange
    from webhooks import services as webhook_services
    from webhooks.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEvent

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    org = org_services.organization_create(name="Demo Receivables Co")
    seed_organization(org, small=True)
    user = org_services.user_create(username="carol", password=PASSWORD)
    org_services.membership_add(organization=org, user=user, role=Membership.Role.ADMIN)
    seed_collections(org, user=user)

    day = timezone.localdate().isoformat()
    payment_import = payment_import_create(
        organization=org,
        filename="statement-2026-12.csv",
        data=(
            "Date,Amount,Payer,Reference\n"
            f"{day},100.00,Acme Corporation,Payment INV-1001\n"
            f"{day},150.00,Globex Industries,Remittance\n"
            f"{day},not-money,Broken,INV-9\n"
        ).encode(),
    )
    endpoint = webhook_services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/hooks/arpilot/receiver", events=["*"]
    )
    for status in ("failed", "succeeded", "pending"):
        event = WebhookEvent.objects.create(
            organization=org,
            event_type="invoice.paid",
            payload={"id": "x", "type": "invoice.paid", "created_at": "t", "data": {}},
        )
        delivery = WebhookDelivery.objects.create(
            organization=org,
            endpoint=endpoint,
            event=event,
            status=status,
            attempt_count=1,
            next_attempt_at=timezone.now() + timedelta(hours=1) if status == "pending" else None,
        )
        WebhookDeliveryAttempt.objects.create(
            delivery=delivery, number=1, status_code=500, duration_ms=12, response_snippet="boom"
        )

    payments = Payment.objects.filter(organization=org).order_by("payment_date", "pk")
    applied = payments.filter(allocations__isnull=False).first()
    reviewed = payments.exclude(pk=applied.pk).first()
    Payment.objects.filter(pk=reviewed.pk).update(reviewed=True, reviewed_at=timezone.now())
    invoice = applied.allocations.first().invoice
    assert AccountingChange.objects.filter(organization=org).exists()
    return {
        "payment": applied.pk,
        "reviewed_payment": reviewed.pk,
        "import": payment_import.pk,
        "invoice": invoice.pk,
        "customer": invoice.customer_id,
        "endpoint": endpoint.pk,
    }


PAGES = {
    "sign-in": lambda ids: reverse("login"),
    "dashboard": lambda ids: reverse("reconciliation:dashboard"),
    "review-queue": lambda ids: reverse("payments:review"),
    "payment-list": lambda ids: reverse("payments:list"),
    "payment-detail": lambda ids: reverse("payments:detail", args=[ids["payment"]]),
    "payment-detail-reviewed": lambda ids: reverse(
        "payments:detail", args=[ids["reviewed_payment"]]
    ),
    "import": lambda ids: reverse("payments:import"),
    "import-detail": lambda ids: reverse("payments:import-detail", args=[ids["import"]]),
    "invoice-list": lambda ids: reverse("receivables:invoices"),
    "invoice-detail": lambda ids: reverse("receivables:invoice", args=[ids["invoice"]]),
    "customer-list": lambda ids: reverse("customers:list"),
    "customer-detail": lambda ids: reverse("customers:detail", args=[ids["customer"]]),
    "accounting-changes": lambda ids: reverse("reconciliation:changes"),
    "collections-worklist": lambda ids: reverse("collections:worklist"),
    "dunning-policy": lambda ids: reverse("collections:policy"),
    "dunning-run": lambda ids: reverse("collections:run"),
    "reminders": lambda ids: reverse("collections:reminders"),
    "emails": lambda ids: reverse("mail:list"),
    "webhook-list": lambda ids: reverse("webhooks:list"),
    "webhook-endpoint": lambda ids: reverse("webhooks:detail", args=[ids["endpoint"]]),
    "not-found-in-workspace": lambda ids: reverse("payments:detail", args=[uuid.uuid4()]),
    "not-found": lambda ids: "/no-such-page/",
}
NOT_FOUND = {"not-found-in-workspace", "not-found"}


# --- what is measured in the page ------------------------------------------------------------


def axe_violations(page) -> list[str]:
    """axe-core's serious and critical violations, one line per element."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE)
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact,
                        nodes: v.nodes.map(n => [n.target.join(' '), n.failureSummary || '', n.html.slice(0, 160)])}))"""
    )
    return [
        f"{violation['impact']} {violation['id']}: {target} — {summary.splitlines()[-1].strip()}"
        f" — {html}"
        for violation in violations
        if violation["impact"] in FAILING_IMPACTS
        for target, summary, html in violation["nodes"]
    ]


SIDEWAYS_SCROLL = """() => {
  const root = document.documentElement;
  const vw = root.clientWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > vw + 0.5)
    .map(el => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).trim().replace(/\\s+/g, '.') : ''));
  return {scrollWidth: root.scrollWidth, clientWidth: vw, wide: wide.slice(0, 5)};
}"""

# A date (2026-12-02), with a time (2026-12-02 14:05 or 14:05:09), or a time alone (14:05:09).
WRAPPED_DATES = r"""() => {
  const pattern = /\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\b|\b\d{2}:\d{2}:\d{2}\b/g;
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  const wrapped = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(pattern)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (lines.size > 1) {
        const el = node.parentElement;
        wrapped.push(match[0] + ' in <' + el.tagName.toLowerCase() + (el.className ? ' class="' + el.className + '"' : '') + '>');
      }
    }
  }
  return wrapped;
}"""

# The nav's box ends with its links, and the page's main part starts right under the nav (or
# under the top bar on a page without the nav).
NAV_BAND = """() => {
  const nav = document.querySelector('.sidenav');
  const above = (nav || document.querySelector('.topbar')).getBoundingClientRect();
  const main = document.querySelector('main').getBoundingClientRect();
  const links = nav ? nav.querySelector('ul').getBoundingClientRect() : above;
  return {below_links: Math.round(above.bottom - links.bottom), main_gap: Math.round(main.top - above.bottom)};
}"""


def sideways_scroll(page) -> list[str]:
    scroll = page.evaluate(SIDEWAYS_SCROLL)
    if scroll["scrollWidth"] <= scroll["clientWidth"]:
        return []
    return [
        f"scrolls sideways: {scroll['scrollWidth']} px wide in {scroll['clientWidth']} px "
        f"(sticking out: {', '.join(scroll['wide'])})"
    ]


def phone_problems(page) -> list[str]:
    problems = sideways_scroll(page)
    band = page.evaluate(NAV_BAND)
    if band["below_links"] > 16 or band["main_gap"] > 1:
        problems.append(f"blank band under the nav: {band}")
    problems += [f"date breaks across lines: {text}" for text in page.evaluate(WRAPPED_DATES)]
    visible_keys = page.locator(".shortcuts:visible, .keyboard-help:visible, kbd:visible").count()
    if visible_keys:
        problems.append(f"keyboard help shown on a touch screen ({visible_keys} elements)")
    return problems


def visit(page, url: str, *, status: int) -> None:
    response = page.goto(url)
    assert response.status == status, f"{url}: {response.status}"
    page.wait_for_load_state("networkidle")


# --- the pages ---------------------------------------------------------------------------------


@pytest.fixture
def book(settings, transactional_db):
    return demo_book(settings)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_passes_axe_and_fits_a_phone(browser, live_server, book, name):
    """Given the demo book, when a signed-in admin opens the page at 1280 px and on a 390 px
    touch screen, then axe finds nothing serious and the phone layout holds."""
    url = live_server.url + PAGES[name](book)
    status = 404 if name in NOT_FOUND else 200
    desktop = new_page(browser, **DESKTOP)
    phone = new_page(browser, **PHONE)
    try:
        if name != "sign-in":
            sign_in(desktop, live_server.url)
            phone.context.add_cookies(desktop.context.cookies())
        for each in (desktop, phone):
            if status == 404:
                each.expect_console_errors(r"status of 404 \(Not Found\)")

        visit(desktop, url, status=status)
        found = {"desktop 1280": axe_violations(desktop) + sideways_scroll(desktop)}
        visit(phone, url, status=status)
        found["phone 390"] = axe_violations(phone) + phone_problems(phone)
    finally:
        close_page(phone)
        close_page(desktop)

    report = "\n".join(f"[{size}] {line}" for size, lines in found.items() for line in lines)
    assert not report, f"{name} ({url}):\n{report}"


# --- contrast -----------------------------------------------------------------------------------


def luminance(rgb) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first, second) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


# The colour behind an element: the first ancestor (or itself) with an opaque background.
BACKGROUND_JS = """el => {
  for (let node = el; node; node = node.parentElement) {
    const color = getComputedStyle(node).backgroundColor;
    if (color !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(color)) return color;
  }
  return 'rgb(255, 255, 255)';
}"""


def test_every_badge_has_a_contrast_of_4_5_to_1(page, live_server, book):
    """Every badge class any stylesheet of a page defines, drawn in the page: its text is at
    least 4.5:1 on its background."""
    sign_in(page, live_server.url)
    checked = {}
    for url in (
        reverse("payments:review"),
        reverse("receivables:invoices"),
        reverse("webhooks:list"),
    ):
        visit(page, live_server.url + url, status=200)
        checked |= page.evaluate(
            """() => {
              const names = new Set();
              for (const sheet of document.styleSheets) {
                for (const rule of sheet.cssRules) {
                  for (const m of (rule.selectorText || '').matchAll(/\\.badge-([\\w-]+)/g)) names.add(m[1]);
                }
              }
              const host = document.querySelector('main');
              const found = {};
              for (const name of names) {
                const badge = document.createElement('span');
                badge.className = 'badge badge-' + name;
                badge.textContent = name;
                host.appendChild(badge);
                const style = getComputedStyle(badge);
                found[name] = [style.color, style.backgroundColor];
                badge.remove();
              }
              return found;
            }"""
        )

    assert {"paid", "overdue", "pending", "void", "draft", "unmatched"} <= set(checked)
    low = {
        name: round(contrast(rgb(color), rgb(background)), 2)
        for name, (color, background) in checked.items()
        if contrast(rgb(color), rgb(background)) < 4.5
    }
    assert low == {}


def test_the_focus_ring_has_a_contrast_of_3_to_1_wherever_it_shows(page, live_server, book):
    """The focus outline of a link in the page, a nav link and the top bar's button is at
    least 3:1 against what surrounds it."""
    sign_in(page, live_server.url)
    visit(page, live_server.url + reverse("payments:list"), status=200)
    targets = {
        "link in the page": page.locator("main a").first,
        "nav link": page.locator(".sidenav a").first,
        "top bar button": page.locator(".topbar button").first,
        "button in the page": page.locator("main .btn").first,
    }
    ratios = {}
    for label, target in targets.items():
        target.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # focused by the keyboard, so :focus-visible applies
        style = target.evaluate(
            "el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"
        )
        outline_style, width, color = style
        assert outline_style != "none" and float(width.rstrip("px")) >= 2, (label, style)
        around = target.evaluate(
            BACKGROUND_JS.replace("let node = el", "let node = el.parentElement")
        )
        ratios[label] = round(contrast(rgb(color), rgb(around)), 2)

    assert all(ratio >= 3 for ratio in ratios.values()), ratios


def test_keyboard_help_shows_on_a_desktop_and_hides_on_a_touch_screen(
    browser, page, live_server, book
):
    sign_in(page, live_server.url)
    url = live_server.url + reverse("payments:review")
    visit(page, url, status=200)
    phone = new_page(browser, **PHONE)
    try:
        phone.context.add_cookies(page.context.cookies())
        visit(phone, url, status=200)

        help_ = ".shortcuts, .keyboard-help"
        assert page.locator(help_).first.is_visible()
        assert page.locator("kbd:visible").count() > 0
        assert phone.locator(f"{help_}, kbd").count() > 0
        assert phone.locator(f"{help_.replace(',', ':visible,')}:visible, kbd:visible").count() == 0
    finally:
        close_page(phone)
