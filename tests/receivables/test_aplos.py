"""The Aplos receivables face, replaying the seed's examples (ids and timestamps aside)."""

import re
from datetime import date
from decimal import Decimal

import pytest

from receivables import services
from receivables.models import Account, AplosContact, Fund, Invoice, JournalEntry
from receivables.services import LineSpec, default_account
from tests.factories import CustomerFactory, TagFactory
from tests.receivables.factories import make_invoice

pytestmark = pytest.mark.django_db

BASE = "/hermes/api/v1/receivables"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")

SEED_POST_BODY = {
    "bill_date": "2014-12-31",
    "due_date": "2015-01-15",
    "reference_num": "1000",
    "note": "My First Receivable",
    "contact": {"companyname": "Aplos", "type": "company"},
    "asset_account": {"account_number": 1100},
    "lines": [
        {
            "amount": 75,
            "note": "For fund 1",
            "account": {"account_number": 4000},
            "fund": {"id": 1},
        },
        {
            "amount": 25,
            "note": "For fund 2",
            "account": {"account_number": 4000},
            "fund": {"id": 2},
        },
    ],
}
SEED_PUT_BODY = {
    **SEED_POST_BODY,
    "note": "My First Receivable (updated amounts)",
    "lines": [
        {
            "amount": 750,
            "note": "For fund 1",
            "account": {"account_number": 4000},
            "fund": {"id": 1},
        },
        {
            "amount": 250,
            "note": "For fund 2",
            "account": {"account_number": 4000},
            "fund": {"id": 2},
        },
    ],
}


def seed_lines(amounts, line_ids, fund_ids):
    return [
        {
            "id": line_ids[0],
            "note": "For fund 1",
            "amount": amounts[0],
            "account": {"account_number": 4000, "name": "Donation Income"},
            "fund": {"id": fund_ids[0], "name": "General Fund"},
        },
        {
            "id": line_ids[1],
            "note": "For fund 2",
            "amount": amounts[1],
            "account": {"account_number": 4000, "name": "Donation Income"},
            "fund": {"id": fund_ids[1], "name": "Building Fund"},
        },
    ]


@pytest.fixture
def aplos_org(org):
    """The seed's organization: 4000 is "Donation Income", funds General and Building."""
    Account.objects.for_org(org).filter(account_number=4000).update(name="Donation Income")
    general = Fund.objects.for_org(org).get(is_default=True)
    building = Fund.objects.create(organization=org, name="Building Fund")
    return org, [general.pk, building.pk]


def with_funds(body, fund_ids):
    body = {**body, "lines": [dict(line) for line in body["lines"]]}
    for line, fund_id in zip(body["lines"], fund_ids, strict=True):
        line["fund"] = {"id": fund_id}
    return body


def strip_timestamps(receivable: dict) -> dict:
    for key in ("created", "modified"):
        if key in receivable:
            assert TIMESTAMP.match(receivable[key]), receivable[key]
            receivable[key] = "<ts>"
    return receivable


