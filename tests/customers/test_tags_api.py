import uuid

import pytest

from customers.models import CustomerTag, Tag
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_create_tag(api):
    response = api.post("/api/v1/tags", {"name": "VIP", "color": "#ff8800"}, format="json")

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["name"] == "VIP"
    assert data["color"] == "#FF8800"
    assert data["customer_count"] == 0


@pytest.mark.parametrize("color", ["red", "#fff", "#GGGGGG", "ff8800", "#ff88001"])
def test_create_tag_rejects_bad_colors(api, color):
    response = api.post("/api/v1/tags", {"name": "VIP", "color": color}, format="json")

    assert response.status_code == 400
    assert "color" in response.json()["error"]["fields"]


def test_tag_names_are_unique_case_insensitively(api, org):
    TagFactory(organization=org, name="VIP")

    response = api.post("/api/v1/tags", {"name": "vip"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "name" in response.json()["error"]["fields"]
    assert list(Tag.objects.for_org(org).values_list("name", flat=True)) == ["VIP"]


def test_same_tag_name_in_another_organization_is_fine(api, other_org):
    TagFactory(organization=other_org, name="VIP")

    assert api.post("/api/v1/tags", {"name": "VIP"}, format="json").status_code == 201


def test_list_tags_with_customer_counts_unpaginated(api, org):
    vip, slow = TagFactory(organization=org, name="vip"), TagFactory(organization=org, name="slow")
    for customer in CustomerFactory.create_batch(3, organization=org):
        CustomerTag.objects.create(customer=customer, tag=vip)

    body = api.get("/api/v1/tags").json()

    assert "pagination" not in body
    assert [(t["name"], t["customer_count"]) for t in body["data"]] == [("slow", 0), ("vip", 3)]
    del slow


def test_list_tags_query_count_is_constant(api, org, django_assert_num_queries):
    for tag in TagFactory.create_batch(30, organization=org):
        CustomerTag.objects.create(customer=CustomerFactory(organization=org), tag=tag)

    with django_assert_num_queries(2):
        response = api.get("/api/v1/tags")

    assert len(response.json()["data"]) == 30


def test_get_tag_includes_customer_ids(api, org):
    tag = TagFactory(organization=org)
    customers = CustomerFactory.create_batch(2, organization=org)
    for customer in customers:
        CustomerTag.objects.create(customer=customer, tag=tag)

    data = api.get(f"/api/v1/tags/{tag.pk}").json()["data"]

    assert sorted(data["customer_ids"]) == sorted(str(c.pk) for c in customers)
    assert data["customer_count"] == 2


def test_update_and_delete_tag(api, org):
    tag = TagFactory(organization=org, name="old")
    customer = CustomerFactory(organization=org)
    CustomerTag.objects.create(customer=customer, tag=tag)

    patched = api.patch(
        f"/api/v1/tags/{tag.pk}", {"name": "new", "color": "#000000"}, format="json"
    )
    deleted = api.delete(f"/api/v1/tags/{tag.pk}")

    assert patched.json()["data"]["name"] == "new"
    assert deleted.json() == {"success": True}
    assert not Tag.objects.filter(pk=tag.pk).exists()
    assert not CustomerTag.objects.filter(customer=customer).exists()


def test_renaming_a_tag_onto_another_is_409(api, org):
    TagFactory(organization=org, name="taken")
    tag = TagFactory(organization=org, name="mine")

    response = api.put(f"/api/v1/tags/{tag.pk}", {"name": "TAKEN"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert sorted(Tag.objects.for_org(org).values_list("name", flat=True)) == ["mine", "taken"]


def test_assign_counts_only_new_assignments(api, org):
    tag = TagFactory(organization=org)
    a, b, c = CustomerFactory.create_batch(3, organization=org)
    CustomerTag.objects.create(customer=a, tag=tag)

    response = api.post(
        f"/api/v1/tags/{tag.pk}/assign",
        {"customer_ids": [str(a.pk), str(b.pk), str(c.pk), str(b.pk)]},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {"assigned": 2}
    assert CustomerTag.objects.filter(tag=tag).count() == 3


def test_assign_with_unknown_customer_is_400_and_assigns_nothing(api, org, other_org):
    tag = TagFactory(organization=org)
    mine = CustomerFactory(organization=org)
    foreign = CustomerFactory(organization=other_org)

    response = api.post(
        f"/api/v1/tags/{tag.pk}/assign",
        {"customer_ids": [str(mine.pk), str(foreign.pk)]},
        format="json",
    )

    assert response.status_code == 400
    assert "customer_ids" in response.json()["error"]["fields"]
    assert not CustomerTag.objects.filter(tag=tag).exists()


def test_assign_with_malformed_ids_is_400(api, org):
    tag = TagFactory(organization=org)

    response = api.post(f"/api/v1/tags/{tag.pk}/assign", {"customer_ids": ["x"]}, format="json")

    assert response.status_code == 400
    assert "customer_ids.0" in response.json()["error"]["fields"]


def test_unassign(api, org):
    tag = TagFactory(organization=org)
    a, b = CustomerFactory.create_batch(2, organization=org)
    for customer in (a, b):
        CustomerTag.objects.create(customer=customer, tag=tag)

    response = api.post(
        f"/api/v1/tags/{tag.pk}/unassign", {"customer_ids": [str(a.pk)]}, format="json"
    )

    assert response.json() == {"success": True}
    assert list(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True)) == [b.pk]


def test_bulk_update_counts_customers_whose_tags_changed(api, org):
    add, remove = TagFactory(organization=org), TagFactory(organization=org)
    a, b, c = CustomerFactory.create_batch(3, organization=org)
    CustomerTag.objects.create(customer=a, tag=remove)
    CustomerTag.objects.create(customer=c, tag=add)

    response = api.post(
        "/api/v1/tags/bulk",
        {
            "customer_ids": [str(a.pk), str(b.pk), str(c.pk)],
            "add_tag_ids": [str(add.pk)],
            "remove_tag_ids": [str(remove.pk)],
        },
        format="json",
    )

    assert response.json() == {"customers_updated": 2}
    assert set(CustomerTag.objects.values_list("customer_id", "tag_id")) == {
        (a.pk, add.pk),
        (b.pk, add.pk),
        (c.pk, add.pk),
    }


def test_bulk_update_rejects_unknown_tags(api, org):
    customer = CustomerFactory(organization=org)

    response = api.post(
        "/api/v1/tags/bulk",
        {"customer_ids": [str(customer.pk)], "add_tag_ids": [str(uuid.uuid4())]},
        format="json",
    )

    assert response.status_code == 400
    assert "add_tag_ids" in response.json()["error"]["fields"]


def test_bulk_update_rejects_tag_in_both_lists(api, org):
    tag = TagFactory(organization=org)
    customer = CustomerFactory(organization=org)

    response = api.post(
        "/api/v1/tags/bulk",
        {
            "customer_ids": [str(customer.pk)],
            "add_tag_ids": [str(tag.pk)],
            "remove_tag_ids": [str(tag.pk)],
        },
        format="json",
    )

    assert response.status_code == 400
    assert "remove_tag_ids" in response.json()["error"]["fields"]


def test_tags_of_another_organization_are_404(api, other_api, org):
    tag = TagFactory(organization=org)
    url = f"/api/v1/tags/{tag.pk}"

    assert other_api.get(url).status_code == 404
    assert other_api.patch(url, {"name": "x"}, format="json").status_code == 404
    assert other_api.put(url, {"name": "x"}, format="json").status_code == 404
    assert other_api.delete(url).status_code == 404
    assert other_api.post(f"{url}/assign", {"customer_ids": []}, format="json").status_code == 404
    assert other_api.post(f"{url}/unassign", {"customer_ids": []}, format="json").status_code == 404
    assert other_api.get("/api/v1/tags").json() == {"data": []}
    assert (
        other_api.post(
            "/api/v1/tags/bulk", {"customer_ids": [], "add_tag_ids": [str(tag.pk)]}, format="json"
        ).status_code
        == 400
    )
