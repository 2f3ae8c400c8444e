"""Account numbers and fund names: the database constraint decides, a clash is a 409 naming
the row that holds the value (``existing_id``)."""

import pytest
from django.db import IntegrityError, transaction

from receivables.models import Account, Fund

pytestmark = pytest.mark.django_db


def test_fund_names_are_unique_case_insensitively_in_the_database(org, other_org):
    Fund.objects.create(organization=org, name="Building Fund")

    with pytest.raises(IntegrityError), transaction.atomic():
        Fund.objects.create(organization=org, name="building FUND")
    Fund.objects.create(organization=other_org, name="building fund")  # another organization


def test_fund_name_differing_in_case_is_409_with_existing_id(api, org):
    first = api.post("/api/v1/funds", {"name": "Building Fund"}, format="json").json()["data"]

    response = api.post("/api/v1/funds", {"name": "BUILDING fund"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert response.json()["error"]["existing_id"] == str(first["id"])
    assert "name" in response.json()["error"]["fields"]
    assert Fund.objects.for_org(org).filter(name__iexact="building fund").count() == 1


def test_renaming_a_fund_onto_another_is_409_and_own_case_change_is_fine(api, org):
    a = api.post("/api/v1/funds", {"name": "Alpha"}, format="json").json()["data"]
    b = api.post("/api/v1/funds", {"name": "Beta"}, format="json").json()["data"]

    clash = api.patch(f"/api/v1/funds/{b['id']}", {"name": "ALPHA"}, format="json")
    own = api.patch(f"/api/v1/funds/{a['id']}", {"name": "ALPHA"}, format="json")

    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "conflict"
    assert clash.json()["error"]["existing_id"] == str(a["id"])
    assert Fund.objects.get(pk=b["id"]).name == "Beta"
    assert own.status_code == 200
    assert own.json()["data"]["name"] == "ALPHA"


def test_duplicate_account_number_is_409_with_existing_id(api, org):
    existing = Account.objects.for_org(org).get(account_number=4000)

    created = api.post(
        "/api/v1/accounts", {"account_number": 4000, "name": "Dup", "type": "income"}, format="json"
    )
    other = api.post(
        "/api/v1/accounts",
        {"account_number": 4100, "name": "Grants", "type": "income"},
        format="json",
    ).json()["data"]
    moved = api.patch(f"/api/v1/accounts/{other['id']}", {"account_number": 4000}, format="json")

    for response in (created, moved):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"
        assert response.json()["error"]["existing_id"] == str(existing.pk)
    assert Account.objects.for_org(org).filter(account_number=4000).count() == 1
    assert Account.objects.get(pk=other["id"]).account_number == 4100
