"""An invoice in another currency than the organization's is booked at a rate (given, or the
organization's rate of its issue date): its journal lines are in the base currency at that
rate and carry the invoice's currency and amounts; voids, reposts and offline payments are
at the same rate, so the ledger's invariants hold (tests/ledger_invariants.py)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from arpilot.errors import ValidationFailed
from receivables import services
from receivables.models import Account, Invoice, InvoiceOfflinePayment, JournalEntry, JournalLine
from tests.factories import make_invoice
from tests.ledger_invariants import check_ledger as check_invariants
from tests.ledger_invariants import ledger_problems

pytestmark = pytest.mark.django_db


def check_ledger(organization) -> None:
    """The ledger's invariants, each invoice's receivable included."""
    check_invariants(organization, per_invoice=True)


DUE = (date.today() + timedelta(days=30)).isoformat()


def _lines(invoice, kind=JournalEntry.Kind.ISSUE) -> list[tuple]:
    return [
        (line.account.account_number, line.debit, line.credit, line.currency, line.amount_currency)
        for line in JournalLine.objects.filter(entry__invoice=invoice, entry__kind=kind)
        .select_related("account")
        .order_by("id")
    ]


def _rate(org, currency, rate, day=date(2026, 1, 1)):
    services.exchange_rate_set(organization=org, currency=currency, date=day, rate=rate)


def _payload(customer, **fields) -> dict:
    body = {
        "invoice_number": "E-1",
        "customer_id": str(customer.pk),
        "amount": "100.00",
        "currency": "EUR",
        "due_date": DUE,
    }
    body.update(fields)
    return body


# --- issue ----------------------------------------------------------------------------------


def test_an_invoice_is_booked_at_the_rate_given(api, org, customer):
    response = api.post(
        "/api/v1/invoices", _payload(customer, exchange_rate="1.0825"), format="json"
    )

    assert response.status_code == 201, response.content
    invoice = Invoice.objects.get(invoice_number="E-1")
    assert invoice.exchange_rate == Decimal("1.0825")
    assert _lines(invoice) == [
        (1100, Decimal("108.25"), Decimal("0.00"), "EUR", Decimal("100.00")),
        (4000, Decimal("0.00"), Decimal("108.25"), "EUR", Decimal("-100.00")),
    ]
    check_ledger(org)


def test_without_a_rate_the_table_of_the_issue_date_books_it(api, org, customer):
    _rate(org, "EUR", "1.05", date(2026, 1, 1))
    _rate(org, "EUR", "1.20", date(2026, 3, 1))

    response = api.post(
        "/api/v1/invoices", _payload(customer, issue_date="2026-02-15"), format="json"
    )

    assert response.status_code == 201, response.content
    invoice = Invoice.objects.get(invoice_number="E-1")
    assert invoice.exchange_rate == Decimal("1.05")
    assert _lines(invoice)[0][:2] == (1100, Decimal("105.00"))
    check_ledger(org)


def test_without_a_rate_or_a_table_it_is_a_400_naming_exchange_rate(api, org, customer):
    response = api.post("/api/v1/invoices", _payload(customer), format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["exchange_rate"]
    assert not Invoice.objects.exists()
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize("bad", ["0", "-1", "1.12345678901", "abc"])
def test_a_bad_rate_is_a_400_naming_exchange_rate(api, customer, bad):
    response = api.post("/api/v1/invoices", _payload(customer, exchange_rate=bad), format="json")

    assert response.status_code == 400
    assert "exchange_rate" in response.json()["error"]["fields"]


def test_an_invoice_in_the_base_currency_has_no_rate(api, org, customer):
    plain = api.post("/api/v1/invoices", _payload(customer, currency="USD"), format="json")
    wrong = api.post(
        "/api/v1/invoices",
        _payload(customer, invoice_number="U-2", currency="USD", exchange_rate="1.1"),
        format="json",
    )

    assert plain.status_code == 201
    assert Invoice.objects.get(invoice_number="E-1").exchange_rate is None
    assert _lines(Invoice.objects.get(invoice_number="E-1"))[0][3:] == ("", None)
    assert wrong.status_code == 400 and "exchange_rate" in wrong.json()["error"]["fields"]


def test_each_line_is_converted_and_the_rounding_goes_to_the_largest(org, customer):
    fund = services.default_fund(org)
    revenue = Account.objects.for_org(org).get(account_number=4000)
    other = services.account_create(
        organization=org, account_number=4100, name="Fees", type=Account.Type.INCOME
    )
    lines = [
        services.LineSpec(amount=Decimal("0.05"), account=other, fund=fund),
        services.LineSpec(amount=Decimal("0.05"), account=other, fund=fund),
        services.LineSpec(amount=Decimal("10.00"), account=revenue, fund=fund),
    ]

    invoice = make_invoice(
        org, customer=customer, amount="10.10", lines=lines, currency="EUR", exchange_rate="1.1"
    )

    # 0.055 → 0.06 twice, 11.00; the receivable is round(10.10 * 1.1) = 11.11, not 11.12.
    assert _lines(invoice) == [
        (1100, Decimal("11.11"), Decimal("0.00"), "EUR", Decimal("10.10")),
        (4100, Decimal("0.00"), Decimal("0.06"), "EUR", Decimal("-0.05")),
        (4100, Decimal("0.00"), Decimal("0.06"), "EUR", Decimal("-0.05")),
        (4000, Decimal("0.00"), Decimal("10.99"), "EUR", Decimal("-10.00")),
    ]
    check_ledger(org)


def test_a_yen_invoice_is_booked_to_the_cent(org, customer):
    invoice = make_invoice(
        org, customer=customer, amount="12345", currency="JPY", exchange_rate="0.0067"
    )

    assert _lines(invoice)[0] == (1100, Decimal("82.71"), Decimal("0.00"), "JPY", Decimal("12345"))
    check_ledger(org)


def test_a_draft_takes_its_rate_when_issued(api, org, customer):
    created = api.post("/api/v1/invoices", _payload(customer, status="draft"), format="json")
    assert created.status_code == 201, created.content
    invoice_id = created.json()["data"]["id"]

    refused = api.patch(f"/api/v1/invoices/{invoice_id}", {"status": "pending"}, format="json")
    _rate(org, "EUR", "0.9")
    issued = api.patch(f"/api/v1/invoices/{invoice_id}", {"status": "pending"}, format="json")

    assert refused.status_code == 400 and "exchange_rate" in refused.json()["error"]["fields"]
    assert issued.status_code == 200, issued.content
    assert Invoice.objects.get(pk=invoice_id).exchange_rate == Decimal("0.9")
    check_ledger(org)


def test_the_rate_is_fixed_once_issued(api, org, customer):
    invoice = make_invoice(org, customer=customer, currency="EUR", exchange_rate="1.1")

    same = api.patch(f"/api/v1/invoices/{invoice.pk}", {"exchange_rate": "1.1"}, format="json")
    other = api.patch(f"/api/v1/invoices/{invoice.pk}", {"exchange_rate": "1.2"}, format="json")

    assert same.status_code == 200
    assert other.status_code == 400 and "exchange_rate" in other.json()["error"]["fields"]
    invoice.refresh_from_db()
    assert invoice.exchange_rate == Decimal("1.1")


def test_a_new_currency_is_booked_again_at_its_rate(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(
        f"/api/v1/invoices/{invoice.pk}",
        {"currency": "GBP", "exchange_rate": "1.25"},
        format="json",
    )

    assert response.status_code == 200, response.content
    invoice.refresh_from_db()
    assert (invoice.currency, invoice.exchange_rate) == ("GBP", Decimal("1.25"))
    check_ledger(org)


def test_a_repost_keeps_the_booked_rate(api, org, customer):
    invoice = make_invoice(org, customer=customer, currency="EUR", exchange_rate="1.1")

    response = api.patch(f"/api/v1/invoices/{invoice.pk}", {"amount": "50.00"}, format="json")

    assert response.status_code == 200, response.content
    reissue = JournalEntry.objects.filter(invoice=invoice, kind="issue").order_by("-created_at")[0]
    assert sorted(line.debit for line in reissue.lines.all()) == [Decimal("0"), Decimal("55.00")]
    check_ledger(org)


def test_another_organizations_invoice_is_a_404(api, other_org):
    theirs = make_invoice(other_org, currency="EUR", exchange_rate="1.1")

    response = api.patch(f"/api/v1/invoices/{theirs.pk}", {"exchange_rate": "2"}, format="json")

    assert response.status_code == 404


# --- void and offline payments --------------------------------------------------------------


def test_a_void_reverses_at_the_same_rate(api, org, customer):
    invoice = make_invoice(org, customer=customer, currency="EUR", exchange_rate="1.0825")

    response = api.patch(f"/api/v1/invoices/{invoice.pk}", {"status": "void"}, format="json")

    assert response.status_code == 200, response.content
    assert _lines(invoice, JournalEntry.Kind.ISSUE_REVERSAL) == [
        (1100, Decimal("0.00"), Decimal("108.25"), "EUR", Decimal("-100.00")),
        (4000, Decimal("108.25"), Decimal("0.00"), "EUR", Decimal("100.00")),
    ]
    check_ledger(org)


def test_offline_payments_are_at_the_invoices_rate(api, org, customer):
    invoice = make_invoice(org, customer=customer, currency="EUR", exchange_rate="1.005")

    for amount in ("33.33", "33.33"):
        response = api.patch(
            f"/api/v1/invoices/{invoice.pk}", {"external_payment_amount": amount}, format="json"
        )
        assert response.status_code == 200, response.content
        check_ledger(org)
    payments = _lines(invoice, JournalEntry.Kind.PAYMENT)
    # 100.50 booked; 66.67 open → 67.00, 33.34 open → 33.51: relieved 33.50, then 33.49.
    assert [line[1:3] for line in payments if line[0] == 1000] == [
        (Decimal("33.50"), Decimal("0.00")),
        (Decimal("33.49"), Decimal("0.00")),
    ]
    assert {line[3] for line in payments} == {"EUR"}
    first = InvoiceOfflinePayment.objects.filter(invoice=invoice).order_by("created_at")[0]
    services.invoice_offline_payment_reverse(
        invoice=invoice, offline_payment_id=first.pk, reason="wrong", reversed_by="test"
    )
    check_ledger(org)  # 66.67 open again: 67.00 in base, a cent of rounding against 7900
    rest = api.patch(
        f"/api/v1/invoices/{invoice.pk}", {"external_payment_amount": "66.67"}, format="json"
    )
    assert rest.status_code == 200, rest.content
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    check_ledger(org)


def test_the_invariants_name_what_is_wrong(org, customer):
    invoice = make_invoice(org, customer=customer, currency="EUR", exchange_rate="1.1")
    Invoice.objects.filter(pk=invoice.pk).update(amount_due=Decimal("90.00"))

    problems = ledger_problems(org, per_invoice=True)

    assert any("invoice" in problem and "difference 11.00" in problem for problem in problems)
    assert any("receivable 110.00 in base, open items 99.00" in p for p in problems)
    assert any("receivable in EUR: 100.00 posted, 90.00 open" in p for p in problems)
    with pytest.raises(AssertionError, match=r"difference 11\.00"):
        check_invariants(org)


def test_the_service_names_exchange_rate(org, customer):
    with pytest.raises(ValidationFailed) as caught:
        make_invoice(org, customer=customer, currency="EUR")

    assert list(caught.value.fields) == ["exchange_rate"]
