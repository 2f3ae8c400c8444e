"""Exchange rates: posted one at a time or as a CSV, read back exactly, looked up by date."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from arpilot.errors import ValidationFailed
from receivables import selectors, services
from receivables.models import ExchangeRate

pytestmark = pytest.mark.django_db

URL = "/api/v1/exchange-rates"
IMPORT = f"{URL}/import"


def _fields(response) -> dict:
    return response.json()["error"]["fields"]


def _post(api, **body):
    return api.post(
        URL, {"currency": "EUR", "rate": "1.0825", "date": "2026-01-05", **body}, format="json"
    )


def _upload(api, text: str | bytes, name: str = "rates.csv"):
    data = text.encode() if isinstance(text, str) else text
    return api.post(
        IMPORT, {"file": SimpleUploadedFile(name, data, "text/csv")}, format="multipart"
    )


# --- POST one -------------------------------------------------------------------------------


def test_a_rate_is_recorded_and_read_back_exactly(api):
    response = _post(api, currency="eur", rate="1.0825")

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert (data["currency"], data["date"], data["rate"]) == ("EUR", "2026-01-05", "1.0825")
    assert api.get(URL).json()["data"] == [data]


def test_posting_the_same_currency_and_date_replaces_the_rate(api):
    first = _post(api, rate="1.08").json()["data"]

    again = _post(api, rate="1.09")

    assert again.status_code == 200
    assert again.json()["data"]["id"] == first["id"]
    assert again.json()["data"]["rate"] == "1.09"
    assert ExchangeRate.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "USD"}, "currency"),  # the base currency
        ({"currency": "usd"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"rate": "0"}, "rate"),
        ({"rate": "-1.5"}, "rate"),
        ({"rate": "1.00000000001"}, "rate"),  # 11 places: refused, not rounded
        ({"rate": "12345678901"}, "rate"),  # 11 digits before the point
        ({"rate": "abc"}, "rate"),
        ({"date": "05/01/2026"}, "date"),
        ({"date": None}, "date"),
    ],
)
def test_a_bad_rate_is_a_400_naming_the_field(api, body, field):
    response = _post(api, **body)

    assert response.status_code == 400, response.content
    assert field in _fields(response)
    assert not ExchangeRate.objects.exists()


def test_ten_places_ten_digits_and_fifteen_significant_digits_fit(api):
    for rate in ("99999.0000000001", "9999999999.00001", "0.0000000001"):
        response = _post(api, rate=rate)  # the same day: each replaces the one before

        assert response.status_code in (200, 201), response.content
        assert response.json()["data"]["rate"] == rate
        assert [row["rate"] for row in api.get(URL).json()["data"]] == [rate]


def test_a_rate_longer_than_decimals_context_is_refused_not_rounded_to_one(api):
    # 28 places: Decimal.normalize() rounds to 28 digits, and once counted it as "1".
    response = _upload(api, "currency,date,rate\nGBP,2026-12-01,1.0000000000000000000000000001\n")

    assert response.status_code == 400
    assert "1.0000000000000000000000000001" in str(response.json()["error"])
    assert api.get(URL).json()["data"] == []


def test_a_sixteenth_significant_digit_is_refused_not_rounded(api):
    # SQLite (the embedded default) keeps 15 significant digits of a decimal column: the
    # limit is the same on every database, so a rate is read back exactly wherever it lives.
    response = _post(api, rate="999999.0000000001")

    assert response.status_code == 400
    assert "15 significant digits" in response.json()["error"]["fields"]["rate"][0]
    assert api.get(URL).json()["data"] == []


def test_rates_are_the_organizations_own(api, other_api):
    _post(other_api, currency="GBP")

    assert api.get(URL).json()["data"] == []
    _post(api, currency="GBP", rate="1.27")
    [mine] = api.get(URL).json()["data"]
    assert mine["rate"] == "1.27"
    assert [row["rate"] for row in other_api.get(URL).json()["data"]] == ["1.0825"]


def test_the_list_filters_by_currency_and_dates(api):
    for currency, day, rate in [
        ("EUR", "2026-01-01", "1.01"),
        ("EUR", "2026-02-01", "1.02"),
        ("EUR", "2026-03-01", "1.03"),
        ("JPY", "2026-02-01", "0.0067"),
    ]:
        _post(api, currency=currency, date=day, rate=rate)

    def rates(query):
        return [row["rate"] for row in api.get(f"{URL}?{query}").json()["data"]]

    assert rates("currency=eur") == ["1.03", "1.02", "1.01"]
    assert rates("date_from=2026-02-01&date_to=2026-02-28") == ["1.02", "0.0067"]
    assert rates("currency=JPY&date_to=2026-01-31") == []
    assert api.get(f"{URL}?date_from=soon").status_code == 400


@pytest.mark.parametrize("size", [2, 30])
def test_the_list_costs_a_fixed_number_of_queries(api, org, django_assert_num_queries, size):
    start = date(2025, 1, 1)
    ExchangeRate.objects.bulk_create(
        ExchangeRate(organization=org, currency="EUR", date=start + timedelta(days=i), rate="1.1")
        for i in range(size)
    )
    api.get(URL)  # warm the key cache

    # API key + count + page
    with django_assert_num_queries(3):
        response = api.get(f"{URL}?currency=EUR&per_page=100")

    assert len(response.json()["data"]) == size


# --- rate_on ---------------------------------------------------------------------------------


def test_rate_on_is_the_latest_on_or_before_the_day(org, other_org):
    for day, rate in [(date(2026, 1, 1), "1.01"), (date(2026, 1, 10), "1.10")]:
        services.exchange_rate_set(organization=org, currency="EUR", date=day, rate=rate)
    services.exchange_rate_set(
        organization=other_org, currency="EUR", date=date(2026, 1, 5), rate="9"
    )

    assert selectors.rate_on(org, "EUR", date(2025, 12, 31)) is None
    assert selectors.rate_on(org, "EUR", date(2026, 1, 1)) == Decimal("1.01")
    assert selectors.rate_on(org, "eur", date(2026, 1, 9)) == Decimal("1.01")
    assert selectors.rate_on(org, "EUR", date(2026, 1, 10)) == Decimal("1.10")
    assert selectors.rate_on(org, "EUR", date(2027, 1, 1)) == Decimal("1.10")
    assert selectors.rate_on(org, "USD", date(2026, 1, 1)) == 1
    assert selectors.rate_on(org, "GBP", date(2026, 1, 1)) is None


# --- CSV import ------------------------------------------------------------------------------


def test_a_csv_is_imported_and_replaces_what_it_repeats(api):
    _post(api, currency="EUR", date="2026-01-02", rate="1.00")

    response = _upload(
        api,
        "\ufeffCurrency,Date,Rate\r\n"
        "EUR,2026-01-02,1.0825\r\n"
        "\r\n"
        "jpy,2026-01-02,0.0067123456\r\n"
        "GBP, 2026-01-03 , 1.27\r\n",
    )

    assert response.status_code == 200, response.content
    assert response.json()["data"] == {"created": 2, "replaced": 1}
    stored = {(r.currency, r.date.isoformat()): r.rate for r in ExchangeRate.objects.all()}
    assert stored == {
        ("EUR", "2026-01-02"): Decimal("1.0825"),
        ("JPY", "2026-01-02"): Decimal("0.0067123456"),
        ("GBP", "2026-01-03"): Decimal("1.27"),
    }


def test_columns_may_come_in_any_order(api):
    response = _upload(api, "rate,currency,date\n1.5,CHF,2026-04-01\n")

    assert response.status_code == 200, response.content
    assert ExchangeRate.objects.get().currency == "CHF"


def test_every_bad_line_is_reported_and_nothing_is_imported(api):
    response = _upload(
        api,
        "currency,date,rate\n"
        "EUR,2026-01-02,1.08\n"  # 2: fine
        "USD,2026-01-02,1\n"  # 3: the base currency
        "XYZ,2026-01-02,1\n"  # 4: unknown
        "EUR,02/01/2026,1.08\n"  # 5: date
        "EUR,2026-02-30,1.08\n"  # 6: no such day
        "EUR,2026-01-03,1,08\n"  # 7: four values (a decimal comma)
        "EUR,2026-01-04,-1\n"  # 8: not positive
        "EUR,2026-01-05,0\n"  # 9: zero
        "EUR,2026-01-06,1.00000000001\n"  # 10: 11 places
        "EUR,2026-01-07,1e3\n"  # 11: exponent
        "EUR,2026-01-02,1.09\n"  # 12: repeats line 2
        "EUR,2026-01-08\n",  # 13: two values
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert [item["line"] for item in error["rejected"]] == list(range(3, 14))
    assert [item["field"] for item in error["rejected"]] == [
        "currency",
        "currency",
        "date",
        "date",
        "file",
        "rate",
        "rate",
        "rate",
        "rate",
        "date",
        "file",
    ]
    assert all(item["reason"] for item in error["rejected"])
    assert "line 2" in error["rejected"][-2]["reason"]
    assert len(error["fields"]["file"]) == 11
    assert error["fields"]["file"][0].startswith("Line 3:")
    assert not ExchangeRate.objects.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n\n",
        b"currency,date,rate\n",
        b"currency,day,rate\nEUR,2026-01-01,1\n",
        b"currency,date,rate,note\nEUR,2026-01-01,1,x\n",
        "currency,date,rate\nEUR,2026-01-01,1\n".encode("utf-16"),
        b"currency,date,rate\nEUR,2026-01-01,\xff1\n",
    ],
)
def test_a_file_without_rates_is_a_400_naming_file(api, content):
    response = _upload(api, content)

    assert response.status_code == 400, response.content
    assert "file" in _fields(response)
    assert not ExchangeRate.objects.exists()


def test_the_file_is_required(api):
    response = api.post(IMPORT, {}, format="multipart")

    assert response.status_code == 400
    assert "file" in _fields(response)


def test_an_unterminated_quote_is_a_rejected_line(api):
    response = _upload(api, 'currency,date,rate\nEUR,2026-01-01,1\n"EUR,2026-01-02,1\n')

    assert response.status_code == 400
    assert response.json()["error"]["rejected"][0]["line"] >= 3


def test_an_import_is_the_organizations_own(api, other_api):
    _upload(other_api, "currency,date,rate\nEUR,2026-01-01,2\n")

    response = _upload(api, "currency,date,rate\nEUR,2026-01-01,1.5\n")

    assert response.json()["data"] == {"created": 1, "replaced": 0}
    assert [row["rate"] for row in other_api.get(URL).json()["data"]] == ["2"]


# --- any rate written is read back exactly, or refused with a reason ---------------------------


class Rollback(Exception):
    pass


rate_text = st.one_of(
    st.decimals(
        min_value=0, max_value=Decimal("1e11"), allow_nan=False, allow_infinity=False, places=12
    ).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"-?[0-9]{0,12}(\.[0-9]{0,12})?", fullmatch=True),
    st.text(max_size=12),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=rate_text, by_csv=st.booleans())
def test_any_rate_is_read_back_exactly_or_rejected_with_a_reason(org, text, by_csv):
    day = date(2026, 6, 1)
    if by_csv:  # a text that is a CSV of its own is another test's subject
        assume(not any(ch in text for ch in ',"\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029'))
    try:
        with transaction.atomic():
            try:
                if by_csv:
                    services.exchange_rates_import(
                        organization=org,
                        data=f"currency,date,rate\nEUR,{day},{text}\n".encode(),
                    )
                else:
                    services.exchange_rate_set(
                        organization=org, currency="EUR", date=day, rate=text
                    )
            except ValidationFailed as error:
                reasons = [*error.fields.get("rate", []), *error.fields.get("file", [])]
                assert reasons and all(reasons), error.fields
                assert not ExchangeRate.objects.for_org(org).exists()
                raise Rollback from None
            stored = ExchangeRate.objects.for_org(org).get().rate
            assert stored == Decimal(text.strip())
            assert stored > 0
            assert selectors.rate_on(org, "EUR", day) == Decimal(text.strip())
            raise Rollback
    except Rollback:
        pass
