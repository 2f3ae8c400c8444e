"""``GET /customers/{id}`` reads its customer with three compiled statements
(``customers.selectors.customer_detail``): the same reply as ``customer_list`` and its
prefetches give, the contacts and tags held as prefetched rows, scoped to the organization."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.api.serializers import CustomerSerializer
from customers.models import CustomerTag
from customers.selectors import customer_detail, customer_list
from tests.factories import ContactFactory, CustomerFactory, OrganizationFactory, TagFactory

pytestmark = pytest.mark.django_db


def reply(customer) -> dict:
    return dict(CustomerSerializer(customer).data)


def test_the_same_reply_as_the_list_and_its_prefetches(org):
    customer = CustomerFactory(organization=org)
    for level, name in [(2, "Zed"), (0, "Bea"), (0, "Abe"), (1, "Cy")]:
        ContactFactory(customer=customer, contact_name=name, escalation_level=level)
    for name in ["wholesale", "eu", "key-account"]:
        CustomerTag.objects.create(customer=customer, tag=TagFactory(organization=org, name=name))
    bare = CustomerFactory(organization=org)
    ContactFactory(customer=CustomerFactory(organization=org))  # another customer's

    for one in (customer, bare):
        with CaptureQueriesContext(connection) as captured:
            found = customer_detail(organization=org, pk=one.pk)
            data = reply(found)
            assert found.contacts.count() == len(data["contacts"])  # held: no more reads
        assert len(captured) == 3
        assert data == reply(customer_list(organization=org).get(pk=one.pk))

    names = [
        contact["contact_name"]
        for contact in reply(customer_detail(organization=org, pk=customer.pk))["contacts"]
    ]
    assert names == ["Abe", "Bea", "Cy", "Zed"]  # escalation level, then name


def test_only_the_organizations_customer(org):
    stranger = CustomerFactory(organization=OrganizationFactory())

    assert customer_detail(organization=org, pk=stranger.pk) is None
    assert customer_detail(organization=org.pk, pk=uuid.uuid4()) is None


def test_the_api_answers_404_for_another_organizations_or_a_malformed_id(org, api):
    stranger = CustomerFactory(organization=OrganizationFactory())
    mine = CustomerFactory(organization=org)

    assert api.get(f"/api/v1/customers/{mine.pk}").status_code == 200
    for pk in (stranger.pk, uuid.uuid4(), "not-a-uuid"):
        response = api.get(f"/api/v1/customers/{pk}")
        assert response.status_code == 404, pk
        assert response.json()["error"]["code"] == "not_found"
