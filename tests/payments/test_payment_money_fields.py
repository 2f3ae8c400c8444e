"""The money fields of currencies and customer credit over the API: the invoice's
``exchange_rate``; per allocation what it settled on the invoice and at what rate; the
payment's ``customer_id`` and ``refunded_amount``; assigning a payment to a customer with
``PATCH /api/v1/payments/{id}``; and applying a payment after part of it was refunded, which
never goes past what is left (a 400 naming the field, never the database's 500)."""

from datetime import date
from decimal import Decimal

import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from arpilot.money import CENT
from payments import services
from payments.models import Payment, PaymentAllocation
from payments.services import credit
from receivables import services as receivable_services
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.ledger_invariants import check_ledger
from tests.payments.factories import ar_balance, open_total
from webhooks import services as webhook_services
from webhooks.models import WebhookEvent

D = Decimal


def url(payment) -> str:
    return f"/api/v1/payments/{payment.pk}"


def euro_invoice(org, customer, amount="100.00", rate="1.1"):
    """An invoice in EUR booked at ``rate`` USD per EUR."""
    return make_invoice(org, customer=customer, amount=amount, currency="EUR", exchange_rate=rate)


def refunded(org, customer, *, paid="100.00", refund="30.00"):
    """A payment of ``paid`` assigned to ``customer`` with ``refund`` of it paid back."""
    payment = make_payment(org, amount=paid)
    credit.payment_customer_assign(organization=org, payment_id=payment.pk, customer_id=customer.pk)
    credit.credit_refund(
        organization=org, customer_id=customer.pk, payment_id=payment.pk, amount=D(refund)
    )
    payment.refresh_from_db()
    return payment


def assert_books_balance(org):
    """Within the base currency: the receivable is what the invoices owe."""
    assert ar_balance(org) == open_total(org)
    check_ledger(org, per_invoice=True)


# --- the invoice's exchange rate ----------------------------------------------------------------


def test_an_invoice_in_the_base_currency_has_no_exchange_rate(api, org, customer):
    invoice = make_invoice(org, customer=customer)

    data = api.get(f"/api/v1/invoices/{invoice.pk}").json()["data"]

    assert (data["currency"], data["exchange_rate"]) == ("USD", None)


@pytest.mark.parametrize(
    ("booked", "shown"),
    [("1.0825", "1.0825"), ("1.10", "1.1"), ("2", "2"), ("0.0000012345", "0.0000012345")],
)
def test_a_foreign_invoice_shows_its_rate_as_exact_text_in_list_and_detail(
    api, org, customer, booked, shown
):
    invoice = euro_invoice(org, customer, rate=booked)

    listed = api.get("/api/v1/invoices").json()["data"]
    detail = api.get(f"/api/v1/invoices/{invoice.pk}").json()["data"]

    assert detail["exchange_rate"] == shown
    assert listed == [detail]


def test_the_invoice_event_carries_the_rate(org, customer, settings):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    webhook_services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/hook", events=["invoice.created"]
    )

    invoice = euro_invoice(org, customer, rate="1.0825")

    event = WebhookEvent.objects.get(event_type="invoice.created")
    assert event.payload["data"]["id"] == str(invoice.pk)
    assert event.payload["data"]["exchange_rate"] == "1.0825"


@pytest.mark.parametrize("per_page", [10, 100])
def test_listing_foreign_invoices_costs_no_more_queries(
    api, org, django_assert_num_queries, per_page
):
    customers = CustomerFactory.create_batch(3, organization=org)
    for index in range(12):
        if index % 2:
            euro_invoice(org, customers[index % 3], rate="1.0825")
        else:
            make_invoice(org, customer=customers[index % 3])
    api.get("/api/v1/invoices")  # warm the key cache

    # as tests/receivables/test_invoices_api.py pins it: key, count, page, lines, offline
    # payments, open disputes
    with django_assert_num_queries(6):
        response = api.get(f"/api/v1/invoices?per_page={per_page}")

    assert {row["exchange_rate"] for row in response.json()["data"]} == {"1.0825", None}


# --- the payment's money fields -----------------------------------------------------------------


