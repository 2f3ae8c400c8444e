"""The deductions API: list, detail, change, resolve, aging; reason codes; the payments'
short pay that opens a deduction."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from credits import services
from credits.models import Deduction
from tests.factories import CustomerFactory, make_invoice, make_payment

pytestmark = pytest.mark.django_db
D = Decimal
URL = "/api/v1/deductions"


def _open(org, amount="20.00", reason="pricing", customer=None, **kwargs):
    invoice = make_invoice(org, customer=customer, amount="100.00", **kwargs)
    return services.deduction_open(
        organization=org, invoice_id=invoice.pk, amount=D(amount), reason_code=reason
    )


def _fields(response) -> dict:
    return response.json()["error"]["fields"]


def test_list_filters_and_detail(api, org):
    pricing = _open(org, reason="pricing")
    freight = _open(org, "7.50", reason="freight")
    services.deduction_resolve(organization=org, deduction_id=freight.pk, resolution="collected")

    everything = api.get(URL).json()
    opened = api.get(f"{URL}?status=open").json()["data"]
    by_reason = api.get(f"{URL}?reason_code=freight").json()["data"]
    by_customer = api.get(f"{URL}?customer_id={pricing.customer_id}").json()["data"]
    detail = api.get(f"{URL}/{freight.pk}").json()["data"]

    assert everything["pagination"]["total"] == 2
    assert [row["id"] for row in opened] == [str(pricing.pk)]
    assert [row["id"] for row in by_reason] == [str(freight.pk)]
    assert [row["id"] for row in by_customer] == [str(pricing.pk)]
    assert detail["amount"] == 7.5  # money is a JSON number
    assert (detail["status"], detail["resolution"], detail["reason_code"]) == (
        "resolved",
        "collected",
        "freight",
    )


def test_bad_filters_name_the_field(api):
    assert "status" in _fields(api.get(f"{URL}?status=maybe"))
    assert "customer_id" in _fields(api.get(f"{URL}?customer_id=nope"))


def test_another_organizations_deduction_is_404(api, other_org):
    theirs = _open(other_org)

    assert api.get(f"{URL}/{theirs.pk}").status_code == 404
    assert api.patch(f"{URL}/{theirs.pk}", {"note": "x"}, format="json").status_code == 404
    resolve = api.post(f"{URL}/{theirs.pk}/resolve", {"resolution": "collected"}, format="json")
    assert resolve.status_code == 404
    assert api.get(f"{URL}/not-a-uuid").status_code == 404
    assert api.get(URL).json()["data"] == []


def test_patch_changes_note_and_reason_and_names_bad_fields(api, org):
    deduction = _open(org)

    ok = api.patch(
        f"{URL}/{deduction.pk}", {"note": "call AP", "reason_code": "promotion"}, format="json"
    )
    bad = api.patch(f"{URL}/{deduction.pk}", {"reason_code": "nope"}, format="json")
    bad_slug = api.patch(f"{URL}/{deduction.pk}", {"reason_code": "no pe!"}, format="json")

    assert ok.status_code == 200
    assert (ok.json()["data"]["note"], ok.json()["data"]["reason_code"]) == ("call AP", "promotion")
    assert bad.status_code == 400 and "reason_code" in _fields(bad)
    assert bad_slug.status_code == 400 and "reason_code" in _fields(bad_slug)


def test_resolve_write_off_and_validation(api, org):
    deduction = _open(org, "20.00", reason="damaged_goods")
    url = f"{URL}/{deduction.pk}/resolve"

    missing = api.post(url, {}, format="json")
    unknown = api.post(url, {"resolution": "forgive"}, format="json")
    done = api.post(url, {"resolution": "write_off", "note": "photos"}, format="json")
    again = api.post(url, {"resolution": "collected"}, format="json")

    assert missing.status_code == 400 and "resolution" in _fields(missing)
    assert unknown.status_code == 400 and "resolution" in _fields(unknown)
    assert done.status_code == 200
    data = done.json()["data"]
    assert (data["status"], data["resolution"], data["resolution_amount"]) == (
        "resolved",
        "write_off",
        20.0,
    )
    assert data["journal_entry_id"] and data["accounting_change_id"]
    assert again.status_code == 409


def test_resolve_rebill_shows_the_new_invoice(api, org):
    deduction = _open(org, "12.00")

    data = api.post(
        f"{URL}/{deduction.pk}/resolve", {"resolution": "rebill"}, format="json"
    ).json()["data"]

    assert data["rebill_invoice_id"]
    invoice = api.get(f"/api/v1/invoices/{data['rebill_invoice_id']}").json()["data"]
    assert invoice["amount"] == 12.0


def test_aging_by_reason(api, org):
    old = _open(org, "10.00", reason="pricing")
    _open(org, "5.00", reason="pricing")
    _open(org, "2.50", reason="freight")
    Deduction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=45))

    rows = api.get(f"{URL}/aging").json()["data"]
    filtered = api.get(f"{URL}/aging?reason_code=freight").json()["data"]
    bad = api.get(f"{URL}/aging?customer_id=nope")

    by_code = {row["reason_code"]: row for row in rows}
    assert by_code["pricing"]["days_0_30"] == 5.0
    assert by_code["pricing"]["days_31_60"] == 10.0
    assert by_code["pricing"]["count"] == 2
    assert by_code[None]["total"] == 17.5
    assert [row["reason_code"] for row in filtered] == ["freight", None]
    assert bad.status_code == 400 and "customer_id" in _fields(bad)


@pytest.mark.parametrize("count", [1, 12])
def test_the_list_costs_the_same_whatever_its_size(api, org, count, django_assert_num_queries):
    for _ in range(count):
        _open(org)

    # API key, the page's count and rows (reason, invoice, customer joined).
    with django_assert_num_queries(3):
        response = api.get(URL)

    assert len(response.json()["data"]) == count


def test_reasons_list_create_update(api, org):
    listed = api.get("/api/v1/deduction-reasons").json()["data"]
    created = api.post(
        "/api/v1/deduction-reasons",
        {"code": "returns", "name": "Returns", "account_number": 6920},
        format="json",
    )
    taken = api.post(
        "/api/v1/deduction-reasons",
        {"code": "returns", "name": "Again", "account_number": 6920},
        format="json",
    )
    bad_account = api.post(
        "/api/v1/deduction-reasons",
        {"code": "other", "name": "Other", "account_number": 99999},
        format="json",
    )
    reason_id = created.json()["data"]["id"]
    changed = api.patch(
        f"/api/v1/deduction-reasons/{reason_id}", {"is_active": False}, format="json"
    )

    assert {row["code"] for row in listed} >= {"pricing", "unknown"}
    assert created.status_code == 201
    assert created.json()["data"]["account_number"] == 6920
    assert taken.status_code == 409
    assert bad_account.status_code == 400 and "account_number" in _fields(bad_account)
    assert changed.json()["data"]["is_active"] is False


def test_another_organizations_reason_is_404(api, other_api):
    theirs = other_api.get("/api/v1/deduction-reasons").json()["data"][0]["id"]

    assert api.get(f"/api/v1/deduction-reasons/{theirs}").status_code == 404
    assert (
        api.patch(f"/api/v1/deduction-reasons/{theirs}", {"name": "x"}, format="json").status_code
        == 404
    )


# --- the payments' short pay --------------------------------------------------------------------


def test_a_short_pay_beyond_the_tolerance_opens_a_deduction(api, org):
    customer = CustomerFactory(organization=org)
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="80.00")

    response = api.patch(
        f"/api/v1/payments/{payment.pk}",
        {"invoice_id": str(invoice.pk), "deduction_reason_code": "pricing", "deduction_note": "x"},
        format="json",
    )

    assert response.status_code == 200, response.content
    deduction = Deduction.objects.for_org(org).get()
    assert (deduction.invoice_id, deduction.amount, deduction.payment_id) == (
        invoice.pk,
        D("20.00"),
        payment.pk,
    )
    assert deduction.note == "x"
    invoice.refresh_from_db()
    assert invoice.amount_due == D("20.00")


def test_the_short_pay_fields_are_checked(api, org):
    invoice = make_invoice(org, amount="100.00")
    payment = make_payment(org, amount="80.00")
    url = f"/api/v1/payments/{payment.pk}"

    both = api.patch(
        url,
        {
            "invoice_id": str(invoice.pk),
            "write_off_short_payment": True,
            "deduction_reason_code": "pricing",
        },
        format="json",
    )
    unknown = api.patch(
        url, {"invoice_id": str(invoice.pk), "deduction_reason_code": "nope"}, format="json"
    )
    unapplied = api.patch(url, {"deduction_reason_code": "pricing"}, format="json")
    lone_note = api.patch(url, {"deduction_note": "x"}, format="json")

    assert both.status_code == 400 and "deduction_reason_code" in _fields(both)
    assert unknown.status_code == 400 and "deduction_reason_code" in _fields(unknown)
    assert unapplied.status_code == 400 and "deduction_reason_code" in _fields(unapplied)
    assert lone_note.status_code == 400 and "deduction_note" in _fields(lone_note)
    invoice.refresh_from_db()
    assert invoice.amount_due == D("100.00")  # the refused request applied nothing
    assert not Deduction.objects.exists()
