"""The API's JSON of a customer, its contacts and tags is written by hand
(``customers.rendering``) for speed; it must be what the serializers' declared fields give,
field by field: same keys in the same order, same values and types, for customers the
services made and for any values the columns hold (hypothesis)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customers.api.serializers import ContactSerializer, CustomerSerializer, TagBriefSerializer
from customers.models import Contact, CustomerTag
from customers.rendering import contact_data, customer_data, tag_brief_data
from customers.selectors import customer_list
from tests.factories import ContactFactory, CustomerFactory, TagFactory


def assert_same(by_hand: dict, reference: dict) -> None:
    assert list(by_hand) == list(reference)
    assert by_hand == reference
    for name, value in reference.items():
        assert type(by_hand[name]) is type(value), name


@pytest.mark.django_db
def test_a_customer_with_contacts_and_tags(org):
    customer = CustomerFactory(organization=org, address="", timezone="Europe/Berlin")
    ContactFactory(customer=customer, is_primary=True, escalation_level=0, title="CFO")
    ContactFactory(customer=customer, email="", phone="+1 555 0100", notes="ring twice")
    CustomerTag.objects.create(customer=customer, tag=TagFactory(organization=org))
    loaded = customer_list(organization=org).get(pk=customer.pk)

    assert_same(customer_data(loaded), CustomerSerializer().field_by_field(loaded))
    for contact in loaded.contacts.all():
        assert_same(contact_data(contact), ContactSerializer().field_by_field(contact))
    for tag in loaded.tags.all():
        assert_same(tag_brief_data(tag), TagBriefSerializer().field_by_field(tag))
    assert len(customer_data(loaded)["contacts"]) == 2


texts = st.text(max_size=20)
moments = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=timedelta(seconds=2))
@given(
    contact_name=texts,
    email=texts,
    phone=texts,
    title=texts,
    notes=texts,
    is_primary=st.booleans(),
    escalation_level=st.integers(0, 32767),
    created_at=moments,
    updated_at=moments,
)
def test_any_contact_the_columns_can_hold(**values):
    contact = Contact(**values)

    assert_same(contact_data(contact), ContactSerializer().field_by_field(contact))