def test_an_allocation_across_currencies_shows_what_it_settled_and_at_what_rate(api, org, customer):
    invoice = euro_invoice(org, customer)  # 100 EUR booked at 1.10: 110.00 USD
    payment = make_payment(org, amount="120.00")

    response = api.patch(
        url(payment),
        {"invoice_id": str(invoice.pk), "exchange_rate": "0.8333333333"},
        format="json",
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["allocations"] == [
        {
            "invoice_id": str(invoice.pk),
            "invoice_number": invoice.invoice_number,
            "amount": 120.0,
            "invoice_amount": 100.0,
            "exchange_rate": "0.8333333333",
            "base_amount": 120.0,
            "exchange_difference": 10.0,
            "write_off_amount": 0.0,
            "applied_by": "clerk",
        }
    ]
    assert api.get(url(payment)).json()["data"] == data
    check_ledger(org, per_invoice=True)


def test_a_foreign_payment_to_an_invoice_of_its_currency_has_a_rate_of_one(api, org, customer):
    receivable_services.exchange_rate_set(
        organization=org, currency="EUR", date=date(2000, 1, 1), rate="1.05"
    )
    invoice = euro_invoice(org, customer)
    payment = make_payment(org, amount="100.00", currency="EUR")

    api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    [allocation] = api.get(url(payment)).json()["data"]["allocations"]
    assert (allocation["amount"], allocation["invoice_amount"]) == (100.0, 100.0)
    assert allocation["exchange_rate"] == "1"
    assert (allocation["base_amount"], allocation["exchange_difference"]) == (105.0, -5.0)


def test_within_the_base_currency_the_exchange_fields_are_null(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="80.00")
    payment = make_payment(org, amount="100.00")

    data = api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json").json()["data"]

    [allocation] = data["allocations"]
    assert allocation["amount"] == allocation["invoice_amount"] == 80.0
    assert [allocation[name] for name in ("exchange_rate", "base_amount")] == [None, None]
    assert allocation["exchange_difference"] is None
    assert (data["customer_id"], data["refunded_amount"]) == (None, 0.0)


def test_the_payment_shows_its_customer_and_what_was_refunded(api, org, customer):
    payment = refunded(org, customer, paid="100.00", refund="30.00")

    data = api.get(url(payment)).json()["data"]

    assert data["customer_id"] == str(customer.pk)
    assert (data["refunded_amount"], data["unapplied_amount"]) == (30.0, 70.0)
    assert data["applied_amount"] == 0.0
    listed = api.get("/api/v1/payments").json()["data"]
    assert listed == [data]


def test_the_payment_event_carries_the_new_fields(org, customer, settings):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    webhook_services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/hook", events=["payment.applied"]
    )
    invoice = euro_invoice(org, customer)
    payment = make_payment(org, amount="120.00")

    services.payment_update(
        organization=org,
        payment_id=payment.pk,
        invoice_id=invoice.pk,
        exchange_rate=D("0.8333333333"),
    )

    data = WebhookEvent.objects.get(event_type="payment.applied").payload["data"]
    assert (data["customer_id"], data["refunded_amount"]) == (None, 0.0)
    [allocation] = data["allocations"]
    assert allocation["invoice_amount"] == 100.0
    assert allocation["exchange_rate"] == "0.8333333333"
    assert (allocation["base_amount"], allocation["exchange_difference"]) == (120.0, 10.0)


@pytest.mark.parametrize("per_page", [5, 50])
def test_listing_payments_across_currencies_costs_no_more_queries(
    api, org, customer, django_assert_num_queries, per_page
):
    for index in range(6):
        invoice = euro_invoice(org, customer) if index % 2 else make_invoice(org, customer=customer)
        payment = make_payment(org, amount="50.00", payer_reference=f"p{index}")
        services.payment_update(
            organization=org,
            payment_id=payment.pk,
            allocations=[{"invoice_id": invoice.pk, "amount": D("50.00")}],
            exchange_rate=D("0.8") if index % 2 else None,
        )
    refunded(org, customer)
    api.get("/api/v1/payments")  # warm the key cache

    # as tests/payments/test_api.py pins it: key, count, page, allocations, suggestions
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/payments?per_page={per_page}")

    rows = response.json()["data"]
    assert len(rows) == min(per_page, 7)
    every = api.get("/api/v1/payments?per_page=50").json()["data"]
    rates = [a["exchange_rate"] for row in every for a in row["allocations"]]
    assert (rates.count("0.8"), rates.count(None)) == (3, 3)


