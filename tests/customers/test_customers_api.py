import uuid

import pytest

from customers.models import Contact, Customer, CustomerTag, Tag
from tests.customers.factories import customer_payload
from tests.factories import ContactFactory, CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_create_customer_returns_customer_with_contacts_and_tags(api):
    response = api.post(
        "/api/v1/customers", customer_payload(timezone="America/New_York"), format="json"
    )

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["company_name"] == "Acme Corp"
    assert data["customer_id"] == "C-0042"
    assert data["timezone"] == "America/New_York"
    assert [c["contact_name"] for c in data["contacts"]] == ["Wile E. Coyote"]
    assert data["contacts"][0]["is_primary"] is True
    assert [t["name"] for t in data["tags"]] == ["wholesale"]
    assert Tag.objects.filter(organization=api.organization, name="wholesale").count() == 1


def test_create_customer_accepts_the_seeds_slash_field_names(api):
    payload = customer_payload()
    payload["/contacts"] = payload.pop("contacts")
    payload["/tags"] = payload.pop("tags")

    response = api.post("/api/v1/customers", payload, format="json")

    assert response.status_code == 201
    assert len(response.json()["data"]["contacts"]) == 1


def test_create_customer_reuses_existing_tag_case_insensitively(api, org):
    TagFactory(organization=org, name="Wholesale")

    response = api.post(
        "/api/v1/customers", customer_payload(tags=["WHOLESALE", "new"]), format="json"
    )

    assert response.status_code == 201
    assert sorted(t["name"] for t in response.json()["data"]["tags"]) == ["Wholesale", "new"]
    assert Tag.objects.filter(organization=org).count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (customer_payload(company_name=""), "company_name"),
        (customer_payload(contacts=[]), "contacts"),
        ({"company_name": "X"}, "contacts"),
        (customer_payload(contacts=[{"contact_name": "No Way"}]), "contacts.0.email"),
        (customer_payload(contacts=[{"email": "a@b.example"}]), "contacts.0.contact_name"),
        (
            customer_payload(contacts=[{"contact_name": "A", "email": "not-an-email"}]),
            "contacts.0.email",
        ),
        (customer_payload(timezone="Mars/Olympus"), "timezone"),
        (customer_payload(tags="wholesale"), "tags"),
        (
            customer_payload(
                contacts=[{"contact_name": "A", "email": "a@x.example", "escalation_level": -1}]
            ),
            "contacts.0.escalation_level",
        ),
    ],
)
def test_create_customer_rejects_bad_input_naming_the_field(api, payload, field):
    response = api.post("/api/v1/customers", payload, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert Customer.objects.count() == 0


def test_create_customer_with_phone_only_contact_is_accepted(api):
    payload = customer_payload(contacts=[{"contact_name": "Road Runner", "phone": "+1 555 0100"}])

    response = api.post("/api/v1/customers", payload, format="json")

    assert response.status_code == 201


def test_create_customer_with_two_primary_contacts_is_400(api):
    contacts = [
        {"contact_name": "A", "email": "a@x.example", "is_primary": True},
        {"contact_name": "B", "email": "b@x.example", "is_primary": True},
    ]
    response = api.post("/api/v1/customers", customer_payload(contacts=contacts), format="json")

    assert response.status_code == 400
    assert "contacts" in response.json()["error"]["fields"]


def test_duplicate_external_customer_id_is_409_with_existing_id(api, org):
    existing = CustomerFactory(organization=org, external_id="C-0042")

    response = api.post("/api/v1/customers", customer_payload(), format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert response.json()["error"]["existing_id"] == str(existing.pk)
    assert list(Customer.objects.values_list("pk", flat=True)) == [existing.pk]
    assert not Contact.objects.exists()


def test_get_customer_includes_contacts_and_tags(api, org):
    customer = CustomerFactory(organization=org)
    ContactFactory(customer=customer, contact_name="Zed", escalation_level=2)
    ContactFactory(customer=customer, contact_name="Amy", escalation_level=1, is_primary=True)
    tag = TagFactory(organization=org, name="vip")
    CustomerTag.objects.create(customer=customer, tag=tag)

    response = api.get(f"/api/v1/customers/{customer.pk}")

    assert response.status_code == 200
    data = response.json()["data"]
    assert [c["contact_name"] for c in data["contacts"]] == ["Amy", "Zed"]
    assert data["tags"] == [{"id": str(tag.pk), "name": "vip", "color": "#336699"}]


def test_get_customer_with_malformed_uuid_is_404(api):
    response = api.get("/api/v1/customers/not-a-uuid")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_list_customers_searches_name_and_external_id(api, org):
    CustomerFactory(organization=org, company_name="Acme Corp", external_id="A-1")
    CustomerFactory(organization=org, company_name="Globex", external_id="ACM-7")
    CustomerFactory(organization=org, company_name="Initech", external_id="I-1")

    response = api.get("/api/v1/customers", {"search": "acm"})

    assert [c["company_name"] for c in response.json()["data"]] == ["Acme Corp", "Globex"]


def test_list_customers_filters_by_tag(api, org):
    tagged, _ = CustomerFactory(organization=org), CustomerFactory(organization=org)
    tag = TagFactory(organization=org)
    CustomerTag.objects.create(customer=tagged, tag=tag)

    response = api.get("/api/v1/customers", {"tag_id": str(tag.pk)})

    assert [c["id"] for c in response.json()["data"]] == [str(tagged.pk)]


def test_list_customers_with_malformed_tag_id_is_400(api):
    response = api.get("/api/v1/customers", {"tag_id": "nope"})

    assert response.status_code == 400
    assert "tag_id" in response.json()["error"]["fields"]


@pytest.mark.parametrize("per_page", [10, 100])
def test_list_customers_query_count_is_constant(api, org, per_page, django_assert_num_queries):
    for index in range(per_page + 5):
        customer = CustomerFactory(organization=org)
        ContactFactory(customer=customer)
        ContactFactory(customer=customer)
        tag = TagFactory(organization=org)
        CustomerTag.objects.create(customer=customer, tag=tag)
        del index

    # auth (key + org join), count, page, contacts, tags
    with django_assert_num_queries(5):
        response = api.get("/api/v1/customers", {"per_page": per_page})

    assert len(response.json()["data"]) == per_page


def test_update_customer_replaces_tags_and_upserts_contacts(api, org):
    customer = CustomerFactory(organization=org)
    keep = ContactFactory(customer=customer, contact_name="Keep", is_primary=True)
    drop = ContactFactory(customer=customer, contact_name="Drop")
    old_tag = TagFactory(organization=org, name="old")
    CustomerTag.objects.create(customer=customer, tag=old_tag)

    response = api.patch(
        f"/api/v1/customers/{customer.pk}",
        {
            "company_name": "Acme Corporation",
            "timezone": "Europe/Paris",
            "tags": ["new"],
            "contacts": [
                {"id": str(keep.pk), "title": "AP Manager"},
                {"contact_name": "Fresh", "email": "fresh@acme.example", "is_primary": True},
            ],
            "delete_contact_ids": [str(drop.pk)],
        },
        format="json",
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["company_name"] == "Acme Corporation"
    assert data["timezone"] == "Europe/Paris"
    assert [t["name"] for t in data["tags"]] == ["new"]
    contacts = {c["contact_name"]: c for c in data["contacts"]}
    assert set(contacts) == {"Keep", "Fresh"}
    assert contacts["Keep"]["title"] == "AP Manager"
    assert contacts["Keep"]["is_primary"] is False
    assert contacts["Fresh"]["is_primary"] is True


def test_put_is_partial_like_patch(api, org):
    customer = CustomerFactory(organization=org, address="Old address")

    response = api.put(
        f"/api/v1/customers/{customer.pk}", {"address": "New address"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["data"]["address"] == "New address"
    assert response.json()["data"]["company_name"] == customer.company_name


def test_update_customer_with_unknown_contact_id_is_400_and_changes_nothing(api, org):
    customer = CustomerFactory(organization=org, company_name="Before")
    ContactFactory(customer=customer)

    response = api.patch(
        f"/api/v1/customers/{customer.pk}",
        {
            "company_name": "After",
            "contacts": [{"id": str(uuid.uuid4()), "title": "x"}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert "contacts.0.id" in response.json()["error"]["fields"]
    customer.refresh_from_db()
    assert customer.company_name == "Before"


def test_update_customer_cannot_delete_every_contact(api, org):
    customer = CustomerFactory(organization=org)
    only = ContactFactory(customer=customer)

    response = api.patch(
        f"/api/v1/customers/{customer.pk}", {"delete_contact_ids": [str(only.pk)]}, format="json"
    )

    assert response.status_code == 400
    assert "delete_contact_ids" in response.json()["error"]["fields"]
    assert Contact.objects.filter(pk=only.pk).exists()


def test_update_customer_with_bad_timezone_is_400(api, org):
    customer = CustomerFactory(organization=org)

    response = api.patch(
        f"/api/v1/customers/{customer.pk}", {"timezone": "Nowhere/City"}, format="json"
    )

    assert response.status_code == 400
    assert "timezone" in response.json()["error"]["fields"]


def test_delete_customer_removes_contacts_and_tag_assignments(api, org):
    customer = CustomerFactory(organization=org)
    ContactFactory(customer=customer)
    tag = TagFactory(organization=org)
    CustomerTag.objects.create(customer=customer, tag=tag)

    response = api.delete(f"/api/v1/customers/{customer.pk}")

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert not Contact.objects.filter(customer_id=customer.pk).exists()
    assert not CustomerTag.objects.filter(tag=tag).exists()
    assert Tag.objects.filter(pk=tag.pk).exists()


def test_other_organization_gets_404_and_sees_nothing(api, other_api, org):
    customer = CustomerFactory(organization=org)
    ContactFactory(customer=customer)
    url = f"/api/v1/customers/{customer.pk}"

    assert other_api.get(url).status_code == 404
    assert other_api.patch(url, {"company_name": "Hijack"}, format="json").status_code == 404
    assert other_api.put(url, {"company_name": "Hijack"}, format="json").status_code == 404
    assert other_api.delete(url).status_code == 404
    assert other_api.get("/api/v1/customers").json()["data"] == []
    customer.refresh_from_db()
    assert customer.company_name != "Hijack"
