"""Customer on-account credit: which payments are credit, the credit API, refunds, and
auto-apply of credit to a new invoice (payments.services.credit)."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from payments import services
from payments.models import CreditRefund, Payment, PaymentSettings
from payments.services import credit
from receivables.models import ExchangeRate, JournalEntry
from reconciliation.models import AccountingChange
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.payments.factories import ar_balance, open_total
from webhooks import services as webhook_services
from webhooks.models import WebhookEvent

POSTGRES = connection.vendor == "postgresql"


def overpay(org, customer, *, invoice_amount="60.00", paid="100.00", days_ago=3, **kwargs):
    """A payment of ``paid`` applied to a new invoice of ``invoice_amount``: the rest is left."""
    invoice = make_invoice(org, customer=customer, amount=invoice_amount)
    payment = make_payment(org, amount=paid, days_ago=days_ago, **kwargs)
    services.payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    payment.refresh_from_db()
    return payment


def turn_auto_apply_on(org, on=True):
    row = services.payment_settings_get(organization=org)
    row.auto_apply_credit = on
    row.save()


def money(value) -> Decimal:
    return Decimal(str(value))


# --- which payments are credit ----------------------------------------------------------------


def test_an_overpayment_s_remainder_is_its_customer_s_credit(org, customer):
    payment = overpay(org, customer)

    [row] = credit.customer_credit(organization=org, customer=customer)

    assert (row.currency, row.total) == ("USD", Decimal("40.00"))
    assert [(p.pk, p.remaining) for p in row.payments] == [(payment.pk, Decimal("40.00"))]


def test_an_unmatched_payment_with_no_customer_is_nobody_s_credit(org, customer):
    make_payment(org, amount="75.00")

    assert credit.customer_credit(organization=org, customer=customer) == []


def test_a_payment_assigned_to_the_customer_is_credit_before_any_invoice(org, customer):
    payment = make_payment(org, amount="75.00")
    Payment.objects.filter(pk=payment.pk).update(customer=customer)

    [row] = credit.customer_credit(organization=org, customer=customer)

    assert [(p.pk, p.remaining) for p in row.payments] == [(payment.pk, Decimal("75.00"))]


def test_a_clerk_assigns_a_payment_to_a_customer_and_back(org, customer, other_customer):
    payment = make_payment(org, amount="75.00")

    credit.payment_customer_assign(organization=org, payment_id=payment.pk, customer_id=customer.pk)
    assert credit.customer_credit(organization=org, customer=customer)[0].total == Decimal("75")

    credit.payment_customer_assign(organization=org, payment_id=payment.pk, customer_id=None)
    assert credit.customer_credit(organization=org, customer=customer) == []

    with pytest.raises(credit.ValidationFailed) as refused:
        credit.payment_customer_assign(
            organization=org, payment_id=payment.pk, customer_id=other_customer.pk
        )
    assert "customer_id" in refused.value.fields


def test_a_payment_spread_over_two_customers_is_neither_s_credit(org, customer):
    other = CustomerFactory(organization=org)
    first = make_invoice(org, customer=customer, amount="30.00")
    second = make_invoice(org, customer=other, amount="30.00")
    payment = make_payment(org, amount="100.00")
    services.payment_update(
        organization=org,
        payment_id=payment.pk,
        allocations=[
            {"invoice_id": first.pk, "amount": Decimal("30.00")},
            {"invoice_id": second.pk, "amount": Decimal("30.00")},
        ],
    )

    assert credit.customer_credit(organization=org, customer=customer) == []
    assert credit.customer_credit(organization=org, customer=other) == []


def test_a_fully_applied_payment_leaves_no_credit(org, customer):
    overpay(org, customer, invoice_amount="100.00", paid="100.00")

    assert credit.customer_credit(organization=org, customer=customer) == []


@dataclass
class FakeNote:
    id: str
    number: str
    currency: str
    amount_remaining: Decimal
    issue_date: date


def test_open_credit_notes_are_listed_by_currency_beside_payments(org, customer, monkeypatch):
    overpay(org, customer)
    notes = [
        FakeNote("n1", "CN-1", "USD", Decimal("5.00"), date(2026, 11, 1)),
        FakeNote("n2", "CN-2", "EUR", Decimal("7.50"), date(2026, 11, 2)),
    ]
    monkeypatch.setattr(credit, "open_credit_notes", lambda **kwargs: notes)

    rows = credit.customer_credit(organization=org, customer=customer)

    assert [(r.currency, r.payments_total, r.credit_notes_total, r.total) for r in rows] == [
        ("EUR", Decimal("0"), Decimal("7.50"), Decimal("7.50")),
        ("USD", Decimal("40.00"), Decimal("5.00"), Decimal("45.00")),
    ]


# --- API --------------------------------------------------------------------------------------


def test_get_credit_answers_by_currency_with_the_sources(api, org, customer):
    payment = overpay(org, customer, payer_name="Acme Treasury")

    response = api.get(f"/api/v1/customers/{customer.pk}/credit")

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "customer_id": str(customer.pk),
            "currencies": [
                {
                    "currency": "USD",
                    "total": 40.0,
                    "payments_total": 40.0,
                    "credit_notes_total": 0.0,
                    "payments": [
                        {
                            "payment_id": str(payment.pk),
                            "payment_date": payment.payment_date.isoformat(),
                            "payer_name": "Acme Treasury",
                            "payer_reference": "",
                            "amount": 100.0,
                            "amount_remaining": 40.0,
                            "assigned": False,
                        }
                    ],
                    "credit_notes": [],
                }
            ],
        }
    }


def test_get_credit_of_another_organization_s_customer_is_404(api, other_customer):
    response = api.get(f"/api/v1/customers/{other_customer.pk}/credit")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_get_credit_with_a_malformed_id_is_404(api):
    assert api.get("/api/v1/customers/not-a-uuid/credit").status_code == 404


@pytest.mark.parametrize("payments", [1, 6])
def test_get_credit_costs_a_fixed_number_of_queries(
    api, org, customer, payments, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr(credit, "open_credit_notes", lambda **kwargs: [])  # its own cost
    for _ in range(payments):
        overpay(org, customer)
    api.get(f"/api/v1/customers/{customer.pk}/credit")  # warm-up (the API key's last use)

    # the API key, the customer, the credit payments
    with django_assert_num_queries(3):
        response = api.get(f"/api/v1/customers/{customer.pk}/credit")

    assert len(response.json()["data"]["currencies"][0]["payments"]) == payments


# --- refunds ----------------------------------------------------------------------------------


def refund_body(payment, **overrides):
    return {
        "payment_id": str(payment.pk),
        "amount": "25.00",
        "method": "ach",
        "reference": "RF-1",
        "date": "2026-11-30",
        **overrides,
    }


def test_a_refund_records_an_outgoing_payment_and_uses_that_much_credit(api, org, customer):
    payment = overpay(org, customer)
    ar_before = ar_balance(org)

    response = api.post(
        f"/api/v1/customers/{customer.pk}/credit/refund", refund_body(payment), format="json"
    )

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert (data["amount"], data["currency"], data["date"], data["method"]) == (
        25.0,
        "USD",
        "2026-11-30",
        "ach",
    )
    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.unapplied_amount) == (Decimal("25.00"), Decimal("15"))
    refund = CreditRefund.objects.get(pk=data["id"])
    assert (refund.customer_id, refund.payment_id) == (customer.pk, payment.pk)
    [row] = credit.customer_credit(organization=org, customer=customer)
    assert row.total == Decimal("15.00")
    # the ledger: received on account and paid back; the receivable still equals open items
    entry = JournalEntry.objects.get(pk=data["journal_entry_id"])
    lines = sorted(
        (line.account.account_number, line.debit, line.credit)
        for line in entry.lines.select_related("account")
    )
    assert lines == [
        (1000, Decimal("0.00"), Decimal("25.00")),
        (1000, Decimal("25.00"), Decimal("0.00")),
        (1100, Decimal("0.00"), Decimal("25.00")),
        (1100, Decimal("25.00"), Decimal("0.00")),
    ]
    assert ar_balance(org) == ar_before == open_total(org)
    change = AccountingChange.objects.get(pk=data["accounting_change_id"])
    assert (change.change_type, change.status, change.amount) == (
        "refund",
        "pending",
        Decimal("25.00"),
    )
    assert (change.customer_id, change.payment_id) == (customer.pk, payment.pk)
    assert change.payload["journal_entry_ids"] == [str(entry.pk)]


def test_a_refund_sends_customer_credit_refunded(api, org, customer, settings):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    webhook_services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/hook", events=["customer.credit_refunded"]
    )
    payment = overpay(org, customer)

    response = api.post(
        f"/api/v1/customers/{customer.pk}/credit/refund", refund_body(payment), format="json"
    )

    data = WebhookEvent.objects.get(event_type="customer.credit_refunded").payload["data"]
    assert data == response.json()["data"]


def test_refunding_the_whole_remainder_leaves_no_credit(api, org, customer):
    payment = overpay(org, customer)

    response = api.post(
        f"/api/v1/customers/{customer.pk}/credit/refund",
        refund_body(payment, amount="40.00"),
        format="json",
    )

    assert response.status_code == 201
    assert credit.customer_credit(organization=org, customer=customer) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "40.01"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"payment_id": "nope"}, "payment_id"),
        ({"date": "2026-13-01"}, "date"),
        ({"method": "x" * 101}, "method"),
    ],
)
def test_a_bad_refund_is_400_naming_the_field(api, org, customer, overrides, field):
    payment = overpay(org, customer)

    response = api.post(
        f"/api/v1/customers/{customer.pk}/credit/refund",
        refund_body(payment, **overrides),
        format="json",
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert not CreditRefund.objects.exists()


def test_refunding_a_payment_that_is_not_the_customer_s_credit_is_400(api, org, customer):
    stranger = make_payment(org, amount="50.00")  # unmatched, no customer: the review queue
    someone_else = overpay(org, CustomerFactory(organization=org))

    for payment in (stranger, someone_else):
        response = api.post(
            f"/api/v1/customers/{customer.pk}/credit/refund",
            refund_body(payment, amount="1.00"),
            format="json",
        )
        assert response.status_code == 400
        assert "payment_id" in response.json()["error"]["fields"]


def test_refunding_for_another_organization_s_customer_is_404(
    api, other_api, org, other_org, customer, other_customer
):
    payment = overpay(org, customer)

    response = api.post(
        f"/api/v1/customers/{other_customer.pk}/credit/refund",
        refund_body(payment),
        format="json",
    )
    assert response.status_code == 404
    # and another organization cannot refund this organization's credit
    response = other_api.post(
        f"/api/v1/customers/{customer.pk}/credit/refund", refund_body(payment), format="json"
    )
    assert response.status_code == 404


def test_a_yen_refund_has_no_decimals(org, customer):
    org.currency = "JPY"
    org.save(update_fields=["currency"])
    invoice = make_invoice(org, customer=customer, amount="600")
    payment = make_payment(org, amount="1000", currency="JPY")
    services.payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)

    with pytest.raises(credit.ValidationFailed) as refused:
        credit.credit_refund(
            organization=org, customer_id=customer.pk, payment_id=payment.pk, amount=money("1.5")
        )
    assert "amount" in refused.value.fields

    refund = credit.credit_refund(
        organization=org, customer_id=customer.pk, payment_id=payment.pk, amount=money("400")
    )
    assert (refund.amount, refund.currency) == (Decimal("400"), "JPY")


def test_a_foreign_refund_posts_at_the_table_s_rate_or_is_400_naming_date(org, customer):
    payment = make_payment(org, amount="100.00", currency="EUR")
    Payment.objects.filter(pk=payment.pk).update(customer=customer)

    with pytest.raises(credit.ValidationFailed) as refused:
        credit.credit_refund(
            organization=org, customer_id=customer.pk, payment_id=payment.pk, amount=money(10)
        )
    assert "date" in refused.value.fields

    ExchangeRate.objects.create(
        organization=org, currency="EUR", date=date(2020, 1, 1), rate=Decimal("1.1")
    )
    refund = credit.credit_refund(
        organization=org, customer_id=customer.pk, payment_id=payment.pk, amount=money(10)
    )
    debits = sorted(line.debit for line in refund.journal_entry.lines.all() if line.debit)
    assert debits == [Decimal("11.00"), Decimal("11.00")]
    assert refund.currency == "EUR"


@hypothesis_settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cents=st.integers(min_value=-500, max_value=5000))
def test_refund_amounts_are_taken_exactly_or_refused(api, org, customer, cents):
    """Whatever amount arrives, the refund is exact and within the credit, or a 400."""
    Payment.objects.for_org(org).update(refunded_amount=0)
    payment = Payment.objects.for_org(org).filter(customer=customer).first()
    if payment is None:
        payment = make_payment(org, amount="40.00")
        Payment.objects.filter(pk=payment.pk).update(customer=customer)
    CreditRefund.objects.for_org(org).delete()
    amount = Decimal(cents) / 100

    response = api.post(
        f"/api/v1/customers/{customer.pk}/credit/refund",
        refund_body(payment, amount=str(amount)),
        format="json",
    )

    payment.refresh_from_db()
    if Decimal("0") < amount <= Decimal("40.00"):
        assert response.status_code == 201
        assert payment.refunded_amount == amount
    else:
        assert response.status_code == 400
        assert "amount" in response.json()["error"]["fields"]
        assert payment.refunded_amount == 0


# --- applying credit (PATCH /payments/{id} and the service the page uses) -----------------------


def test_credit_apply_adds_an_allocation_to_the_payment_s_spread(org, customer):
    payment = overpay(org, customer)
    later = make_invoice(org, customer=customer, amount="30.00")

    credit.credit_apply(
        organization=org, customer_id=customer.pk, payment_id=payment.pk, invoice_id=later.pk
    )

    payment.refresh_from_db()
    later.refresh_from_db()
    assert (payment.applied_amount, later.amount_due) == (Decimal("90.00"), Decimal("0.00"))
    [row] = credit.customer_credit(organization=org, customer=customer)
    assert row.total == Decimal("10.00")
    assert ar_balance(org) == open_total(org)


@pytest.mark.parametrize(
    ("amount", "field"), [(Decimal("40.01"), "amount"), (Decimal("31.00"), "amount")]
)
def test_credit_apply_refuses_more_than_the_credit_or_the_invoice(org, customer, amount, field):
    payment = overpay(org, customer)
    later = make_invoice(org, customer=customer, amount="30.00")

    with pytest.raises(credit.ValidationFailed) as refused:
        credit.credit_apply(
            organization=org,
            customer_id=customer.pk,
            payment_id=payment.pk,
            invoice_id=later.pk,
            amount=amount,
        )
    assert field in refused.value.fields


def test_credit_apply_refuses_another_customer_s_invoice(org, customer):
    payment = overpay(org, customer)
    theirs = make_invoice(org, customer=CustomerFactory(organization=org), amount="30.00")

    with pytest.raises(credit.ValidationFailed) as refused:
        credit.credit_apply(
            organization=org, customer_id=customer.pk, payment_id=payment.pk, invoice_id=theirs.pk
        )
    assert "invoice_id" in refused.value.fields


def test_applying_after_a_refund_still_leaves_the_refunded_money_alone(api, org, customer):
    payment = overpay(org, customer)
    credit.credit_refund(
        organization=org, customer_id=customer.pk, payment_id=payment.pk, amount=money(30)
    )
    later = make_invoice(org, customer=customer, amount="30.00")

    credit.credit_apply(
        organization=org, customer_id=customer.pk, payment_id=payment.pk, invoice_id=later.pk
    )

    later.refresh_from_db()
    payment.refresh_from_db()
    assert later.amount_due == Decimal("20.00")  # only the 10 left
    assert payment.unapplied_amount == 0


# --- auto-apply -------------------------------------------------------------------------------


def test_auto_apply_is_off_by_default(org, customer):
    overpay(org, customer)

    invoice = make_invoice(org, customer=customer, amount="30.00")

    assert invoice.amount_due == Decimal("30.00")
    assert PaymentSettings._meta.get_field("auto_apply_credit").default is False


def test_auto_apply_settles_a_new_invoice_oldest_credit_first(org, customer):
    newer = overpay(org, customer, days_ago=1)  # 40 left
    older = overpay(org, customer, days_ago=9)  # 40 left
    turn_auto_apply_on(org)

    invoice = make_invoice(org, customer=customer, amount="50.00")

    invoice.refresh_from_db()
    older.refresh_from_db()
    newer.refresh_from_db()
    assert invoice.amount_due == Decimal("0.00")
    assert (older.unapplied_amount, newer.unapplied_amount) == (Decimal("0"), Decimal("30.00"))
    assert ar_balance(org) == open_total(org)


def test_auto_apply_takes_only_credit_of_the_invoice_s_currency(org, customer):
    payment = make_payment(org, amount="100.00", currency="EUR")
    Payment.objects.filter(pk=payment.pk).update(customer=customer)
    turn_auto_apply_on(org)

    invoice = make_invoice(org, customer=customer, amount="50.00")

    assert invoice.amount_due == Decimal("50.00")


def test_turning_auto_apply_off_again_is_seen_at_once(org, customer):
    overpay(org, customer)
    turn_auto_apply_on(org)
    assert credit.auto_apply_credit_on(org.pk)
    turn_auto_apply_on(org, on=False)

    invoice = make_invoice(org, customer=customer, amount="30.00")

    assert invoice.amount_due == Decimal("30.00")


@pytest.mark.skipif(not POSTGRES, reason="the pinned figures are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
# Off: tests/test_write_query_counts.py's 10 (the setting comes from the cache). On, with
# one credit payment: + the credit payments (locked), the invoice's funds, the payment's
# journal entry, the invoice's amount_due, the allocation, its accounting change, the
# payment's money.
@pytest.mark.parametrize(("auto_apply", "statements"), [(False, 10), (True, 17)])
def test_invoice_create_costs_no_query_for_credit_while_auto_apply_is_off(
    api, org, auto_apply, statements
):
    customer = CustomerFactory(organization=org, company_name="Book Customer")
    overpay(org, customer, paid="500.00")
    turn_auto_apply_on(org, on=auto_apply)

    def create(number):
        return api.post(
            "/api/v1/invoices",
            {
                "invoice_number": number,
                "customer_id": str(customer.pk),
                "amount": "123.45",
                "due_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
            },
            format="json",
        )

    create("WARM-UP")
    with CaptureQueriesContext(connection) as captured:
        response = create("Q-1")

    assert response.status_code == 201
    assert len(captured) == statements, [q["sql"][:60] for q in captured]
    expected = "0.00" if auto_apply else "123.45"
    assert money(response.json()["data"]["amount_due"]) == Decimal(expected)


def test_a_payment_applied_and_refunded_in_full_is_done_and_leaves_the_queue(org):
    from payments.models import Payment
    from payments.services import credit as credit_services
    from tests.factories import CustomerFactory, make_invoice, make_payment

    customer = CustomerFactory(organization=org)
    invoice = make_invoice(org, customer=customer, amount="60.00")
    payment = make_payment(org, amount="100.00")
    from payments.services import payment_update

    payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PARTIALLY_APPLIED
    credit_services.credit_refund(
        organization=org,
        customer_id=customer.pk,
        payment_id=payment.pk,
        amount=Decimal("40.00"),
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.APPLIED
    assert payment.applied_amount + payment.refunded_amount == payment.amount
