"""The API's JSON of a customer, its contacts and tags, written out by hand.

``CustomerSerializer`` and the serializers it nests declare the fields (and the OpenAPI
schema); building them per reply (a ModelSerializer maps every model field anew each time)
cost more than reading the customer did. Each function gives what the fields'
``to_representation`` give (None stays None); tests/customers/test_customer_rendering.py holds
the two equal.
"""

from arpilot.api.fields import iso_timestamp
from arpilot.api.fields import text_or_none as _text


def _when(value):
    return None if value is None else iso_timestamp(value)


def contact_data(contact) -> dict:
    return {
        "id": _text(contact.id),
        "customer_id": _text(contact.customer_id),
        "contact_name": _text(contact.contact_name),
        "email": _text(contact.email),
        "phone": _text(contact.phone),
        "phone_type": _text(contact.phone_type),
        "phone_secondary": _text(contact.phone_secondary),
        "phone_type_secondary": _text(contact.phone_type_secondary),
        "is_primary": None if contact.is_primary is None else bool(contact.is_primary),
        "escalation_level": None
        if contact.escalation_level is None
        else int(contact.escalation_level),
        "title": _text(contact.title),
        "notes": _text(contact.notes),
        "created_at": _when(contact.created_at),
        "updated_at": _when(contact.updated_at),
    }


def tag_brief_data(tag) -> dict:
    return {"id": _text(tag.id), "name": _text(tag.name), "color": _text(tag.color)}


def customer_data(customer) -> dict:
    """``customer`` with its contacts and tags loaded (``selectors.customer_list``)."""
    return {
        "id": _text(customer.id),
        "company_name": _text(customer.company_name),
        "customer_id": _text(customer.external_id),
        "address": _text(customer.address),
        "timezone": _text(customer.timezone),
        "contacts": [contact_data(contact) for contact in customer.contacts.all()],
        "tags": [tag_brief_data(tag) for tag in customer.tags.all()],
        "created_at": _when(customer.created_at),
        "updated_at": _when(customer.updated_at),
    }
