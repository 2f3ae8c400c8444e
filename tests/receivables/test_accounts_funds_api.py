import pytest

from receivables.models import Account, Fund

pytestmark = pytest.mark.django_db


def test_list_accounts_shows_the_seeded_chart(api):
    response = api.get("/api/v1/accounts")

    rows = [(a["account_number"], a["name"], a["type"], a["role"]) for a in response.json()["data"]]
    assert rows == [
        (1000, "Cash", "asset", "cash"),
        (1100, "Accounts Receivable", "asset", "receivable"),
        (4000, "Revenue", "income", "revenue"),
        # the accounts of the default deduction reasons (credits)
        (4910, "Pricing deductions", "income", None),
        (4920, "Promotional allowances", "income", None),
        (4930, "Early payment discounts", "income", None),
        (6910, "Damaged goods deductions", "expense", None),
        (6920, "Freight deductions", "expense", None),
        (6930, "Unexplained deductions", "expense", None),
    ]


def test_create_get_and_patch_an_account(api):
    created = api.post(
        "/api/v1/accounts",
        {"account_number": 4100, "name": "Grants", "type": "income"},
        format="json",
    )
    assert created.status_code == 201
    account = created.json()["data"]

    patched = api.patch(
        f"/api/v1/accounts/{account['id']}", {"name": "Grant Income"}, format="json"
    )

    assert patched.json()["data"]["name"] == "Grant Income"
    assert api.get(f"/api/v1/accounts/{account['id']}").json()["data"]["account_number"] == 4100


def test_duplicate_account_number_is_409(api):
    response = api.post(
        "/api/v1/accounts",
        {"account_number": 1000, "name": "Petty cash", "type": "asset"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert not Account.objects.filter(name="Petty cash").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account_number": "x", "name": "A", "type": "asset"}, "account_number"),
        ({"account_number": 5, "name": "A", "type": "cash"}, "type"),
        ({"account_number": 5, "type": "asset"}, "name"),
    ],
)
def test_bad_account_is_400(api, body, field):
    response = api.post("/api/v1/accounts", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_default_account_type_is_fixed(api):
    cash = api.get("/api/v1/accounts").json()["data"][0]

    response = api.patch(f"/api/v1/accounts/{cash['id']}", {"type": "expense"}, format="json")

    assert response.status_code == 400


def test_funds_have_integer_ids(api):
    [general] = api.get("/api/v1/funds").json()["data"]
    assert general["name"] == "General Fund"
    assert general["is_default"] is True
    assert isinstance(general["id"], int)

    created = api.post("/api/v1/funds", {"name": "Building Fund"}, format="json")
    fund = created.json()["data"]
    assert created.status_code == 201
    assert (
        api.patch(f"/api/v1/funds/{fund['id']}", {"name": "Roof"}, format="json").json()["data"][
            "name"
        ]
        == "Roof"
    )
    clash = api.post("/api/v1/funds", {"name": "roof"}, format="json")
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "conflict"
    assert Fund.objects.filter(name__iexact="roof").count() == 1


def test_other_organizations_accounts_and_funds_are_404(api, other_api):
    account = other_api.get("/api/v1/accounts").json()["data"][0]
    fund = other_api.get("/api/v1/funds").json()["data"][0]

    assert api.get(f"/api/v1/accounts/{account['id']}").status_code == 404
    assert (
        api.patch(f"/api/v1/accounts/{account['id']}", {"name": "x"}, format="json").status_code
        == 404
    )
    assert api.get(f"/api/v1/funds/{fund['id']}").status_code == 404
    assert api.get("/api/v1/funds/abc").status_code == 404
    assert api.get("/api/v1/accounts/abc").status_code == 404
