"""Test data builders, one per model; domain apps append theirs below."""

import factory

from arpilot.models import Organization
from customers.models import Contact, Customer, Tag


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    company_name = factory.Sequence(lambda n: f"Customer {n} Ltd")
    external_id = factory.Sequence(lambda n: f"CUST-{n:05d}")
    address = "1 Main Street, Springfield"
    timezone = "UTC"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    contact_name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")
    color = "#336699"