def test_seed_examples_replayed(api, aplos_org):
    org, funds = aplos_org

    # Post
    posted = api.post(BASE, with_funds(SEED_POST_BODY, funds), format="json")
    assert posted.status_code == 200, posted.json()
    body = posted.json()
    rid = body["data"]["receivable"]["id"]
    contact_id = body["data"]["receivable"]["contact"]["id"]
    line_ids = [line["id"] for line in body["data"]["receivable"]["lines"]]
    strip_timestamps(body["data"]["receivable"])
    assert body == {
        "version": "v2_0_0",
        "message": f"posted: {rid}",
        "status": 200,
        "meta": {"resource_count": 1},
        "links": {"self": f"/hermes/api/v1/receivables/{rid}"},
        "data": {
            "receivable": {
                "id": rid,
                "bill_date": "2014-12-31",
                "due_date": "2015-01-15",
                "reference_num": "1000",
                "note": "My First Receivable",
                "contact": {"id": contact_id, "companyname": "Aplos", "type": "company"},
                "created": "<ts>",
                "amount": 100,
                "asset_account": {"account_number": 1100, "name": "Accounts Receivable"},
                "lines": seed_lines([75, 25], line_ids, funds),
            }
        },
    }
    assert list(body["data"]["receivable"]) == [
        "id",
        "bill_date",
        "due_date",
        "reference_num",
        "note",
        "contact",
        "created",
        "amount",
        "asset_account",
        "lines",
    ]

    # Put
    put = api.put(f"{BASE}/{rid}", with_funds(SEED_PUT_BODY, funds), format="json")
    assert put.status_code == 200, put.json()
    body = put.json()
    strip_timestamps(body["data"]["receivable"])
    expected_put = {
        "id": rid,
        "bill_date": "2014-12-31",
        "due_date": "2015-01-15",
        "reference_num": "1000",
        "note": "My First Receivable (updated amounts)",
        "contact": {"id": contact_id, "companyname": "Aplos", "type": "company"},
        "created": "<ts>",
        "modified": "<ts>",
        "amount": 1000,
        "asset_account": {"account_number": 1100, "name": "Accounts Receivable"},
        "lines": seed_lines([750, 250], line_ids, funds),
    }
    assert body == {
        "version": "v2_0_0",
        "message": f"put: {rid}",
        "status": 200,
        "meta": {"resource_count": 1},
        "links": {"self": f"/hermes/api/v1/receivables/{rid}"},
        "data": {"receivable": expected_put},
    }

    # Get
    got = api.get(f"{BASE}/{rid}").json()
    strip_timestamps(got["data"]["receivable"])
    assert got == {
        "version": "v2_0_0",
        "status": 200,
        "meta": {"resource_count": 1},
        "links": {"self": f"/hermes/api/v1/receivables/{rid}"},
        "data": {"receivable": {**expected_put, "received": 0}},
    }
    assert list(got["data"]["receivable"])[8:10] == ["amount", "received"]

    # List
    listed = api.get(f"{BASE}?page_size=1&page_num=1").json()
    strip_timestamps(listed["data"]["receivables"][0])
    assert listed["meta"]["resource_count"] == 1
    assert listed["meta"]["available_filters"]["f_rangestart"] == (
        "Minimum date range (inclusive) Format: yyyy-MM-dd"
    )
    assert len(listed["meta"]["available_filters"]) == 9
    assert listed["links"] == {"self": "/hermes/api/v1/receivables?page_size=1&page_num=1"}
    summary = {k: v for k, v in expected_put.items() if k != "lines"}
    assert listed["data"]["receivables"] == [{**summary, "received": 0}]

    # Receive
    received = api.put(
        f"{BASE}/{rid}/receive",
        {"received_date": "2015-01-15", "cash_account": {"account_number": 1000}},
        format="json",
    )
    assert received.status_code == 200, received.json()
    body = received.json()
    strip_timestamps(body["data"]["receivable"])
    assert body == {
        "version": "v2_0_0",
        "message": f"received: {rid}",
        "status": 200,
        "meta": {"resource_count": 1},
        "links": {"self": f"/hermes/api/v1/receivables/{rid}"},
        "data": {"receivable": {**expected_put, "received": 1000}},
    }
    invoice = Invoice.objects.get(aplos_id=rid, organization=org)
    assert invoice.status == "paid"
    payment = JournalEntry.objects.get(invoice=invoice, kind="payment")
    assert str(payment.date) == "2015-01-15"
    assert {line.account.account_number for line in payment.lines.all()} == {1000, 1100}

    # Receiving again is a conflict; deleting a receivable that received money too
    again = api.put(f"{BASE}/{rid}/receive", {}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    deleted = api.delete(f"{BASE}/{rid}")
    assert deleted.status_code == 409
    assert deleted.json()["error"]["code"] == "conflict"
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert JournalEntry.objects.filter(invoice=invoice, kind="payment").count() == 1


def test_delete_replays_the_seed(api, aplos_org):
    _, funds = aplos_org
    rid = api.post(BASE, with_funds(SEED_POST_BODY, funds), format="json").json()["data"][
        "receivable"
    ]["id"]

    response = api.delete(f"{BASE}/{rid}")

    assert response.status_code == 200
    assert response.json() == {"version": "v2_0_0", "message": f"deleted: {rid}", "status": 200}
    assert not Invoice.objects.exists()
    kinds = sorted(JournalEntry.objects.values_list("kind", flat=True))
    assert kinds == ["issue", "issue_reversal"]
    assert api.get(f"{BASE}/{rid}").status_code == 404


def test_post_finds_the_contact_by_company_name(api, org):
    customer = CustomerFactory(organization=org, company_name="Aplos")
    body = {**SEED_POST_BODY, "contact": {"companyname": "APLOS"}, "lines": [{"amount": 10}]}

    response = api.post(BASE, body, format="json")

    invoice = Invoice.objects.get()
    assert invoice.customer == customer
    assert response.json()["data"]["receivable"]["contact"]["id"] == customer.aplos_contact.id


def test_post_creates_a_missing_contact(api, org):
    body = {**SEED_POST_BODY, "contact": {"companyname": "New Donor", "type": "individual"}}
    body["lines"] = [{"amount": 10}]

    response = api.post(BASE, body, format="json")

    contact = response.json()["data"]["receivable"]["contact"]
    assert contact["companyname"] == "New Donor"
    assert contact["type"] == "individual"
    assert AplosContact.objects.get(pk=contact["id"]).customer.company_name == "New Donor"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"asset_account": {"account_number": 1234}}, "asset_account.account_number"),
        ({"asset_account": {"account_number": 4000}}, "ar_account"),
        (
            {"lines": [{"amount": 10, "account": {"account_number": 999}}]},
            "lines.0.account.account_number",
        ),
        ({"lines": [{"amount": 10, "fund": {"id": 987654}}]}, "lines.0.fund.id"),
        ({"lines": []}, "lines"),
        ({"contact": {"type": "company"}}, "contact.companyname"),
        ({"contact": {"id": 99999}}, "contact.id"),
        ({"bill_date": "31/12/2014"}, "bill_date"),
    ],
)
def test_post_bad_references_are_400_naming_them(api, org, change, field):
    body = {**SEED_POST_BODY, "lines": [{"amount": 10}], **change}

    response = api.post(BASE, body, format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Invoice.objects.exists()


def test_duplicate_reference_num_is_409(api, org):
    body = {**SEED_POST_BODY, "lines": [{"amount": 10}]}
    api.post(BASE, body, format="json")

    again = api.post(BASE, body, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert Invoice.objects.for_org(org).count() == 1


def test_account_id_header_must_match(api, org):
    make_invoice(org)

    assert api.get(BASE, HTTP_APLOS_ACCOUNT_ID=str(org.pk)).status_code == 200
    assert api.get(BASE, HTTP_APLOS_ACCOUNT_ID=str(org.pk + 1000)).status_code == 403
    assert api.get(BASE, HTTP_APLOS_ACCOUNT_ID="abc").status_code == 403


def test_other_organizations_receivables_are_404(api, other_org):
    foreign = make_invoice(other_org)

    assert api.get(f"{BASE}/{foreign.aplos_id}").status_code in (200, 404)
    own = Invoice.objects.filter(organization=api.organization, aplos_id=foreign.aplos_id)
    assert not own.exists()
    assert api.get(f"{BASE}/{foreign.aplos_id}").status_code == 404
    assert api.delete(f"{BASE}/{foreign.aplos_id}").status_code == 404
    assert api.put(f"{BASE}/{foreign.aplos_id}/receive", {}, format="json").status_code == 404
    assert api.get(f"{BASE}/abc").status_code == 404
    assert api.get(BASE).json()["data"]["receivables"] == []


def test_all_tags(api, org):
    invoice = make_invoice(org)
    tag = TagFactory(organization=org, name="donor")
    invoice.customer.tags.add(tag)

    with_tags = api.get(f"{BASE}/{invoice.aplos_id}?allTags=y").json()["data"]["receivable"]
    without = api.get(f"{BASE}/{invoice.aplos_id}").json()["data"]["receivable"]

    assert with_tags["tags"] == [{"id": str(tag.id), "name": "donor"}]
    assert "tags" not in without
    assert api.get(f"{BASE}/{invoice.aplos_id}?allTags=maybe").status_code == 400


def test_search_filters(api, org):
    building = Fund.objects.create(organization=org, name="Building Fund")
    donation = Account.objects.create(
        organization=org, account_number=4100, name="Donations", type="income"
    )
    alpha = CustomerFactory(organization=org, company_name="Alpha Church")
    beta = CustomerFactory(organization=org, company_name="Beta School")
    make_invoice(
        org,
        customer=alpha,
        amount="100.00",
        invoice_number="R-1",
        notes="Spring gala",
        issue_date=date(2026, 3, 1),
    )
    services.invoice_create(
        organization=org,
        customer=beta,
        invoice_number="R-2",
        issue_date=date(2026, 5, 1),
        due_date=date(2099, 1, 1),
        lines=[
            LineSpec(amount=Decimal("40"), account=donation, fund=building),
            LineSpec(amount=Decimal("2"), account=default_account(org, "revenue"), fund=building),
        ],
    )

    def refs(query):
        response = api.get(f"{BASE}?{query}")
        assert response.status_code == 200, response.json()
        return [row["reference_num"] for row in response.json()["data"]["receivables"]]

    assert refs("") == ["R-1", "R-2"]
    assert refs("f_accountnumber=4100") == ["R-2"]
    assert refs("f_amount=100") == ["R-1"]
    assert refs(f"f_contact={beta.aplos_contact.id}") == ["R-2"]
    assert refs("f_contactname=church") == ["R-1"]
    assert refs(f"f_fund={building.pk}") == ["R-2"]
    assert refs("f_note=GALA") == ["R-1"]
    assert refs("f_rangestart=2026-04-01") == ["R-2"]
    assert refs("f_rangeend=2026-04-01") == ["R-1"]
    assert refs("f_referencenum=R-2") == ["R-2"]
    page = api.get(f"{BASE}?page_size=1&page_num=1&f_contactname=a").json()
    assert page["links"] == {
        "next": "/hermes/api/v1/receivables?page_size=1&page_num=2&f_contactname=a",
        "self": "/hermes/api/v1/receivables?page_size=1&page_num=1&f_contactname=a",
    }
    last = api.get(f"{BASE}?page_size=1&page_num=2&f_contactname=a").json()
    assert "next" not in last["links"]


@pytest.mark.parametrize(
    "query",
    [
        "f_accountnumber=x",
        "f_amount=abc",
        "f_contact=1.5",
        "f_rangestart=2026-02-30",
        "page_size=0",
        "page_num=-1",
    ],
)
def test_bad_search_parameters_are_400(api, query):
    assert api.get(f"{BASE}?{query}").status_code == 400


@pytest.mark.parametrize("page_size", [10, 100])
def test_list_query_count_is_constant(api, org, django_assert_num_queries, page_size):
    for _ in range(12):
        make_invoice(org)

    # API key + one page (customer, contact id, AR account joined)
    with django_assert_num_queries(2):
        response = api.get(f"{BASE}?page_size={page_size}")

    assert response.json()["meta"]["resource_count"] == min(12, page_size)


def test_huge_numbers_in_the_query_are_400_or_empty_not_500(api, org):
    make_invoice(org)

    assert api.get(f"{BASE}?f_fund={2**70}").status_code == 400
    assert api.get(f"{BASE}?f_contact=-1").status_code == 400
    far = api.get(f"{BASE}?page_num={10**30}")
    assert far.status_code == 200
    assert far.json()["data"]["receivables"] == []
