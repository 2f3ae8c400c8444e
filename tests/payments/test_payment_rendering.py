"""The API's JSON of a payment is written by hand (``payments.rendering.payment_data``) for
speed; it must be exactly what ``PaymentSerializer``'s declared fields give, field by field
(same keys in the same order, same values and types): for payments the services made
(applied, written off, across currencies, suggested, reviewed, refunded) and for any values
the columns can hold (hypothesis)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import selectors, services
from payments.api.serializers import PaymentSerializer
from payments.models import MatchSuggestion, Payment, PaymentAllocation
from payments.rendering import payment_data
from receivables import services as receivable_services
from receivables.models import Invoice
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db

D = Decimal


def assert_same(payment: Payment) -> dict:
    by_hand = payment_data(payment)
    reference = PaymentSerializer().field_by_field(payment)
    assert list(by_hand) == list(reference)
    assert by_hand == reference
    for name, value in reference.items():
        assert type(by_hand[name]) is type(value), name
    return by_hand


def read(org, payment) -> Payment:
    return selectors.payment_get(organization=org, pk=payment.pk)


def test_an_unapplied_payment(org):
    payment = make_payment(org, amount="12.30", payer_name="Nobody", payer_reference="ref 1")

    data = assert_same(read(org, payment))

    assert data["allocations"] == [] and data["invoice_id"] is None
    assert data["amount"] == D("12.30") and data["reviewed_at"] is None


def test_applied_with_a_write_off_reviewed_and_suggested(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="99.50", payer_account="DE89 3704 0044 0532 0130 00")
    services.payment_update(
        organization=org,
        payment_id=payment.pk,
        invoice_id=invoice.pk,
        write_off_short_payment=True,
    )
    services.payment_mark_reviewed(organization=org, payment_id=payment.pk, reviewed=True)
    MatchSuggestion.objects.create(
        organization=org,
        payment=payment,
        rank=1,
        invoice_ids=[str(invoice.pk)],
        invoice_numbers=[invoice.invoice_number],
        amount=D("99.50"),
        score=0.875,
        reasons=["amount", "payer name"],
    )

    data = assert_same(read(org, payment))

    assert data["invoice_id"] == str(invoice.pk)
    assert data["allocations"][0]["write_off_amount"] == D("0.50")
    assert data["suggestions"][0]["score"] == 0.875
    assert data["reviewed"] is True and data["reviewed_at"].endswith("Z")


def test_applied_across_currencies(org, customer):
    invoice = make_invoice(
        org, customer=customer, amount="100.00", currency="EUR", exchange_rate="1.1"
    )
    payment = make_payment(org, amount="120.00")
    services.payment_update(
        organization=org,
        payment_id=payment.pk,
        invoice_id=invoice.pk,
        exchange_rate=D("0.8333333333"),
    )

    data = assert_same(read(org, payment))

    allocation = data["allocations"][0]
    assert allocation["exchange_rate"] == "0.8333333333"
    assert (allocation["base_amount"], allocation["exchange_difference"]) == (
        D("120.00"),
        D("10.00"),
    )


def test_three_decimal_money(org, customer):
    receivable_services.exchange_rate_set(
        organization=org, currency="BHD", date=date(2000, 1, 1), rate=D("2.65")
    )
    payment = make_payment(org, amount="1.234", currency="BHD")

    assert assert_same(read(org, payment))["amount"] == D("1.234")


texts = st.text(max_size=12)
money = st.decimals(min_value=D("-999999999999.999"), max_value=D("999999999999.999"), places=3)
moments = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@st.composite
def payments(draw):
    payment = Payment(
        amount=draw(money),
        payment_date=draw(st.dates()),
        payment_method=draw(texts),
        payer_name=draw(texts),
        payer_reference=draw(texts),
        external_payment_id=draw(st.none() | texts),
        notes=draw(texts),
        currency=draw(st.sampled_from(["", "USD", "EUR", "BHD"])),
        bank_account=draw(texts),
        payer_account=draw(texts),
        status=draw(st.sampled_from(Payment.Status.values)),
        applied_amount=draw(money),
        refunded_amount=draw(money),
        written_off_amount=draw(money),
        reviewed=draw(st.booleans()),
        reviewed_at=draw(st.none() | moments),
        auto_applied=draw(st.booleans()),
        unapplied_by_clerk=draw(st.booleans()),
        source=draw(st.sampled_from(Payment.Source.values)),
        created_at=draw(moments),
        updated_at=draw(moments),
    )
    payment.active_allocations = [
        PaymentAllocation(
            invoice=Invoice(invoice_number=draw(texts)),
            amount=draw(money),
            invoice_amount=draw(st.none() | money),
            exchange_rate=draw(
                st.none() | st.decimals(min_value=D("0.0000000001"), max_value=D("1e12"), places=10)
            ),
            base_amount=draw(st.none() | money),
            exchange_difference=draw(st.none() | money),
            write_off_amount=draw(money),
            applied_by=draw(st.sampled_from(PaymentAllocation.AppliedBy.values)),
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    suggestions = [
        MatchSuggestion(
            rank=rank,
            invoice_ids=[str(Invoice().pk) for _ in range(draw(st.integers(1, 2)))],
            invoice_numbers=draw(st.lists(texts, max_size=2)),
            amount=draw(money),
            score=draw(st.floats(min_value=0, max_value=1)),
            reasons=draw(st.lists(texts, max_size=3)),
        )
        for rank in range(draw(st.integers(0, 2)))
    ]
    payment._prefetched_objects_cache = {"suggestions": suggestions}
    return payment


@settings(
    max_examples=150, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)
@given(payment=payments())
def test_any_payment_the_columns_can_hold(payment):
    assert_same(payment)
