"""Each page renders in a fixed number of SQL queries, whatever the number of rows.

Every page costs 3 queries before its own (session, user, the clerk's memberships with
their organizations); the numbers below include them.
"""

import pytest
from django.urls import reverse

from payments.models import Payment
from receivables.models import Invoice
from tests.ui.builders import book

pytestmark = pytest.mark.django_db

PAGES = {
    # AR aging, payment counts, unmatched totals per currency, accounting changes.
    "dashboard": (lambda ids: reverse("reconciliation:dashboard"), 7),
    "invoices": (lambda ids: reverse("receivables:invoices"), 6),
    "invoice": (lambda ids: reverse("receivables:invoice", args=[ids["invoice"]]), 8),
    "customer-panel": (
        lambda ids: reverse("receivables:customer-panel", args=[ids["customer"]]),
        6,
    ),
    "customers": (lambda ids: reverse("customers:list"), 8),
    "customer": (lambda ids: reverse("customers:detail", args=[ids["customer"]]), 6),
    # + the payment settings (confidence bands, write-off tolerance) and the auto-applied
    # payments the clerk may mark reviewed together.
    "review": (lambda ids: reverse("payments:review"), 10),
    # The list shows no suggestions (it no longer reads their invoices).
    "payments": (lambda ids: reverse("payments:list"), 7),
    # + the payment settings, the open items of the suggested customer and the deduction
    # reasons in the split editor.
    "payment": (lambda ids: reverse("payments:detail", args=[ids["payment"]]), 12),
    "search": (
        lambda ids: reverse("payments:invoice-search", args=[ids["payment"]]) + "?q=Holdings",
        5,
    ),
    "invoice-payments": (
        lambda ids: reverse("payments:invoice-panel", args=[ids["invoice"]]),
        5,
    ),
    "imports": (lambda ids: reverse("payments:import"), 4),
    # … and the sync target (the banner when none is configured).
    "changes": (lambda ids: reverse("reconciliation:changes"), 7),
    "invoice-history": (
        lambda ids: reverse("reconciliation:invoice-history", args=[ids["invoice"]]),
        5,
    ),
    "webhooks": (lambda ids: reverse("webhooks:list"), 4),
    "webhook": (lambda ids: reverse("webhooks:detail", args=[ids["endpoint"]]), 7),
}


def _invoice_of(org, payment):
    number = payment.payer_reference.split()[2]  # "Payment for INV-00001 thanks"
    return Invoice.objects.for_org(org).get(invoice_number=number).pk


def _data(org, size, settings) -> dict:
    """``size`` invoices, payments (half applied, so allocations, ledger entries and
    accounting changes exist) and webhook deliveries."""
    from payments import services
    from webhooks import services as webhook_services

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    endpoint = webhook_services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/hook", events=["invoice.paid"]
    )
    for _ in range(size - 1):
        webhook_services.endpoint_create(
            organization=org, url="http://127.0.0.1:9/other", events=["invoice.paid"]
        )
    invoices = book(org, size)
    payments = list(Payment.objects.for_org(org).order_by("payer_name"))
    for payment in payments[: size // 2]:  # each pays an invoice: a delivery per endpoint
        services.payment_update(
            organization=org,
            payment_id=payment.pk,
            allocations=[{"invoice_id": _invoice_of(org, payment), "amount": payment.amount}],
        )
    return {
        "invoice": invoices[0].pk,
        "customer": invoices[0].customer_id,
        "payment": payments[0].pk,
        "endpoint": endpoint.pk,
    }


@pytest.mark.parametrize("size", [2, 6])
@pytest.mark.parametrize("page", list(PAGES))
def test_page_query_count_does_not_grow_with_rows(
    ui, org, settings, size, page, django_assert_num_queries
):
    ids = _data(org, size, settings)
    url_of, expected = PAGES[page]
    url = url_of(ids)
    with django_assert_num_queries(expected):
        response = ui.get(url)
    assert response.status_code == 200