def test_the_openapi_document_describes_the_new_fields():
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]

    allocation = schemas["Allocation"]["properties"]
    for name in ("invoice_amount", "base_amount", "exchange_difference"):
        assert allocation[name]["type"] == "number", name
        assert allocation[name]["description"], name
    assert allocation["exchange_rate"]["type"] == "string"
    assert allocation["exchange_rate"]["nullable"] is True
    payment = schemas["Payment"]["properties"]
    assert payment["customer_id"]["nullable"] is True
    assert payment["refunded_amount"]["type"] == "number"
    update = schemas["PatchedPaymentUpdateRequest"]["properties"]["customer_id"]
    assert (update["format"], update["nullable"]) == ("uuid", True)
    assert "customer_id" in update["description"]


# --- PATCH customer_id --------------------------------------------------------------------------


def test_patch_customer_id_assigns_the_payment_and_null_clears_it(api, org, customer):
    payment = make_payment(org, amount="75.00")

    assigned = api.patch(url(payment), {"customer_id": str(customer.pk)}, format="json")
    credit_shown = api.get(f"/api/v1/customers/{customer.pk}/credit").json()["data"]
    cleared = api.patch(url(payment), {"customer_id": None}, format="json")

    assert assigned.status_code == 200
    assert assigned.json()["data"]["customer_id"] == str(customer.pk)
    [currency] = credit_shown["currencies"]
    assert [row["payment_id"] for row in currency["payments"]] == [str(payment.pk)]
    assert cleared.status_code == 200
    assert cleared.json()["data"]["customer_id"] is None
    payment.refresh_from_db()
    assert payment.customer_id is None


