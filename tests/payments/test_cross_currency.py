"""A payment applied to an invoice of another currency (or of the same foreign currency):
the invoice is settled in its currency at the rate given (``exchange_rate``: the invoice's
currency per unit of the payment's) or from the organization's table, the receivable is
relieved at the invoice's booked rate, and the realised exchange gain or loss goes to 7900
in the same entry; unapplying reverses it exactly, and the ledger's invariants hold
throughout (tests/ledger_invariants.py)."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arpilot.errors import ValidationFailed
from payments import services
from payments.models import PaymentAllocation
from receivables import services as receivable_services
from receivables.models import Account, JournalLine
from tests.ledger_invariants import check_ledger as check_invariants
from tests.payments.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db


def check_ledger(organization) -> None:
    """The ledger's invariants, each invoice's receivable included."""
    check_invariants(organization, per_invoice=True)


D = Decimal


def _rate(org, currency, rate, day=date(2000, 1, 1)):
    receivable_services.exchange_rate_set(organization=org, currency=currency, date=day, rate=rate)


def _lines(entry) -> list[tuple]:
    return sorted(
        (line.account.account_number, line.debit, line.credit, line.currency, line.amount_currency)
        for line in JournalLine.objects.filter(entry=entry).select_related("account")
    )


def _exchange_balance(org) -> Decimal:
    """Credits minus debits on 7900 (a gain is positive)."""
    rows = JournalLine.objects.filter(organization=org, account__account_number=7900)
    return sum((line.credit - line.debit for line in rows), D("0"))


@pytest.fixture
def euro_invoice(org, customer):
    """100 EUR booked at 1.10: 110.00 USD receivable."""
    return make_invoice(
        org, customer=customer, amount="100.00", currency="EUR", exchange_rate="1.1"
    )


def _apply(org, payment, **options):
    return services.payment_update(organization=org, payment_id=payment.pk, **options)


# --- services: gain, loss, rates ------------------------------------------------------------


def test_a_dollar_payment_settles_a_euro_invoice_at_the_rate_given_with_a_gain(org, euro_invoice):
    payment = make_payment(org, amount="120.00")

    _apply(org, payment, invoice_id=euro_invoice.pk, exchange_rate=D("0.8333333333"))

    euro_invoice.refresh_from_db()
    payment.refresh_from_db()
    allocation = PaymentAllocation.objects.get(payment=payment)
    assert (euro_invoice.amount_due, euro_invoice.status) == (D("0.00"), "paid")
    assert (payment.applied_amount, payment.status) == (D("120.00"), "applied")
    assert (allocation.amount, allocation.invoice_amount) == (D("120.00"), D("100.00"))
    assert allocation.exchange_rate == D("0.8333333333")
    assert (allocation.base_amount, allocation.exchange_difference) == (D("120.00"), D("10.00"))
    assert _lines(allocation.journal_entry) == [
        (1000, D("120.00"), D("0.00"), "", None),
        (1100, D("0.00"), D("110.00"), "EUR", D("-100.00")),
        (7900, D("0.00"), D("10.00"), "", None),
    ]
    exchange = Account.objects.for_org(org).get(account_number=7900)
    assert (exchange.name, exchange.type) == ("Realised exchange gain/loss", "income")
    check_ledger(org)


def test_a_euro_payment_to_a_euro_invoice_is_valued_at_the_payment_dates_rate_a_loss(
    org, euro_invoice
):
    _rate(org, "EUR", "1.05")
    payment = make_payment(org, amount="100.00", currency="EUR")

    _apply(org, payment, invoice_id=euro_invoice.pk)

    allocation = PaymentAllocation.objects.get(payment=payment)
    assert (allocation.invoice_amount, allocation.exchange_rate) == (D("100.00"), D("1"))
    assert (allocation.base_amount, allocation.exchange_difference) == (D("105.00"), D("-5.00"))
    assert _lines(allocation.journal_entry) == [
        (1000, D("105.00"), D("0.00"), "EUR", D("100.00")),
        (1100, D("0.00"), D("110.00"), "EUR", D("-100.00")),
        (7900, D("5.00"), D("0.00"), "", None),
    ]
    assert _exchange_balance(org) == D("-5.00")
    check_ledger(org)


def test_the_rate_comes_from_the_table_of_the_payment_date(org, euro_invoice):
    _rate(org, "EUR", "1.25", day=date(2000, 1, 1))
    _rate(org, "EUR", "1.20", day=date(2001, 1, 1))  # the latest on or before the payment
    payment = make_payment(org, amount="60.00")

    _apply(org, payment, allocations=[{"invoice_id": euro_invoice.pk, "amount": D("60.00")}])

    euro_invoice.refresh_from_db()
    allocation = PaymentAllocation.objects.get(payment=payment)
    assert allocation.exchange_rate == D("0.8333333333")  # 1 / 1.20 EUR per USD
    assert allocation.invoice_amount == D("50.00")
    assert euro_invoice.amount_due == D("50.00")
    # 55.00 of the 110.00 receivable relieved (50 EUR at 1.10), 60.00 received: a 5.00 gain.
    assert allocation.exchange_difference == D("5.00")
    check_ledger(org)


def test_without_a_rate_it_is_refused_naming_exchange_rate_and_nothing_moves(org, euro_invoice):
    payment = make_payment(org, amount="60.00")

    with pytest.raises(ValidationFailed) as caught:
        _apply(org, payment, invoice_id=euro_invoice.pk)

    assert list(caught.value.fields) == ["exchange_rate"]
    assert "EUR per USD" in caught.value.message
    assert not PaymentAllocation.objects.exists()
    check_ledger(org)


def test_a_bad_rate_is_refused_naming_the_field(org, euro_invoice):
    payment = make_payment(org, amount="60.00")

    for bad, field in ((D("0"), "exchange_rate"), (D("1.12345678901"), "exchange_rate")):
        with pytest.raises(ValidationFailed) as caught:
            _apply(org, payment, invoice_id=euro_invoice.pk, exchange_rate=bad)
        assert list(caught.value.fields) == [field]
    with pytest.raises(ValidationFailed) as caught:
        _apply(
            org,
            payment,
            allocations=[
                {"invoice_id": euro_invoice.pk, "amount": D("10"), "exchange_rate": D("-1")}
            ],
        )
    assert list(caught.value.fields) == ["allocations.0.exchange_rate"]


def test_more_than_the_invoice_owes_is_refused_naming_the_amount(org, euro_invoice):
    payment = make_payment(org, amount="500.00")

    with pytest.raises(ValidationFailed) as caught:
        _apply(
            org,
            payment,
            allocations=[{"invoice_id": euro_invoice.pk, "amount": D("130.00")}],
            exchange_rate=D("0.8"),
        )

    assert list(caught.value.fields) == ["allocations.0.amount"]


def test_unapply_reverses_the_gain_exactly(org, euro_invoice):
    payment = make_payment(org, amount="120.00")
    _apply(org, payment, invoice_id=euro_invoice.pk, exchange_rate=D("0.8333333333"))
    allocation = PaymentAllocation.objects.get(payment=payment)

    result = services.payment_unapply(organization=org, payment_id=payment.pk, by_clerk=True)

    euro_invoice.refresh_from_db()
    reversal = allocation.journal_entry.reversed_by
    assert [line[:3] for line in _lines(reversal)] == [
        (1000, D("0.00"), D("120.00")),
        (1100, D("110.00"), D("0.00")),
        (7900, D("10.00"), D("0.00")),
    ]
    assert (euro_invoice.amount_due, euro_invoice.status) == (D("100.00"), "pending")
    assert _exchange_balance(org) == D("0.00")
    assert result.recorded[0].payload["exchange"]["gain_loss_reversed"] == "10.00"
    check_ledger(org)


def test_partial_applications_keep_the_receivable_at_the_booked_rate(org, customer):
    invoice = make_invoice(
        org, customer=customer, amount="100.00", currency="EUR", exchange_rate="1.005"
    )
    first, second, third = (make_payment(org, amount="33.33", currency="EUR") for _ in range(3))
    _rate(org, "EUR", "1.1")

    for payment in (first, second):
        _apply(org, payment, invoice_id=invoice.pk)
        check_ledger(org)
    services.payment_unapply(organization=org, payment_id=first.pk, by_clerk=True)
    check_ledger(org)  # out of order: a cent of rounding keeps 66.67 EUR at 67.00 USD
    _apply(org, third, invoice_id=invoice.pk)
    check_ledger(org)
    last = make_payment(org, amount="33.34", currency="EUR")
    _apply(org, last, invoice_id=invoice.pk)

    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (D("0.00"), "paid")
    check_ledger(org)  # nothing left behind on the paid invoice


def test_yen_are_settled_in_whole_yen(org, customer):
    invoice = make_invoice(
        org, customer=customer, amount="10000", currency="JPY", exchange_rate="0.0067"
    )
    payment = make_payment(org, amount="70.00")

    _apply(org, payment, invoice_id=invoice.pk, exchange_rate=D("142.86"))

    invoice.refresh_from_db()
    allocation = PaymentAllocation.objects.get(payment=payment)
    # 70.00 USD at 142.86 is 10000.2 JPY: the least that covers the 10000 owed settles it.
    assert (allocation.amount, allocation.invoice_amount) == (D("70.00"), D("10000"))
    assert invoice.amount_due == 0
    assert allocation.exchange_difference == D("3.00")  # 70.00 received, 67.00 booked
    check_ledger(org)


def test_a_partial_yen_settlement_rounds_to_whole_yen(org, customer):
    invoice = make_invoice(
        org, customer=customer, amount="10000", currency="JPY", exchange_rate="0.0067"
    )
    payment = make_payment(org, amount="10.00")

    _apply(
        org,
        payment,
        allocations=[{"invoice_id": invoice.pk, "amount": D("10.00")}],
        exchange_rate=D("142.857"),
    )

    invoice.refresh_from_db()
    assert invoice.amount_due == D("8571")  # 1428.57 JPY settled as 1429
    check_ledger(org)


def test_a_euro_payment_to_a_dollar_invoice_realises_the_difference_to_the_table(org, customer):
    invoice = make_invoice(org, customer=customer, amount="110.00")
    _rate(org, "EUR", "1.08")  # what a euro is worth in the books on the payment date
    payment = make_payment(org, amount="100.00", currency="EUR")

    _apply(org, payment, invoice_id=invoice.pk, exchange_rate=D("1.1"))

    allocation = PaymentAllocation.objects.get(payment=payment)
    invoice.refresh_from_db()
    assert invoice.amount_due == D("0.00")
    assert (allocation.base_amount, allocation.exchange_difference) == (D("108.00"), D("-2.00"))
    check_ledger(org)


def test_the_accounting_change_carries_the_rate_and_the_gain(org, euro_invoice, money_events):
    payment = make_payment(org, amount="120.00")

    _apply(org, payment, invoice_id=euro_invoice.pk, exchange_rate=D("0.8333333333"))

    [event] = money_events
    exchange = event["payload"]["exchange"]
    assert exchange == {
        "currency": "USD",
        "invoice_currency": "EUR",
        "base_currency": "USD",
        "amount": "120.00",
        "invoice_amount": "100.00",
        "exchange_rate": "0.8333333333",
        "payment_base_rate": "1",
        "invoice_exchange_rate": "1.1",
        "received_base": "120.00",
        "receivable_base": "110.00",
        "gain_loss": "10.00",
        "kind": "gain",
    }
    assert {line["account_number"] for line in event["payload"]["lines"]} == {1000, 1100, 7900}


def test_auto_apply_never_crosses_currencies(org, customer, euro_invoice):
    _rate(org, "EUR", "1.2")
    dollar_payment = make_payment(org, amount="110.00")
    dollar_invoice = make_invoice(org, customer=customer, amount="100.00")
    euro_payment = make_payment(org, amount="100.00", currency="EUR")

    to_euro = services.payment_auto_apply(
        organization=org, payment_id=dollar_payment.pk, invoice_ids=[euro_invoice.pk],
        amount=D("110.00"),
    )  # fmt: skip
    to_dollar = services.payment_auto_apply(
        organization=org, payment_id=euro_payment.pk, invoice_ids=[dollar_invoice.pk],
        amount=D("100.00"),
    )  # fmt: skip

    assert (to_euro, to_dollar) == (False, False)
    assert not PaymentAllocation.objects.exists()
    check_ledger(org)


# --- the API --------------------------------------------------------------------------------


def test_api_applies_across_currencies_with_a_rate(api, org, euro_invoice):
    payment = make_payment(org, amount="120.00")

    response = api.patch(
        f"/api/v1/payments/{payment.pk}",
        {"invoice_id": str(euro_invoice.pk), "exchange_rate": "0.8333333333"},
        format="json",
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["status"], data["applied_amount"]) == ("applied", 120)
    euro_invoice.refresh_from_db()
    assert euro_invoice.status == "paid"
    assert PaymentAllocation.objects.get(payment=payment).exchange_difference == D("10.00")
    check_ledger(org)


def test_api_takes_a_rate_per_allocation(api, org, euro_invoice):
    payment = make_payment(org, amount="120.00")

    response = api.patch(
        f"/api/v1/payments/{payment.pk}",
        {
            "allocations": [
                {"invoice_id": str(euro_invoice.pk), "amount": "60.00", "exchange_rate": "0.8"}
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    euro_invoice.refresh_from_db()
    assert euro_invoice.amount_due == D("52.00")  # 60 USD at 0.8 settles 48 EUR
    check_ledger(org)


def test_api_uses_the_table_without_a_rate(api, org, euro_invoice):
    _rate(org, "EUR", "1.2")
    payment = make_payment(org, amount="60.00")

    response = api.patch(
        f"/api/v1/payments/{payment.pk}", {"invoice_id": str(euro_invoice.pk)}, format="json"
    )

    assert response.status_code == 200, response.content
    euro_invoice.refresh_from_db()
    assert euro_invoice.amount_due == D("50.00")


def test_api_without_a_rate_is_a_400_naming_exchange_rate(api, org, euro_invoice):
    payment = make_payment(org, amount="60.00")

    response = api.patch(
        f"/api/v1/payments/{payment.pk}", {"invoice_id": str(euro_invoice.pk)}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["exchange_rate"]


@pytest.mark.parametrize("bad", ["abc", "-1", "0"])
def test_api_a_bad_rate_is_a_400_naming_exchange_rate(api, org, euro_invoice, bad):
    payment = make_payment(org, amount="60.00")

    response = api.patch(
        f"/api/v1/payments/{payment.pk}",
        {"invoice_id": str(euro_invoice.pk), "exchange_rate": bad},
        format="json",
    )

    assert response.status_code == 400
    assert "exchange_rate" in response.json()["error"]["fields"]


def test_api_a_rate_without_an_invoice_is_a_400(api, org):
    payment = make_payment(org, amount="60.00")

    response = api.patch(f"/api/v1/payments/{payment.pk}", {"exchange_rate": "1.1"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["exchange_rate"]


def test_api_another_organizations_payment_or_invoice_is_not_found(api, org, other_org):
    theirs = make_payment(other_org, amount="60.00")
    their_invoice = make_invoice(other_org, currency="EUR", exchange_rate="1.1")
    mine = make_payment(org, amount="60.00")

    payment_404 = api.patch(
        f"/api/v1/payments/{theirs.pk}", {"exchange_rate": "1.1", "invoice_id": None},
        format="json",
    )  # fmt: skip
    invoice_unknown = api.patch(
        f"/api/v1/payments/{mine.pk}",
        {"invoice_id": str(their_invoice.pk), "exchange_rate": "0.9"},
        format="json",
    )

    assert payment_404.status_code == 404
    assert invoice_unknown.status_code == 400
    assert list(invoice_unknown.json()["error"]["fields"]) == ["invoice_id"]


# --- any rate, any order --------------------------------------------------------------------

rates = st.decimals(min_value=Decimal("0.3"), max_value=Decimal("3"), places=6)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    booked=rates,
    steps=st.lists(
        st.tuples(st.integers(min_value=1, max_value=4000), rates, st.booleans()),
        min_size=1,
        max_size=5,
    ),
)
def test_any_rates_and_any_order_of_unapplies_keep_the_ledger_true(org, customer, booked, steps):
    invoice = make_invoice(
        org, customer=customer, amount="100.00", currency="EUR", exchange_rate=str(booked)
    )
    applied = []
    for cents, rate, take_back_first in steps:
        payment = make_payment(org, amount=str(D(cents) / 100))
        try:
            _apply(org, payment, invoice_id=invoice.pk, exchange_rate=str(rate))
        except ValidationFailed as refused:  # nothing left open: a refusal naming a field
            assert set(refused.fields) <= {"invoice_id", "exchange_rate"}
        else:
            applied.append(payment)
        check_ledger(org)
        if take_back_first and applied:
            services.payment_unapply(organization=org, payment_id=applied.pop(0).pk, by_clerk=True)
            check_ledger(org)
    for payment in applied:
        services.payment_unapply(organization=org, payment_id=payment.pk, by_clerk=True)
    invoice.refresh_from_db()
    assert invoice.amount_due == D("100.00")
    check_ledger(org)
    lines = JournalLine.objects.filter(entry__invoice=invoice, account__account_number=1100)
    assert sum((line.debit - line.credit for line in lines), D(0)) == (
        D("100.00") * booked
    ).quantize(D("0.01"), rounding=ROUND_HALF_UP)
