"""The Payments operations of the API (/api/v1/payments…)."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments import services
from payments.models import Payment, PaymentAllocation
from tests.factories import CustomerFactory
from tests.payments.factories import ar_balance, make_invoice, make_payment, open_total

TODAY = timezone.localdate


def payment_body(**overrides) -> dict:
    body = {
        "amount": 250,
        "payment_date": (TODAY() - timedelta(days=2)).isoformat(),
        "payment_method": "ach",
        "payer_name": "Nobody In Particular",
        "payer_reference": "thanks",
        "external_payment_id": "BANK-0001",
        "notes": "",
    }
    body.update(overrides)
    return body


def url(payment=None, suffix="") -> str:
    return f"/api/v1/payments/{payment.pk}{suffix}" if payment else "/api/v1/payments"


# --- create ---------------------------------------------------------------------------------


def test_import_payment_returns_every_field(api, org):
    response = api.post(url(), payment_body(amount="250.50"), format="json")

    assert response.status_code == 201
    data = response.json()["data"]
    payment = Payment.objects.get(pk=data["id"])
    assert data == {
        "id": str(payment.pk),
        "amount": 250.5,
        "payment_date": (TODAY() - timedelta(days=2)).isoformat(),
        "payment_method": "ach",
        "payer_name": "Nobody In Particular",
        "payer_reference": "thanks",
        "external_payment_id": "BANK-0001",
        "notes": "",
        "currency": "USD",
        "bank_account": None,
        "payer_account": None,
        "status": "unmatched",
        "invoice_id": None,
        "customer_id": None,
        "allocations": [],
        "applied_amount": 0.0,
        "unapplied_amount": 250.5,
        "refunded_amount": 0.0,
        "written_off_amount": 0.0,
        "reviewed": False,
        "reviewed_at": None,
        "auto_applied": False,
        "unapplied_by_clerk": False,
        "source": "api",
        "import_id": None,
        "suggestions": [],
        "created_at": data["created_at"],
        "updated_at": data["updated_at"],
    }


def test_duplicate_external_payment_id_is_409_with_the_existing_id(api, org):
    first = api.post(url(), payment_body(), format="json").json()["data"]

    response = api.post(url(), payment_body(amount=1), format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["existing_id"] == first["id"]
    assert "external_payment_id" in error["fields"]
    assert Payment.objects.for_org(org).count() == 1


def test_same_external_id_in_another_organization_is_fine(api, other_api):
    assert api.post(url(), payment_body(), format="json").status_code == 201
    assert other_api.post(url(), payment_body(), format="json").status_code == 201


def test_payments_without_external_id_are_not_duplicates(api, org):
    for _ in range(2):
        assert (
            api.post(url(), payment_body(external_payment_id=""), format="json").status_code == 201
        )
    assert Payment.objects.for_org(org).count() == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": -5}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"amount": 10**13}, "amount"),
        ({"amount": None}, "amount"),
        ({"payment_date": "2024-02-30"}, "payment_date"),
        ({"payment_date": "yesterday"}, "payment_date"),
        ({"payer_name": "x" * 256}, "payer_name"),
        ({"currency": "dollars"}, "currency"),
        ({"payer_reference": ["a"]}, "payer_reference"),
    ],
)
def test_bad_input_is_400_naming_the_field(api, org, overrides, field):
    response = api.post(url(), payment_body(**overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Payment.objects.for_org(org).exists()


def test_missing_required_fields_are_400(api):
    response = api.post(url(), {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"amount", "payment_date"}


def test_unambiguous_payment_is_auto_applied_on_import_but_not_reviewed(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="1042.00", invoice_number="INV-1042")

    response = api.post(
        url(),
        payment_body(amount="1042.00", payer_name="Acme Corp", payer_reference="INV-1042"),
        format="json",
    )

    data = response.json()["data"]
    assert response.status_code == 201
    assert data["status"] == "applied"
    assert data["auto_applied"] is True
    assert data["reviewed"] is False
    assert data["invoice_id"] == str(invoice.pk)
    assert data["allocations"] == [
        {
            "invoice_id": str(invoice.pk),
            "invoice_number": "INV-1042",
            "amount": 1042.0,
            "invoice_amount": 1042.0,
            "exchange_rate": None,
            "base_amount": None,
            "exchange_difference": None,
            "write_off_amount": 0.0,
            "applied_by": "auto",
        }
    ]
    assert data["unapplied_amount"] == 0.0
    assert data["suggestions"][0]["invoice_ids"] == [str(invoice.pk)]
    assert data["suggestions"][0]["score"] >= 0.9
    invoice.refresh_from_db()
    assert invoice.amount_due == 0
    assert invoice.status == "paid"


def test_unclear_payment_gets_suggestions_but_is_not_applied(api, org, customer):
    make_invoice(org, customer=customer, amount="500.00", invoice_number="INV-2001")
    make_invoice(org, customer=customer, amount="500.00", invoice_number="INV-2002")

    data = api.post(
        url(),
        payment_body(amount="500.00", payer_name="Acme Corp", payer_reference=""),
        format="json",
    ).json()["data"]

    assert data["status"] == "unmatched"
    assert data["auto_applied"] is False
    assert len(data["suggestions"]) >= 2
    for suggestion in data["suggestions"]:
        assert set(suggestion) == {"invoice_ids", "invoice_numbers", "amount", "score", "reasons"}
        assert 0 <= suggestion["score"] <= 1
        assert suggestion["reasons"]


def test_old_payment_is_not_auto_applied(api, org, customer):
    make_invoice(org, customer=customer, amount="1042.00", invoice_number="INV-1042")

    data = api.post(
        url(),
        payment_body(
            amount="1042.00",
            payer_name="Acme Corp",
            payer_reference="INV-1042",
            payment_date=(TODAY() - timedelta(days=120)).isoformat(),
        ),
        format="json",
    ).json()["data"]

    assert data["status"] == "unmatched"
    assert data["suggestions"]


def test_auto_apply_can_be_switched_off(api, org, customer):
    settings = services.payment_settings_get(organization=org)
    settings.auto_apply_enabled = False
    settings.save()
    make_invoice(org, customer=customer, amount="1042.00", invoice_number="INV-1042")

    data = api.post(
        url(),
        payment_body(amount="1042.00", payer_name="Acme Corp", payer_reference="INV-1042"),
        format="json",
    ).json()["data"]

    assert data["status"] == "unmatched"
    assert data["suggestions"][0]["score"] >= 0.9


# --- get, list --------------------------------------------------------------------------------


def test_get_payment(api, org):
    payment = make_payment(org, amount="12.00")

    response = api.get(url(payment))

    assert response.status_code == 200
    assert response.json()["data"]["id"] == str(payment.pk)
    assert response.json()["data"]["amount"] == 12.0


def test_unknown_or_malformed_id_is_404(api):
    assert api.get(f"/api/v1/payments/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/v1/payments/not-a-uuid").status_code == 404
    assert api.patch("/api/v1/payments/not-a-uuid", {}, format="json").status_code == 404


def test_list_filters(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    applied = make_payment(org, amount="100.00", days_ago=1)
    unmatched = make_payment(org, amount="5.00", days_ago=2)
    reviewed = make_payment(org, amount="7.00", days_ago=3)
    services.payment_update(organization=org, payment_id=applied.pk, invoice_id=invoice.pk)
    services.payment_mark_reviewed(organization=org, payment_id=reviewed.pk, reviewed=True)

    def ids(query=""):
        response = api.get(url() + query)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["data"]]

    assert ids() == [str(applied.pk), str(unmatched.pk), str(reviewed.pk)]
    assert ids(f"?invoice_id={invoice.pk}") == [str(applied.pk)]
    assert ids("?reviewed=true") == [str(reviewed.pk)]
    assert ids("?reviewed=false") == [str(applied.pk), str(unmatched.pk)]
    assert ids("?status=applied") == [str(applied.pk)]
    assert ids("?status=unmatched") == [str(unmatched.pk), str(reviewed.pk)]
    assert ids(f"?invoice_id={uuid.uuid4()}") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("invoice_id=nope", "invoice_id"), ("status=lost", "status"), ("page=0", "page")],
)
def test_bad_list_filters_are_400(api, query, field):
    response = api.get(f"{url()}?{query}")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_list_is_paginated(api, org):
    for index in range(3):
        make_payment(org, amount=index + 1)

    body = api.get(url() + "?per_page=2&page=2").json()

    assert body["pagination"] == {"page": 2, "per_page": 2, "total": 3, "total_pages": 2}
    assert len(body["data"]) == 1


@pytest.mark.parametrize("per_page", [5, 50])
def test_list_query_count_does_not_grow_with_the_page(
    api, org, customer, django_assert_num_queries, per_page
):
    invoices = [make_invoice(org, customer=customer, amount="10.00") for _ in range(4)]
    for index in range(12):
        payment = make_payment(org, amount="10.00", payer_reference=f"p{index}")
        if index < 4:
            services.payment_update(
                organization=org, payment_id=payment.pk, invoice_id=invoices[index].pk
            )
    services.payments_match(organization=org)
    api.get(url())  # warm the key cache

    # API key + count + page + allocations (invoice joined) + suggestions
    with django_assert_num_queries(5):
        response = api.get(f"{url()}?per_page={per_page}")

    assert len(response.json()["data"]) == min(per_page, 12)


# --- applying -------------------------------------------------------------------------------


def test_patch_invoice_id_applies_what_the_open_balance_takes(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="130.00")

    response = api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    data = response.json()["data"]
    assert response.status_code == 200
    assert data["status"] == "partially_applied"
    assert data["invoice_id"] == str(invoice.pk)
    assert data["applied_amount"] == 100.0
    assert data["unapplied_amount"] == 30.0
    assert data["auto_applied"] is False
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("0.00"), "paid")
    assert ar_balance(org) == open_total(org) == Decimal("0.00")


def test_leftover_credit_can_be_applied_later(api, org, customer):
    first = make_invoice(org, customer=customer, amount="100.00")
    second = make_invoice(org, customer=customer, amount="50.00")
    payment = make_payment(org, amount="130.00")
    api.patch(url(payment), {"invoice_id": str(first.pk)}, format="json")

    response = api.put(
        url(payment),
        {
            "allocations": [
                {"invoice_id": str(first.pk), "amount": 100},
                {"invoice_id": str(second.pk), "amount": 30},
            ]
        },
        format="json",
    )

    data = response.json()["data"]
    assert response.status_code == 200
    assert data["status"] == "applied"
    assert [(a["invoice_number"], a["amount"]) for a in data["allocations"]] == [
        (first.invoice_number, 100.0),
        (second.invoice_number, 30.0),
    ]
    second.refresh_from_db()
    assert (second.amount_due, second.status) == (Decimal("20.00"), "partial")
    # the unchanged allocation kept its journal entry: one application each
    assert PaymentAllocation.objects.filter(payment=payment).count() == 2


def test_short_payment_leaves_the_invoice_partly_open(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="99.50")

    data = api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json").json()["data"]

    assert data["status"] == "applied"
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("0.50"), "partial")


def test_invoice_id_null_unapplies_and_keeps_history(api, org, customer, money_events):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="100.00")
    api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    data = api.patch(url(payment), {"invoice_id": None}, format="json").json()["data"]

    assert data["status"] == "unmatched"
    assert data["allocations"] == []
    assert data["invoice_id"] is None
    assert data["unapplied_by_clerk"] is True
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("100.00"), "pending")
    allocation = PaymentAllocation.objects.get(payment=payment)
    assert allocation.unapplied_at is not None
    assert ar_balance(org) == open_total(org) == Decimal("100.00")
    assert [event["change_type"] for event in money_events] == [
        "payment_applied",
        "payment_unapplied",
    ]
    assert money_events[0]["amount"] == Decimal("100.00")
    assert money_events[0]["invoice"] == invoice
    assert money_events[0]["customer"] == customer
    assert money_events[0]["payment"].pk == payment.pk


def test_empty_allocations_unapply(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="40.00")
    api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    data = api.patch(url(payment), {"allocations": []}, format="json").json()["data"]

    assert data["status"] == "unmatched"
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")


def test_moving_a_payment_to_another_invoice(api, org, customer):
    wrong = make_invoice(org, customer=customer, amount="100.00")
    right = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="100.00")
    api.patch(url(payment), {"invoice_id": str(wrong.pk)}, format="json")

    data = api.patch(url(payment), {"invoice_id": str(right.pk)}, format="json").json()["data"]

    assert data["invoice_id"] == str(right.pk)
    wrong.refresh_from_db()
    right.refresh_from_db()
    assert (wrong.amount_due, right.amount_due) == (Decimal("100.00"), Decimal("0.00"))
    assert ar_balance(org) == open_total(org)


def test_reapplying_the_same_invoice_changes_nothing(api, org, customer, money_events):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="60.00")
    api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    assert len(money_events) == 1
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("40.00")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"invoice_id": "nope"}, "invoice_id"),
        ({"invoice_id": 7}, "invoice_id"),
        ({"allocations": "all"}, "allocations"),
        ({"allocations": [{"invoice_id": "x", "amount": 1}]}, "allocations.0.invoice_id"),
        ({"allocations": [{"amount": 1}]}, "allocations.0.invoice_id"),
        ({"reviewed": "maybe"}, "reviewed"),
        ({"write_off_short_payment": "perhaps"}, "write_off_short_payment"),
        ({"payer_name": "x" * 256}, "payer_name"),
    ],
)
def test_bad_update_input_is_400(api, org, body, field):
    payment = make_payment(org)

    response = api.patch(url(payment), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_allocation_amounts_must_fit(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    other = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="150.00")

    too_much_for_invoice = api.patch(
        url(payment),
        {"allocations": [{"invoice_id": str(invoice.pk), "amount": 120}]},
        format="json",
    )
    too_much_for_payment = api.patch(
        url(payment),
        {
            "allocations": [
                {"invoice_id": str(invoice.pk), "amount": 100},
                {"invoice_id": str(other.pk), "amount": 60},
            ]
        },
        format="json",
    )
    zero = api.patch(
        url(payment),
        {"allocations": [{"invoice_id": str(invoice.pk), "amount": 0}]},
        format="json",
    )
    twice = api.patch(
        url(payment),
        {
            "allocations": [
                {"invoice_id": str(invoice.pk), "amount": 10},
                {"invoice_id": str(invoice.pk), "amount": 10},
            ]
        },
        format="json",
    )

    assert too_much_for_invoice.status_code == 400
    assert "allocations.0.amount" in too_much_for_invoice.json()["error"]["fields"]
    assert too_much_for_payment.status_code == 400
    assert "allocations" in too_much_for_payment.json()["error"]["fields"]
    assert zero.status_code == 400
    assert "allocations.0.amount" in zero.json()["error"]["fields"]
    assert twice.status_code == 400
    assert "allocations.1.invoice_id" in twice.json()["error"]["fields"]
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    payment.refresh_from_db()
    assert payment.applied_amount == 0


def test_invoice_id_and_allocations_together_is_400(api, org, customer):
    invoice = make_invoice(org, customer=customer)
    payment = make_payment(org)

    response = api.patch(
        url(payment),
        {
            "invoice_id": str(invoice.pk),
            "allocations": [{"invoice_id": str(invoice.pk), "amount": 1}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert "allocations" in response.json()["error"]["fields"]


def test_paid_void_and_draft_invoices_cannot_take_money(api, org, customer):
    paid = make_invoice(org, customer=customer, amount="10.00", amount_due="0.00")
    draft = make_invoice(org, customer=customer, amount="10.00", status="draft")
    void = make_invoice(org, customer=customer, amount="10.00")
    from receivables.services import invoice_void

    invoice_void(invoice=void)
    payment = make_payment(org, amount="10.00")

    for invoice in (paid, draft, void):
        response = api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")
        assert response.status_code == 400, invoice.status
        assert "invoice_id" in response.json()["error"]["fields"]


def test_invoice_of_another_organization_is_400(api, org, other_org, other_customer):
    foreign = make_invoice(other_org, customer=other_customer)
    payment = make_payment(org)

    by_id = api.patch(url(payment), {"invoice_id": str(foreign.pk)}, format="json")
    spread = api.patch(
        url(payment),
        {"allocations": [{"invoice_id": str(foreign.pk), "amount": 1}]},
        format="json",
    )

    assert by_id.status_code == 400
    assert by_id.json()["error"]["fields"] == {"invoice_id": ["Unknown invoice."]}
    assert spread.status_code == 400
    assert "allocations.0.invoice_id" in spread.json()["error"]["fields"]
    foreign.refresh_from_db()
    assert foreign.amount_due == foreign.amount


def test_metadata_update(api, org):
    payment = make_payment(org)

    data = api.put(
        url(payment),
        {"payer_name": "ACME CORP", "payer_reference": "INV 9", "notes": "called"},
        format="json",
    ).json()["data"]

    assert (data["payer_name"], data["payer_reference"], data["notes"]) == (
        "ACME CORP",
        "INV 9",
        "called",
    )
    assert data["status"] == "unmatched"


# --- write-off ------------------------------------------------------------------------------


def test_short_payment_within_tolerance_is_written_off(api, org, customer, money_events):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="99.25")

    data = api.patch(
        url(payment),
        {"invoice_id": str(invoice.pk), "write_off_short_payment": True},
        format="json",
    ).json()["data"]

    assert data["status"] == "applied"
    assert data["written_off_amount"] == 0.75
    assert data["allocations"][0]["write_off_amount"] == 0.75
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("0.00"), "paid")
    assert ar_balance(org) == open_total(org) == 0
    assert [event["change_type"] for event in money_events] == ["payment_applied", "write_off"]
    assert money_events[1]["amount"] == Decimal("0.75")


def test_write_off_later_and_unapply_reverses_it(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="99.00")
    api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    written = api.patch(url(payment), {"write_off_short_payment": True}, format="json")
    unapplied = api.patch(url(payment), {"invoice_id": None}, format="json")

    assert written.json()["data"]["written_off_amount"] == 1.0
    assert unapplied.json()["data"]["written_off_amount"] == 0.0
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    assert ar_balance(org) == open_total(org) == Decimal("100.00")


def test_short_payment_over_tolerance_is_400(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="98.00")

    response = api.patch(
        url(payment),
        {"invoice_id": str(invoice.pk), "write_off_short_payment": True},
        format="json",
    )

    assert response.status_code == 400
    assert "write_off_short_payment" in response.json()["error"]["fields"]
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")  # nothing applied either


def test_tolerance_is_an_organization_setting(api, org, customer):
    settings = services.payment_settings_get(organization=org)
    settings.write_off_tolerance = Decimal("5.00")
    settings.save()
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="96.00")

    response = api.patch(
        url(payment),
        {"invoice_id": str(invoice.pk), "write_off_short_payment": True},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["data"]["written_off_amount"] == 4.0


def test_write_off_needs_all_of_the_payment_applied(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    other = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="150.00")

    response = api.patch(
        url(payment),
        {
            "allocations": [
                {"invoice_id": str(invoice.pk), "amount": 99.5},
                {"invoice_id": str(other.pk), "amount": 50},
            ],
            "write_off_short_payment": True,
        },
        format="json",
    )

    assert response.status_code == 400
    assert "write_off_short_payment" in response.json()["error"]["fields"]


# --- review --------------------------------------------------------------------------------


def test_mark_reviewed_calls_the_configured_handlers(api, org, settings):
    from tests.payments import recorders

    recorders.REVIEWED.clear()
    settings.ARPILOT_HOOK_RECEIVERS = {
        **settings.ARPILOT_HOOK_RECEIVERS,
        "PaymentReviewed": ["tests.payments.recorders.record_reviewed"],
    }
    payment = make_payment(org)

    reviewed = api.patch(url(payment), {"reviewed": True}, format="json").json()["data"]
    again = api.patch(url(payment), {"reviewed": True}, format="json").json()["data"]
    back = api.patch(url(payment), {"reviewed": False}, format="json").json()["data"]

    assert reviewed["reviewed"] is True
    assert reviewed["reviewed_at"] is not None
    assert again["reviewed_at"] == reviewed["reviewed_at"]
    assert (back["reviewed"], back["reviewed_at"]) == (False, None)
    assert [(org.pk, payment.pk)] == recorders.REVIEWED


# --- clerk history, auto-apply rules ------------------------------------------------------------


def test_clerk_application_teaches_payer_history_auto_apply_does_not(api, org, customer):
    from payments.models import PayerCustomerHistory

    auto_invoice = make_invoice(org, customer=customer, amount="10.00", invoice_number="INV-77")
    api.post(
        url(),
        payment_body(
            amount=10, payer_name="Acme Corp", payer_reference="INV-77", external_payment_id="A"
        ),
        format="json",
    )
    assert not PayerCustomerHistory.objects.exists()
    auto_invoice.refresh_from_db()
    assert auto_invoice.amount_due == 0

    invoice = make_invoice(org, customer=customer, amount="20.00")
    payment = make_payment(org, amount="20.00", payer_name="ACME HOLDINGS (US)")
    api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    history = PayerCustomerHistory.objects.get()
    assert (history.customer_id, history.count) == (customer.pk, 1)


def test_payment_a_clerk_unapplied_is_never_auto_applied_again(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="1042.00", invoice_number="INV-1042")
    data = api.post(
        url(),
        payment_body(amount="1042.00", payer_name="Acme Corp", payer_reference="INV-1042"),
        format="json",
    ).json()["data"]
    assert data["auto_applied"] is True

    api.patch(f"{url()}/{data['id']}", {"invoice_id": None}, format="json")
    services.payments_match(organization=org)

    payment = Payment.objects.get(pk=data["id"])
    assert payment.status == "unmatched"
    assert payment.unapplied_by_clerk is True
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("1042.00")


def test_match_endpoint_queues_a_run_over_unmatched_payments(api, org, customer):
    settings = services.payment_settings_get(organization=org)
    settings.auto_apply_enabled = False
    settings.save()
    payment = make_payment(org, amount="300.00", payer_name="Acme Corp", payer_reference="INV-31")
    make_invoice(org, customer=customer, amount="300.00", invoice_number="INV-31")
    settings.auto_apply_enabled = True
    settings.save()

    response = api.post(url() + "/match", format="json")

    assert response.status_code == 202
    assert response.json() == {"queued": True}
    payment.refresh_from_db()
    assert payment.status == "applied"
    assert payment.auto_applied is True


def test_several_invoices_of_one_customer_making_the_amount(api, org, customer):
    first = make_invoice(org, customer=customer, amount="120.00", invoice_number="INV-501")
    second = make_invoice(org, customer=customer, amount="80.00", invoice_number="INV-502")
    CustomerFactory(organization=org, company_name="Unrelated Ltd")

    data = api.post(
        url(),
        payment_body(amount="200.00", payer_name="Acme Corp", payer_reference="INV-501 INV-502"),
        format="json",
    ).json()["data"]

    assert set(data["suggestions"][0]["invoice_ids"]) == {str(first.pk), str(second.pk)}
    assert data["suggestions"][0]["amount"] == 200.0
    if data["auto_applied"]:
        assert {a["invoice_id"] for a in data["allocations"]} == {str(first.pk), str(second.pk)}


# --- isolation ---------------------------------------------------------------------------------


def test_other_organizations_payments_are_404_everywhere(api, other_api, org, customer):
    payment = make_payment(org)
    invoice = make_invoice(org, customer=customer)

    assert other_api.get(url(payment)).status_code == 404
    assert other_api.patch(url(payment), {"notes": "x"}, format="json").status_code == 404
    assert (
        other_api.put(url(payment), {"invoice_id": str(invoice.pk)}, format="json").status_code
        == 404
    )
    assert other_api.get(url()).json()["data"] == []
    assert other_api.get(f"{url()}?invoice_id={invoice.pk}").json()["data"] == []
    payment.refresh_from_db()
    assert payment.notes == ""
    assert payment.status == "unmatched"


def test_no_key_is_401(anon_api, org):
    payment = make_payment(org)

    assert anon_api.get(url()).status_code == 401
    assert anon_api.get(url(payment)).status_code == 401
    assert anon_api.post(url(), payment_body(), format="json").status_code == 401
    assert anon_api.post(url() + "/match").status_code == 401


def test_idempotent_create_replays(api, org):
    first = api.post(url(), payment_body(), format="json", HTTP_IDEMPOTENCY_KEY="p1")
    again = api.post(url(), payment_body(), format="json", HTTP_IDEMPOTENCY_KEY="p1")

    assert again.status_code == 201
    assert again.json() == first.json()
    assert Payment.objects.for_org(org).count() == 1


def test_reviewed_filter_takes_true_or_false_only(api, org):
    make_payment(org)

    response = api.get(url() + "?reviewed=maybe")

    assert response.status_code == 400
    assert "reviewed" in response.json()["error"]["fields"]


def test_a_date_before_year_1000_is_rendered_with_four_digits(api, org):
    response = api.post(
        "/api/v1/payments",
        {"amount": "10.00", "payment_date": "0702-02-19"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["data"]["payment_date"] == "0702-02-19"
    fetched = api.get(f"/api/v1/payments/{response.json()['data']['id']}").json()["data"]
    assert fetched["payment_date"] == "0702-02-19"
