"""Currencies: invoices and payments carry one (ISO 4217, default the organization's base),
amounts have its decimal places (never rounded), and the Aplos face stays in the base."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arpilot.currencies import (
    ISO_CURRENCIES,
    amount_check,
    cross_currency_reason,
    currency_places,
    currency_validate,
    decimal_places_of,
    iso_minor_units,
    plain_text,
    significant_digits_of,
)
from arpilot.errors import ValidationFailed
from payments.importers.money import minor_unit_exponent
from receivables.models import Fund, Invoice
from tests.factories import CustomerFactory
from tests.receivables.factories import invoice_payload, make_invoice

pytestmark = pytest.mark.django_db

APLOS = "/hermes/api/v1/receivables"


def _fields(response) -> dict:
    return response.json()["error"]["fields"]


@pytest.fixture(autouse=True)
def _rates(org, other_org):
    """Both organizations have rates for the currencies here: an invoice in another currency
    is booked at one (tests/receivables/test_foreign_invoices.py)."""
    from receivables.services import exchange_rate_set

    for organization in (org, other_org):
        for code, rate in (("EUR", "1.1"), ("JPY", "0.0067"), ("BHD", "2.65"), ("GBP", "1.27")):
            exchange_rate_set(
                organization=organization, currency=code, date=date(2000, 1, 1), rate=rate
            )


# --- arpilot.currencies ---------------------------------------------------------------------


@pytest.mark.parametrize(("code", "places"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("BHD", 3)])
def test_places_are_babels(code, places):
    assert currency_places(code) == places


def test_codes_are_upper_cased_and_unknown_ones_name_the_field():
    assert currency_validate(" eur ") == "EUR"
    for bad in ("XYZ", "EURO", "", None, 12):
        with pytest.raises(ValidationFailed) as caught:
            currency_validate(bad, "currency")
        assert "currency" in caught.value.fields


def test_the_importers_share_the_one_table():
    assert "EUR" in ISO_CURRENCIES and "XYZ" not in ISO_CURRENCIES
    for code in ("JPY", "BHD", "USD", "HUF"):
        assert minor_unit_exponent(code) == iso_minor_units(code)


@pytest.mark.parametrize(
    ("amount", "currency", "ok"),
    [
        ("100", "JPY", True),
        ("100.00", "JPY", True),  # trailing zeros are not places
        ("100.5", "JPY", False),
        ("1.25", "USD", True),
        ("1.255", "USD", False),
        ("1.25", "BHD", True),
        ("1.250", "BHD", True),
        ("1.255", "BHD", True),  # three places, stored exactly
        ("1.2555", "BHD", False),
        ("0.001", "KWD", True),
        # More digits than Decimal's 28-digit context: normalize() rounded it to 100 once.
        ("100.0000000000000000000000000001", "USD", False),
        ("100.00000000000000000000000000000", "USD", True),
    ],
)
def test_amount_check_never_rounds(amount, currency, ok):
    if ok:
        assert amount_check(Decimal(amount), currency, "amount") == Decimal(amount)
        return
    with pytest.raises(ValidationFailed) as caught:
        amount_check(Decimal(amount), currency, "lines.0.amount")
    assert list(caught.value.fields) == ["lines.0.amount"]
    assert currency in caught.value.message


@given(
    digits=st.text("0123456789", min_size=1, max_size=60),
    point=st.integers(min_value=0, max_value=60),
    zeros=st.integers(min_value=0, max_value=5),
)
def test_places_and_significant_digits_are_counted_never_rounded(digits, point, zeros):
    point = min(point, len(digits))
    text = digits[: len(digits) - point] + "." + digits[len(digits) - point :] + "0" * zeros
    value = Decimal(text)
    fraction = text.split(".")[1].rstrip("0")
    whole = text.split(".")[0].lstrip("0")

    assert decimal_places_of(value) == len(fraction)
    significant = (whole + fraction).lstrip("0") or "0"
    assert significant_digits_of(value) == len(significant)
    assert Decimal(plain_text(value)) == value


def test_the_cross_currency_reason_names_exchange_rate():
    assert cross_currency_reason("usd", "USD") == ""
    assert "exchange_rate" in cross_currency_reason("EUR", "USD")


# --- invoices ---------------------------------------------------------------------------------


def test_an_invoice_is_in_the_base_currency_unless_told(api, org, customer):
    default = api.post("/api/v1/invoices", invoice_payload(customer), format="json")
    euro = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, invoice_number="E-1", currency="eur", amount="10.50"),
        format="json",
    )

    assert default.status_code == 201 and euro.status_code == 201, euro.content
    assert default.json()["data"]["currency"] == "USD"
    assert euro.json()["data"]["currency"] == "EUR"
    assert Invoice.objects.get(invoice_number="E-1").currency == "EUR"
    listed = {
        item["invoice_number"]: item["currency"]
        for item in api.get("/api/v1/invoices").json()["data"]
    }
    assert listed == {"INV-1001": "USD", "E-1": "EUR"}


def test_the_base_is_the_organizations(api, org, customer):
    org.currency = "GBP"
    org.save(update_fields=["currency"])
    api.organization.currency = "GBP"

    response = api.post("/api/v1/invoices", invoice_payload(customer), format="json")

    assert response.json()["data"]["currency"] == "GBP"


@pytest.mark.parametrize("code", ["XYZ", "EURO", ""])
def test_an_unknown_currency_is_a_400_naming_it(api, customer, code):
    response = api.post("/api/v1/invoices", invoice_payload(customer, currency=code), format="json")

    assert response.status_code == 400
    assert "currency" in _fields(response)
    assert not Invoice.objects.exists()


def test_yen_amounts_have_no_decimals(api, customer):
    ok = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, currency="JPY", amount="12000"),
        format="json",
    )
    fraction = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, invoice_number="J-2", currency="JPY", amount="12000.50"),
        format="json",
    )
    lined = invoice_payload(
        customer,
        invoice_number="J-3",
        currency="JPY",
        lines=[{"amount": "100"}, {"amount": "0.50"}],
    )
    del lined["amount"]
    line = api.post("/api/v1/invoices", lined, format="json")

    assert ok.status_code == 201
    assert ok.json()["data"]["amount"] == 12000
    assert fraction.status_code == 400 and "amount" in _fields(fraction)
    assert line.status_code == 400 and "lines.1.amount" in _fields(line)
    assert Invoice.objects.count() == 1


def test_dinar_amounts_keep_their_three_places(api, customer):
    three = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, invoice_number="B-2", currency="BHD", amount="10.255"),
        format="json",
    )
    four = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, invoice_number="B-3", currency="BHD", amount="10.2555"),
        format="json",
    )
    dollars = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, invoice_number="U-1", currency="USD", amount="10.255"),
        format="json",
    )

    assert three.status_code == 201, three.json()
    data = three.json()["data"]
    assert data["currency"] == "BHD"
    assert Decimal(str(data["amount"])) == Decimal("10.255")
    assert Decimal(str(data["amount_due"])) == Decimal("10.255")
    assert Invoice.objects.get(invoice_number="B-2").amount == Decimal("10.255")
    assert four.status_code == 400 and "amount" in _fields(four)
    assert dollars.status_code == 400 and "amount" in _fields(dollars)
    assert "USD amounts have at most 2 decimal places" in dollars.json()["error"]["message"]


def test_amount_due_is_checked_in_the_currency(api, customer):
    response = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, currency="JPY", amount="1000", amount_due="500.5"),
        format="json",
    )

    assert response.status_code == 400
    assert "amount_due" in _fields(response)


def test_an_update_checks_amounts_in_the_invoices_currency(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="1000", currency="JPY")

    fraction = api.patch(f"/api/v1/invoices/{invoice.pk}", {"amount": "999.5"}, format="json")
    external = api.patch(
        f"/api/v1/invoices/{invoice.pk}", {"external_payment_amount": "0.5"}, format="json"
    )
    whole = api.patch(f"/api/v1/invoices/{invoice.pk}", {"amount": "999"}, format="json")

    assert fraction.status_code == 400 and "amount" in _fields(fraction)
    assert external.status_code == 400 and "external_payment_amount" in _fields(external)
    assert whole.status_code == 200 and whole.json()["data"]["amount"] == 999


def test_the_currency_changes_only_while_no_money_moved(api, org, customer):
    cents = make_invoice(org, customer=customer, amount="10.50")
    paid = make_invoice(org, customer=customer, amount="20.00", amount_due="5.00")

    to_yen = api.patch(f"/api/v1/invoices/{cents.pk}", {"currency": "JPY"}, format="json")
    to_euro = api.patch(f"/api/v1/invoices/{cents.pk}", {"currency": "eur"}, format="json")
    moved = api.patch(f"/api/v1/invoices/{paid.pk}", {"currency": "EUR"}, format="json")
    unknown = api.patch(f"/api/v1/invoices/{cents.pk}", {"currency": "ZZZ"}, format="json")

    assert to_yen.status_code == 400 and "amount" in _fields(to_yen)  # 10.50 JPY
    assert to_euro.status_code == 200 and to_euro.json()["data"]["currency"] == "EUR"
    assert moved.status_code == 409
    assert unknown.status_code == 400 and "currency" in _fields(unknown)


def test_the_list_filters_by_currency(api, org, customer):
    make_invoice(org, customer=customer, invoice_number="U-1")
    make_invoice(org, customer=customer, invoice_number="E-1", currency="EUR")
    make_invoice(org, customer=customer, invoice_number="E-2", currency="EUR")

    euros = api.get("/api/v1/invoices?currency=eur").json()["data"]
    dollars = api.get("/api/v1/invoices?currency=USD").json()["data"]

    assert sorted(item["invoice_number"] for item in euros) == ["E-1", "E-2"]
    assert [item["invoice_number"] for item in dollars] == ["U-1"]


def test_another_organizations_invoice_is_a_404(api, other_org):
    foreign = make_invoice(other_org, currency="EUR")

    assert api.get(f"/api/v1/invoices/{foreign.pk}").status_code == 404
    assert (
        api.patch(f"/api/v1/invoices/{foreign.pk}", {"currency": "USD"}, format="json").status_code
        == 404
    )
    assert api.get("/api/v1/invoices?currency=EUR").json()["data"] == []


@pytest.mark.parametrize("size", [3, 15])
def test_the_filtered_list_costs_a_fixed_number_of_queries(
    api, org, django_assert_num_queries, size
):
    customers = CustomerFactory.create_batch(3, organization=org)
    for index in range(size):
        make_invoice(org, customer=customers[index % 3], currency=("EUR", "JPY")[index % 2])
    api.get("/api/v1/invoices")  # warm the key cache

    # API key + count + page + lines + offline payments + open disputes
    with django_assert_num_queries(6):
        response = api.get("/api/v1/invoices?currency=EUR&per_page=100")

    assert len(response.json()["data"]) == (size + 1) // 2


# --- payments ---------------------------------------------------------------------------------


def _payment(api, **fields):
    body = {"amount": "100.00", "payment_date": date.today().isoformat(), **fields}
    return api.post("/api/v1/payments", body, format="json")


def test_a_payment_is_in_the_base_currency_unless_told(api, org):
    plain = _payment(api)
    blank = _payment(api, currency="")
    yen = _payment(api, currency="jpy", amount="5000")

    assert plain.json()["data"]["currency"] == "USD"
    assert blank.json()["data"]["currency"] == "USD"
    assert yen.status_code == 201 and yen.json()["data"]["currency"] == "JPY"


def test_a_payments_amount_and_code_are_checked(api):
    fraction = _payment(api, currency="JPY", amount="5000.50")
    unknown = _payment(api, currency="ABC")

    assert fraction.status_code == 400 and "amount" in _fields(fraction)
    assert unknown.status_code == 400 and "currency" in _fields(unknown)


# --- the Aplos face -----------------------------------------------------------------------------


def test_the_aplos_face_leaves_out_invoices_not_in_the_base_currency(api, org, customer):
    base = make_invoice(org, customer=customer, invoice_number="R-USD", amount="75.00")
    euro = make_invoice(
        org, customer=customer, invoice_number="R-EUR", amount="75.00", currency="EUR"
    )

    listed = api.get(APLOS).json()["data"]["receivables"]
    searched = api.get(f"{APLOS}?f_amount=75").json()["data"]["receivables"]
    by_reference = api.get(f"{APLOS}?f_referencenum=R-EUR").json()["data"]["receivables"]

    assert [item["id"] for item in listed] == [base.aplos_id]
    assert [item["id"] for item in searched] == [base.aplos_id]
    assert by_reference == []
    assert api.get(f"{APLOS}/{base.aplos_id}").status_code == 200
    assert api.get(f"{APLOS}/{euro.aplos_id}").status_code == 404
    assert api.delete(f"{APLOS}/{euro.aplos_id}").status_code == 404
    assert Invoice.objects.filter(pk=euro.pk).exists()


def test_an_aplos_post_is_in_the_base_currency(api, org):
    org.currency = "CAD"
    org.save(update_fields=["currency"])
    api.organization.currency = "CAD"
    body = {
        "bill_date": "2014-12-31",
        "due_date": (date.today() + timedelta(days=30)).isoformat(),
        "reference_num": "A-1",
        "contact": {"companyname": "Aplos", "type": "company"},
        "asset_account": {"account_number": 1100},
        "lines": [
            {
                "amount": 10,
                "account": {"account_number": 4000},
                "fund": {"id": Fund.objects.for_org(org).get(is_default=True).pk},
            }
        ],
    }

    response = api.post(APLOS, body, format="json")

    assert response.status_code == 200, response.content
    assert Invoice.objects.get(invoice_number="A-1").currency == "CAD"


def test_a_payment_is_never_auto_applied_to_an_invoice_of_another_currency(org, customer):
    from payments import services as payment_services
    from tests.factories import make_payment

    euro = make_invoice(org, customer=customer, amount="100.00", currency="EUR")
    dollar = make_invoice(org, customer=customer, amount="100.00")
    payment = make_payment(org, amount="100.00")

    def auto(invoice):
        return payment_services.payment_auto_apply(
            organization=org,
            payment_id=payment.pk,
            invoice_ids=[invoice.pk],
            amount=Decimal("100.00"),
        )

    assert auto(euro) is False
    euro.refresh_from_db()
    assert euro.amount_due == Decimal("100.00")
    assert auto(dollar) is True


def test_the_migration_puts_existing_invoices_in_their_organizations_base(org, other_org):
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "receivables.migrations.0006_invoice_currency_exchange_rates"
    )
    other_org.currency = "CAD"
    other_org.save(update_fields=["currency"])
    mine, theirs = make_invoice(org), make_invoice(other_org)
    Invoice.objects.update(currency="USD")  # as the column's one-off default left them

    migration.fill_invoice_currency(apps, None)

    assert Invoice.objects.get(pk=mine.pk).currency == "USD"
    assert Invoice.objects.get(pk=theirs.pk).currency == "CAD"
