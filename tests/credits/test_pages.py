"""The deductions page and the review queue's "short pay -> deduction" (Django client)."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from credits import services
from credits.models import Deduction
from tests.factories import CustomerFactory, make_invoice, make_payment

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
PAGE = "/credits/deductions/"
PAGE_QUERIES = 8


def csrf(client) -> dict:
    client.get(reverse("reconciliation:dashboard"))
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


def _open(org, amount="20.00", reason="pricing", customer=None):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    return services.deduction_open(
        organization=org, invoice_id=invoice.pk, amount=Decimal(amount), reason_code=reason
    )


def test_the_page_lists_open_deductions_with_the_aging(ui, org):
    acme = CustomerFactory(organization=org, company_name="Acme Hardware")
    pricing = _open(org, "20.00", "pricing", customer=acme)
    old = _open(org, "7.00", "freight")
    Deduction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=70))
    resolved = _open(org, "3.00", "promotion")
    services.deduction_resolve(organization=org, deduction_id=resolved.pk, resolution="collected")

    page = text(ui.get(PAGE))

    assert f'data-deduction="{pricing.pk}"' in page and f'data-deduction="{old.pk}"' in page
    assert f'data-deduction="{resolved.pk}"' not in page  # open ones by default
    assert "Acme Hardware" in page
    aging = page[page.index('id="deduction-aging"') : page.index("</table>")]
    assert 'data-reason="freight"' in aging and 'data-reason="pricing"' in aging
    assert 'data-reason="promotion"' not in aging


def test_the_page_filters(ui, org):
    pricing = _open(org, reason="pricing")
    freight = _open(org, reason="freight")
    resolved = _open(org, reason="promotion")
    services.deduction_resolve(organization=org, deduction_id=resolved.pk, resolution="collected")

    by_reason = text(ui.get(PAGE, {"reason_code": "freight"}))
    any_status = text(ui.get(PAGE, {"status": ""}))
    by_customer = text(ui.get(PAGE, {"customer_id": str(pricing.customer_id)}))
    bad = ui.get(PAGE, {"customer_id": "nope"})

    assert f'data-deduction="{freight.pk}"' in by_reason
    assert f'data-deduction="{pricing.pk}"' not in by_reason
    assert f'data-deduction="{resolved.pk}"' in any_status
    assert f'data-deduction="{pricing.pk}"' in by_customer
    assert f'data-deduction="{freight.pk}"' not in by_customer
    assert bad.status_code == 200 and 'id="filter-errors"' in text(bad)


def test_resolving_from_the_page(ui, org):
    deduction = _open(org, "20.00", "damaged_goods")

    response = ui.post(
        reverse("credits:deduction-resolve", args=[deduction.pk]),
        {"resolution": "write_off", "note": "photos", "next": PAGE},
        follow=True,
        **csrf(ui),
    )

    deduction.refresh_from_db()
    assert (deduction.status, deduction.resolution, deduction.resolution_note) == (
        "resolved",
        "write_off",
        "photos",
    )
    assert "resolved: written off" in text(response)


def test_a_refused_resolution_says_why(ui, org):
    deduction = _open(org)

    response = ui.post(
        reverse("credits:deduction-resolve", args=[deduction.pk]),
        {"resolution": "forgive"},
        follow=True,
        **csrf(ui),
    )

    assert "Unknown resolution" in text(response)
    deduction.refresh_from_db()
    assert deduction.status == "open"


def test_another_organizations_deduction_is_not_shown_or_resolved(ui, other_org):
    theirs = _open(other_org)

    page = text(ui.get(PAGE))
    ui.post(
        reverse("credits:deduction-resolve", args=[theirs.pk]),
        {"resolution": "collected"},
        **csrf(ui),
    )

    assert f'data-deduction="{theirs.pk}"' not in page
    theirs.refresh_from_db()
    assert theirs.status == "open"


def test_the_split_panel_offers_a_deduction_and_the_queue_opens_it(ui, org):
    customer = CustomerFactory(organization=org)
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="80.00")

    panel = text(ui.get(reverse("payments:split-panel", args=[payment.pk])))
    response = ui.post(
        reverse("payments:allocate", args=[payment.pk]),
        {
            "invoice_id": [str(invoice.pk)],
            "amount": ["80.00"],
            "deduction_reason_code": "pricing",
        },
        **HTMX,
        **csrf(ui),
    )

    assert 'name="deduction_reason_code"' in panel and 'value="pricing"' in panel
    assert response.status_code == 200
    deduction = Deduction.objects.for_org(org).get()
    assert (deduction.invoice_id, deduction.amount, deduction.payment_id) == (
        invoice.pk,
        Decimal("20.00"),
        payment.pk,
    )
    toast = json.loads(response["HX-Trigger"])["arpilot:toast"]
    assert "Deduction of 20.00 opened" in toast["message"]


def test_the_queue_refuses_write_off_and_deduction_together(ui, org):
    invoice = make_invoice(org, amount="100.00")
    payment = make_payment(org, amount="80.00")

    response = ui.post(
        reverse("payments:allocate", args=[payment.pk]),
        {
            "invoice_id": [str(invoice.pk)],
            "amount": ["80.00"],
            "deduction_reason_code": "pricing",
            "write_off_short_payment": "on",
        },
        **HTMX,
        **csrf(ui),
    )

    assert "not both" in text(response)
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    assert not Deduction.objects.exists()


def test_the_rows_write_off_action_opens_a_deduction_with_a_reason(ui, org):
    invoice = make_invoice(org, amount="100.00")
    payment = make_payment(org, amount="80.00")
    ui.post(
        reverse("payments:allocate", args=[payment.pk]),
        {"invoice_id": [str(invoice.pk)], "amount": ["80.00"]},
        **HTMX,
        **csrf(ui),
    )

    response = ui.post(
        reverse("payments:write-off", args=[payment.pk]),
        {"deduction_reason_code": "freight"},
        **HTMX,
        **csrf(ui),
    )

    assert response.status_code == 200
    assert Deduction.objects.for_org(org).get().reason.code == "freight"


@pytest.mark.parametrize("count", [1, 8])
def test_the_page_costs_the_same_whatever_its_size(ui, org, count, django_assert_num_queries):
    for _ in range(count):
        _open(org)
    ui.get(PAGE)  # the session and the organization's choice, warmed

    # Session, user, membership and organization; reasons seeded?; the page's count and
    # rows (reason, invoice, customer joined); the aging (one query); the reasons.
    with django_assert_num_queries(PAGE_QUERIES):
        response = ui.get(PAGE)

    assert response.content.decode().count("data-deduction=") == count
