import pytest

from customers.models import Contact
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _contact_body(customer, **overrides):
    body = {
        "customer_id": str(customer.pk),
        "contact_name": "Daisy Duck",
        "email": "daisy@duck.example",
        "phone": "+1 555 0101",
        "phone_type": "mobile",
        "title": "Controller",
        "escalation_level": 2,
        "notes": "Prefers email",
    }
    body.update(overrides)
    return body


def test_create_contact_returns_all_fields(api, org):
    customer = CustomerFactory(organization=org)

    response = api.post("/api/v1/contacts", _contact_body(customer), format="json")

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["customer_id"] == str(customer.pk)
    assert data["contact_name"] == "Daisy Duck"
    assert data["phone_type"] == "mobile"
    assert data["escalation_level"] == 2
    assert data["is_primary"] is False


def test_setting_a_primary_contact_clears_the_previous_one(api, org):
    customer = CustomerFactory(organization=org)
    old = ContactFactory(customer=customer, is_primary=True)

    response = api.post("/api/v1/contacts", _contact_body(customer, is_primary=True), format="json")

    assert response.status_code == 201
    old.refresh_from_db()
    assert old.is_primary is False
    assert Contact.objects.filter(customer=customer, is_primary=True).count() == 1


def test_update_contact_to_primary_clears_others(api, org):
    customer = CustomerFactory(organization=org)
    first = ContactFactory(customer=customer, is_primary=True)
    second = ContactFactory(customer=customer)

    response = api.patch(f"/api/v1/contacts/{second.pk}", {"is_primary": True}, format="json")

    assert response.status_code == 200
    assert response.json()["data"]["is_primary"] is True
    first.refresh_from_db()
    assert first.is_primary is False


def test_database_refuses_two_primary_contacts(org):
    from django.db import IntegrityError, transaction

    customer = CustomerFactory(organization=org)
    ContactFactory(customer=customer, is_primary=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(customer=customer, is_primary=True)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": None}, "email"),
        ({"email": "nope"}, "email"),
        ({"contact_name": ""}, "contact_name"),
        ({"customer_id": "not-a-uuid"}, "customer_id"),
        ({"escalation_level": "high"}, "escalation_level"),
        ({"is_primary": "perhaps"}, "is_primary"),
    ],
)
def test_create_contact_rejects_bad_input(api, org, overrides, field):
    customer = CustomerFactory(organization=org)
    body = _contact_body(customer, **overrides)
    body = {k: v for k, v in body.items() if v is not None}

    response = api.post("/api/v1/contacts", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_create_contact_for_another_organizations_customer_is_400(api, other_org):
    foreign = CustomerFactory(organization=other_org)

    response = api.post("/api/v1/contacts", _contact_body(foreign), format="json")

    assert response.status_code == 400
    assert "customer_id" in response.json()["error"]["fields"]
    assert not Contact.objects.filter(customer=foreign).exists()


def test_list_contacts_requires_customer_id(api):
    response = api.get("/api/v1/contacts")

    assert response.status_code == 400
    assert "customer_id" in response.json()["error"]["fields"]


def test_list_contacts_of_a_customer_paginated(api, org):
    customer = CustomerFactory(organization=org)
    for level in (3, 1, 2):
        ContactFactory(customer=customer, escalation_level=level)
    ContactFactory(customer=CustomerFactory(organization=org))

    response = api.get("/api/v1/contacts", {"customer_id": str(customer.pk), "per_page": 2})

    body = response.json()
    assert [c["escalation_level"] for c in body["data"]] == [1, 2]
    assert body["pagination"] == {"page": 1, "per_page": 2, "total": 3, "total_pages": 2}


@pytest.mark.parametrize("per_page", [10, 100])
def test_list_contacts_query_count_is_constant(api, org, per_page, django_assert_num_queries):
    customer = CustomerFactory(organization=org)
    ContactFactory.create_batch(per_page + 3, customer=customer)

    with django_assert_num_queries(3):
        response = api.get(
            "/api/v1/contacts", {"customer_id": str(customer.pk), "per_page": per_page}
        )

    assert len(response.json()["data"]) == per_page


def test_update_contact_cannot_leave_it_unreachable(api, org):
    contact = ContactFactory(customer=CustomerFactory(organization=org), phone="")

    response = api.patch(f"/api/v1/contacts/{contact.pk}", {"email": ""}, format="json")

    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]


def test_delete_contact(api, org):
    customer = CustomerFactory(organization=org)
    ContactFactory(customer=customer)
    doomed = ContactFactory(customer=customer)

    response = api.delete(f"/api/v1/contacts/{doomed.pk}")

    assert response.json() == {"success": True}
    assert not Contact.objects.filter(pk=doomed.pk).exists()


def test_deleting_the_only_contact_is_409(api, org):
    only = ContactFactory(customer=CustomerFactory(organization=org))

    response = api.delete(f"/api/v1/contacts/{only.pk}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert Contact.objects.filter(pk=only.pk).exists()
    assert Contact.objects.count() == 1


def test_contacts_of_another_organization_are_404(api, other_api, org):
    customer = CustomerFactory(organization=org)
    contact = ContactFactory(customer=customer)
    ContactFactory(customer=customer)
    url = f"/api/v1/contacts/{contact.pk}"

    assert other_api.get(url).status_code == 404
    assert other_api.patch(url, {"title": "x"}, format="json").status_code == 404
    assert other_api.put(url, {"title": "x"}, format="json").status_code == 404
    assert other_api.delete(url).status_code == 404
    assert other_api.get("/api/v1/contacts", {"customer_id": str(customer.pk)}).json()["data"] == []
    assert Contact.objects.filter(pk=contact.pk).exists()
