"""Three-decimal currencies (BHD, KWD, OMR, JOD, LYD, TND): amounts keep their third place
from the request, the bank file and the clerk's form through the database, the ledger, the
matching engine, the API, the webhook payloads and the pages, never rounded to the cent;
two-place currencies read back exactly as before (``10.00``, not ``10.000``)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arpilot.money import money_value
from arpilot.templatetags.money import format_money
from payments.models import Payment, PaymentAllocation
from receivables.models import Invoice, JournalLine
from reconciliation.models import AccountingChange
from tests.ledger_invariants import check_ledger
from tests.receivables.factories import invoice_payload

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def dinar_org(org):
    """An organization keeping its books in Bahraini dinars."""
    org.currency = "BHD"
    org.save(update_fields=["currency"])
    return org


def _day(days_ago: int = 2) -> str:
    return (timezone.localdate() - timedelta(days=days_ago)).isoformat()


def _invoice(api, customer, number="B-1", amount="10.255", **extra):
    response = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, invoice_number=number, amount=amount, **extra),
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["data"]


def test_money_value_keeps_what_it_needs_and_at_least_two_places():
    assert str(money_value(D("10.000"))) == "10.00"
    assert str(money_value(D("12.340"))) == "12.34"
    assert str(money_value(D("12.345"))) == "12.345"
    assert str(money_value(D("1000"))) == "1000.00"
    assert money_value(None) is None


def test_two_place_amounts_read_back_as_they_always_did(api, org, customer):
    data = _invoice(api, customer, number="U-1", amount="10.50")
    invoice = Invoice.objects.get(pk=data["id"])
    assert str(invoice.amount) == "10.50" and str(invoice.amount_due) == "10.50"
    line = JournalLine.objects.filter(entry__invoice=invoice, debit__gt=0).get()
    assert str(line.debit) == "10.50"


def test_a_dinar_book_from_invoice_to_payment_keeps_every_fils(
    api, dinar_org, customer, django_capture_on_commit_callbacks
):
    data = _invoice(api, customer, number="B-1", amount="10.255")
    assert D(str(data["amount"])) == D("10.255")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/payments",
            {
                "amount": "10.255",
                "payment_date": _day(),
                "payer_name": customer.company_name,
                "payer_reference": "Invoice B-1",
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    payment = response.json()["data"]
    assert D(str(payment["amount"])) == D("10.255")
    assert payment["suggestions"][0]["invoice_ids"] == [data["id"]]
    assert D(str(payment["suggestions"][0]["amount"])) == D("10.255")
    assert (payment["status"], payment["auto_applied"]) == ("applied", True)

    invoice = Invoice.objects.get(pk=data["id"])
    assert (invoice.amount_due, invoice.status) == (D("0.00"), "paid")
    allocation = PaymentAllocation.objects.get(payment_id=payment["id"])
    assert allocation.amount == D("10.255")
    debits = JournalLine.objects.filter(entry=allocation.journal_entry, debit__gt=0)
    assert [line.debit for line in debits] == [D("10.255")]
    change = AccountingChange.objects.get(change_type="payment_applied")
    assert change.amount == D("10.255")
    assert {line["debit"] for line in change.payload["lines"]} == {"10.255", "0.00"}
    check_ledger(dinar_org, per_invoice=True)


def test_a_dinar_split_in_fils_is_exact_and_a_fourth_place_is_refused(api, dinar_org, customer):
    one = _invoice(api, customer, number="B-1", amount="5.125")
    two = _invoice(api, customer, number="B-2", amount="7.333")
    payment = api.post(
        "/api/v1/payments",
        {"amount": "12.458", "payment_date": _day(), "payer_name": "Nobody we know"},
        format="json",
    ).json()["data"]

    bad = api.patch(
        f"/api/v1/payments/{payment['id']}",
        {"allocations": [{"invoice_id": one["id"], "amount": "5.1255"}]},
        format="json",
    )
    assert bad.status_code == 400 and "allocations.0.amount" in str(bad.json()["error"]["fields"])

    good = api.patch(
        f"/api/v1/payments/{payment['id']}",
        {
            "allocations": [
                {"invoice_id": one["id"], "amount": "5.125"},
                {"invoice_id": two["id"], "amount": "7.333"},
            ]
        },
        format="json",
    )
    assert good.status_code == 200, good.json()
    assert D(str(good.json()["data"]["applied_amount"])) == D("12.458")
    assert set(Invoice.objects.values_list("amount_due", flat=True)) == {D("0.00")}
    check_ledger(dinar_org, per_invoice=True)


def test_a_dollar_allocation_of_a_tenth_of_a_cent_is_refused_naming_the_amount(api, org, customer):
    invoice = _invoice(api, customer, number="U-1", amount="10.00")
    payment = api.post(
        "/api/v1/payments",
        {"amount": "10.00", "payment_date": _day(), "payer_name": "Nobody we know"},
        format="json",
    ).json()["data"]

    response = api.patch(
        f"/api/v1/payments/{payment['id']}",
        {"allocations": [{"invoice_id": invoice["id"], "amount": "9.995"}]},
        format="json",
    )

    assert response.status_code == 400
    assert "allocations.0.amount" in response.json()["error"]["fields"]
    assert Invoice.objects.get(pk=invoice["id"]).amount_due == D("10.00")


def test_a_dinar_invoice_in_a_dollar_book_is_booked_to_the_cent(api, org, customer):
    from receivables.services import exchange_rate_set

    exchange_rate_set(organization=org, currency="BHD", date=timezone.localdate(), rate="2.6525")
    data = _invoice(api, customer, number="B-1", amount="1.005", currency="BHD")

    invoice = Invoice.objects.get(pk=data["id"])
    assert invoice.amount == D("1.005")
    receivable = JournalLine.objects.get(entry__invoice=invoice, debit__gt=0)
    # 1.005 BHD at 2.6525 is 2.6657625 USD: 2.67 in the dollar ledger, 1.005 BHD on the line
    assert (receivable.debit, receivable.currency, receivable.amount_currency) == (
        D("2.67"),
        "BHD",
        D("1.005"),
    )
    check_ledger(org, per_invoice=True)


def test_a_dollar_invoice_in_a_dinar_book_is_booked_to_the_fils(api, dinar_org, customer):
    from receivables.services import exchange_rate_set

    exchange_rate_set(
        organization=dinar_org, currency="USD", date=timezone.localdate(), rate="0.377"
    )
    data = _invoice(api, customer, number="U-1", amount="10.01", currency="USD")

    receivable = JournalLine.objects.get(entry__invoice_id=data["id"], debit__gt=0)
    assert (receivable.debit, receivable.amount_currency) == (D("3.774"), D("10.01"))
    summary = api.get("/api/v1/invoices", {"per_page": 5})
    assert summary.status_code == 200
    check_ledger(dinar_org, per_invoice=True)


def test_a_dinar_bank_file_is_imported_exactly(
    api, dinar_org, customer, django_capture_on_commit_callbacks
):
    data = f"Date,Description,Amount,Currency\n{_day()},B-1 thanks,1234.567,BHD\n".encode()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/payments/import",
            {"file": SimpleUploadedFile("dinars.csv", data)},
            format="multipart",
        )

    assert response.status_code == 202, response.content
    imported = api.get(f"/api/v1/payments/imports/{response.json()['data']['id']}").json()
    assert imported["data"]["rejected"] == [], imported
    payment = Payment.objects.for_org(dinar_org).get()
    assert (payment.amount, payment.currency) == (D("1234.567"), "BHD")


def test_a_dollar_bank_file_line_with_three_places_is_rejected_not_rounded(
    api, org, django_capture_on_commit_callbacks
):
    data = f"Date,Description,Amount,Currency\n{_day()},x,12.345,USD\n".encode()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/payments/import",
            {"file": SimpleUploadedFile("dollars.csv", data)},
            format="multipart",
        )

    imported = api.get(f"/api/v1/payments/imports/{response.json()['data']['id']}").json()
    assert not Payment.objects.for_org(org).exists()
    assert "more than 2 decimal places" in str(imported["data"]["rejected"])


def test_the_pages_show_three_places_for_dinars_and_two_for_dollars():
    assert format_money(D("12.345"), "BHD") == "BHD 12.345"
    assert format_money(D("12.3"), "BHD") == "BHD 12.300"
    assert format_money(D("12.3"), "USD") == "$12.30"
    assert format_money(D("1235"), "JPY") == "¥1,235"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fils=st.integers(min_value=1, max_value=10**15 - 1),
    currency=st.sampled_from(["BHD", "KWD", "OMR", "USD", "JPY"]),
)
def test_property_an_amount_is_stored_exactly_or_refused_naming_it(api, customer, fils, currency):
    """Whatever places an amount is written with, a payment keeps it exactly or the request
    is a 400 naming ``amount``: never a different number."""
    amount = D(fils).scaleb(-3)
    response = api.post(
        "/api/v1/payments",
        {"amount": f"{amount}", "payment_date": _day(), "currency": currency},
        format="json",
    )
    places = {"JPY": 0, "USD": 2}.get(currency, 3)
    fits = amount == amount.quantize(D(1).scaleb(-places)) and amount < D("1000000000000")
    if fits:
        assert response.status_code == 201, response.json()
        stored = Payment.objects.get(pk=response.json()["data"]["id"]).amount
        assert stored == amount
        assert D(str(response.json()["data"]["amount"])) == amount
    else:
        assert response.status_code == 400, response.json()
        assert "amount" in response.json()["error"]["fields"]