@pytest.mark.parametrize("value", ["unknown", "other", "malformed", 42])
def test_patch_customer_id_of_no_customer_of_ours_is_400_naming_it(
    api, org, customer, other_customer, value
):
    payment = make_payment(org, amount="75.00")
    credit.payment_customer_assign(organization=org, payment_id=payment.pk, customer_id=customer.pk)
    sent = {
        "unknown": "00000000-0000-4000-8000-000000000000",
        "other": str(other_customer.pk),
        "malformed": "not-a-uuid",
    }.get(value, value)

    response = api.patch(url(payment), {"customer_id": sent, "notes": "n"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["customer_id"]
    payment.refresh_from_db()
    assert (payment.customer_id, payment.notes) == (customer.pk, "")


def test_a_bad_application_with_customer_id_assigns_nobody(api, org, customer):
    payment = make_payment(org, amount="75.00")
    other = make_invoice(org, customer=customer, amount="10.00")

    response = api.patch(
        url(payment),
        {
            "customer_id": str(customer.pk),
            "allocations": [{"invoice_id": str(other.pk), "amount": "20.00"}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert "allocations.0.amount" in response.json()["error"]["fields"]
    payment.refresh_from_db()
    assert payment.customer_id is None


def test_patch_customer_id_with_an_application_does_both(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="60.00")
    payment = make_payment(org, amount="100.00")

    data = api.patch(
        url(payment),
        {"customer_id": str(customer.pk), "invoice_id": str(invoice.pk)},
        format="json",
    ).json()["data"]

    assert (data["customer_id"], data["applied_amount"], data["unapplied_amount"]) == (
        str(customer.pk),
        60.0,
        40.0,
    )


def test_another_organization_s_payment_is_404(api, other_org, customer):
    theirs = make_payment(other_org, amount="10.00")

    response = api.patch(url(theirs), {"customer_id": str(customer.pk)}, format="json")

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.customer_id is None


# --- applying after a refund ------------------------------------------------------------------


def test_allocations_beyond_what_a_refund_left_are_400_naming_the_amount(api, org, customer):
    payment = refunded(org, customer)  # 70 left
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(
        url(payment),
        {"allocations": [{"invoice_id": str(invoice.pk), "amount": "100.00"}]},
        format="json",
    )

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"allocations", "allocations.0.amount"}
    assert "70.00" in fields["allocations.0.amount"][0]
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.amount_due, payment.applied_amount) == (D("100.00"), D("0.00"))
    assert_books_balance(org)


def test_the_allocation_that_goes_past_what_is_left_is_named(api, org, customer):
    payment = refunded(org, customer)  # 70 left
    first = make_invoice(org, customer=customer, amount="50.00")
    second = make_invoice(org, customer=customer, amount="50.00")

    response = api.patch(
        url(payment),
        {
            "allocations": [
                {"invoice_id": str(first.pk), "amount": "50.00"},
                {"invoice_id": str(second.pk), "amount": "30.00"},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"allocations", "allocations.1.amount"}


def test_allocations_of_exactly_what_is_left_apply(api, org, customer):
    payment = refunded(org, customer)  # 70 left
    first = make_invoice(org, customer=customer, amount="50.00")
    second = make_invoice(org, customer=customer, amount="50.00")

    response = api.patch(
        url(payment),
        {
            "allocations": [
                {"invoice_id": str(first.pk), "amount": "50.00"},
                {"invoice_id": str(second.pk), "amount": "20.00"},
            ]
        },
        format="json",
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["applied_amount"], data["unapplied_amount"], data["refunded_amount"]) == (
        70.0,
        0.0,
        30.0,
    )
    assert_books_balance(org)


def test_invoice_id_applies_only_what_the_refund_left(api, org, customer):
    payment = refunded(org, customer)  # 70 left
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    assert response.status_code == 200
    assert response.json()["data"]["allocations"][0]["amount"] == 70.0
    invoice.refresh_from_db()
    assert invoice.amount_due == D("30.00")
    assert_books_balance(org)


def test_invoice_id_across_currencies_applies_only_what_the_refund_left(api, org, customer):
    payment = refunded(org, customer, paid="120.00", refund="60.00")  # 60 USD left
    invoice = euro_invoice(org, customer)  # 100 EUR

    response = api.patch(
        url(payment), {"invoice_id": str(invoice.pk), "exchange_rate": "0.8"}, format="json"
    )

    assert response.status_code == 200
    [allocation] = response.json()["data"]["allocations"]
    assert (allocation["amount"], allocation["invoice_amount"]) == (60.0, 48.0)
    invoice.refresh_from_db()
    assert invoice.amount_due == D("52.00")
    check_ledger(org, per_invoice=True)


def test_a_payment_refunded_in_full_cannot_be_applied(api, org, customer):
    payment = refunded(org, customer, paid="40.00", refund="40.00")
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(url(payment), {"invoice_id": str(invoice.pk)}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["invoice_id"]
    assert "refunded" in response.json()["error"]["message"]
    assert not PaymentAllocation.objects.filter(payment=payment).exists()


def test_auto_apply_never_places_refunded_money(org, customer):
    payment = refunded(org, customer)  # 70 left, unmatched
    invoice = make_invoice(org, customer=customer, amount="100.00")

    applied = services.payment_auto_apply(
        organization=org, payment_id=payment.pk, invoice_ids=[invoice.pk], amount=D("100.00")
    )

    assert applied is False
    payment.refresh_from_db()
    assert (payment.applied_amount, payment.status) == (D("0.00"), Payment.Status.UNMATCHED)
    assert services.payment_auto_apply(
        organization=org, payment_id=payment.pk, invoice_ids=[invoice.pk], amount=D("70.00")
    )
    payment.refresh_from_db()
    assert (payment.applied_amount, payment.unapplied_amount) == (D("70.00"), D("0.00"))
    assert_books_balance(org)


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    refund_cents=st.integers(min_value=1, max_value=10_000),
    amounts=st.lists(st.integers(min_value=1, max_value=12_000), min_size=1, max_size=3),
)
def test_whatever_is_asked_after_a_refund_is_applied_within_what_is_left_or_refused(
    api, org, refund_cents, amounts
):
    """A payment of 100.00 with some of it refunded, then any spread asked of it: applied
    exactly when it fits what is left and the invoices, else a 400 naming the field and
    nothing moved; never a 500, and the books balance either way."""
    customer = CustomerFactory(organization=org)
    refund = D(refund_cents) / 100
    payment = refunded(org, customer, paid="100.00", refund=str(refund))
    invoices = [make_invoice(org, customer=customer, amount="100.00") for _ in amounts]
    asked = [D(cents) / 100 for cents in amounts]

    response = api.patch(
        url(payment),
        {
            "allocations": [
                {"invoice_id": str(invoice.pk), "amount": str(amount)}
                for invoice, amount in zip(invoices, asked, strict=True)
            ]
        },
        format="json",
    )

    payment.refresh_from_db()
    fits = sum(asked) <= D("100.00") - refund and all(amount <= 100 for amount in asked)
    if fits:
        assert response.status_code == 200
        assert payment.applied_amount == sum(asked)
    else:
        assert response.status_code == 400
        fields = response.json()["error"]["fields"]
        assert any(name.startswith("allocations") for name in fields)
        assert payment.applied_amount == 0
    assert payment.refunded_amount == refund
    assert payment.applied_amount + payment.refunded_amount <= payment.amount
    # (SQLite sums decimals as floats: the examples' rows add up, compared to the cent)
    assert ar_balance(org).quantize(CENT) == open_total(org).quantize(CENT)
