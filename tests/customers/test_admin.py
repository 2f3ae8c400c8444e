"""The customers admin writes through ``customers.services``: events are emitted, and a
delete other apps veto (receivables: money moved) is an error message, nothing deleted."""

from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from customers.models import Contact, Customer, CustomerTag
from receivables import services as receivable_services
from receivables.models import Invoice
from tests.factories import ContactFactory, CustomerFactory, TagFactory
from tests.receivables.factories import make_invoice

pytestmark = pytest.mark.django_db


def form_data(response) -> dict:
    """What the admin page's form posts back unchanged (the form and its inlines)."""
    data = {}
    form = response.context["adminform"].form
    forms = [form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.forms]
    for each in forms:
        for name in each.fields:
            value = each[name].value()
            if value is None or value is False:
                continue
            data[each.add_prefix(name)] = value
    return data


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def emitted(emit) -> list[str]:
    return [call.kwargs["event_type"] for call in emit.call_args_list]


@pytest.fixture
def customer(org):
    customer = CustomerFactory(organization=org, company_name="Acme Corp")
    ContactFactory(customer=customer, contact_name="Wile", is_primary=True)
    return customer


def change_url(customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def test_saving_a_customer_emits_the_event(admin_client, customer):
    data = form_data(admin_client.get(change_url(customer)))
    data["company_name"] = "Acme Renamed"
    data["contacts-0-title"] = "Boss"

    with mock.patch("customers.services.event_emit") as emit:
        response = admin_client.post(change_url(customer), data)

    assert response.status_code == 302, response.content
    assert emitted(emit) == ["customer.updated"]
    assert emit.call_args.kwargs["data"]["company_name"] == "Acme Renamed"
    customer.refresh_from_db()
    assert customer.company_name == "Acme Renamed"
    assert Contact.objects.get(customer=customer).title == "Boss"


def test_adding_a_customer_with_a_contact_and_a_tag_emits_created(admin_client, org):
    tag = TagFactory(organization=org, name="wholesale")
    response = admin_client.get(reverse("admin:customers_customer_add"))
    data = form_data(response)
    prefixes = [inline.formset.prefix for inline in response.context["inline_admin_formsets"]]
    contacts, tags = prefixes
    data.update(
        {
            "organization": org.pk,
            "company_name": "New Co",
            "external_id": "NEW-1",
            "timezone": "UTC",
            f"{contacts}-TOTAL_FORMS": 1,
            f"{contacts}-0-contact_name": "Road Runner",
            f"{contacts}-0-email": "beep@example.com",
            f"{contacts}-0-escalation_level": 1,
            f"{tags}-TOTAL_FORMS": 1,
            f"{tags}-0-tag": tag.pk,
        }
    )
    data = {k: v for k, v in data.items() if not k.endswith("-customer")}

    with mock.patch("customers.services.event_emit") as emit:
        response = admin_client.post(reverse("admin:customers_customer_add"), data)

    assert response.status_code == 302, response.content
    assert emitted(emit) == ["customer.created"]
    created = Customer.objects.get(company_name="New Co")
    assert created.organization == org
    assert list(created.contacts.values_list("contact_name", "is_primary")) == [
        ("Road Runner", True)
    ]
    assert list(CustomerTag.objects.filter(customer=created).values_list("tag", flat=True)) == [
        tag.pk
    ]


def test_adding_a_customer_without_a_contact_is_refused_with_a_message(admin_client, org):
    data = form_data(admin_client.get(reverse("admin:customers_customer_add")))
    data.update({"organization": org.pk, "company_name": "Lonely Co", "timezone": "UTC"})

    response = admin_client.post(reverse("admin:customers_customer_add"), data)

    assert response.status_code == 302
    assert texts(response) == [
        "A customer needs at least one contact. (At least one contact is required.)"
    ]
    assert not Customer.objects.filter(company_name="Lonely Co").exists()


def _paid_invoice(org, customer) -> Invoice:
    invoice = make_invoice(org, customer=customer, invoice_number="INV-PAID")
    receivable_services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("5"))
    return invoice


def test_deleting_a_customer_whose_invoice_received_money_is_refused(admin_client, org, customer):
    _paid_invoice(org, customer)
    url = reverse("admin:customers_customer_delete", args=[customer.pk])

    with mock.patch("customers.services.event_emit") as emit:
        response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert response["Location"] == change_url(customer)
    [message] = texts(response)
    assert "INV-PAID" in message
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert Contact.objects.filter(customer=customer).count() == 1
    assert emitted(emit) == []


def test_deleting_a_customer_without_money_emits_deleted(admin_client, org, customer):
    make_invoice(org, customer=customer)
    url = reverse("admin:customers_customer_delete", args=[customer.pk])

    with mock.patch("customers.services.event_emit") as emit:
        response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert not Invoice.objects.filter(customer_id=customer.pk).exists()
    assert emitted(emit) == ["customer.deleted"]


def test_bulk_delete_with_a_refused_customer_deletes_none(admin_client, org, customer):
    other = CustomerFactory(organization=org)
    ContactFactory(customer=other)
    _paid_invoice(org, customer)

    response = admin_client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "delete_selected", "_selected_action": [other.pk, customer.pk], "post": "yes"},
    )

    assert response.status_code == 302
    [message] = texts(response)
    assert message.startswith("Nothing was deleted:")
    assert "INV-PAID" in message
    assert Customer.objects.filter(pk__in=[customer.pk, other.pk]).count() == 2


def test_bulk_delete_deletes_through_the_service(admin_client, org, customer):
    other = CustomerFactory(organization=org)
    ContactFactory(customer=other)

    with mock.patch("customers.services.event_emit") as emit:
        response = admin_client.post(
            reverse("admin:customers_customer_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [other.pk, customer.pk],
                "post": "yes",
            },
        )

    assert response.status_code == 302
    assert not Customer.objects.filter(pk__in=[customer.pk, other.pk]).exists()
    assert emitted(emit) == ["customer.deleted", "customer.deleted"]


def test_deleting_the_only_contact_is_refused_with_a_message(admin_client, customer):
    contact = Contact.objects.get(customer=customer)

    response = admin_client.post(
        reverse("admin:customers_contact_delete", args=[contact.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert texts(response) == [
        "This is the customer's only contact; a customer keeps at least one."
    ]
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_editing_a_contact_emits_the_customer_event(admin_client, customer):
    contact = Contact.objects.get(customer=customer)
    url = reverse("admin:customers_contact_change", args=[contact.pk])
    data = form_data(admin_client.get(url))
    data["title"] = "Chief"

    with mock.patch("customers.services.event_emit") as emit:
        response = admin_client.post(url, data)

    assert response.status_code == 302, response.content
    assert emitted(emit) == ["customer.updated"]
    contact.refresh_from_db()
    assert contact.title == "Chief"
