"""Notes and logged calls about a customer: the clerk's side of its activity timeline."""

from arpilot.actors import current_actor
from arpilot.errors import NotFound, ValidationFailed
from customers.models import Contact, Customer
from dunning.models import CustomerNote

MAX_BODY = 10000


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def note_create(
    *, organization, customer_id, kind: str, body: str, contact_id=None
) -> CustomerNote:
    """Record a note or a call (``kind``) about the customer, by the current actor.

    404 for a customer that is not the organization's; 400 naming the field for an unknown
    kind, an empty body, or a contact that is not this customer's.
    """
    customer = Customer.objects.for_org(organization).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("Not found.")
    if kind not in CustomerNote.Kind.values:
        raise _invalid("kind", f"Must be one of: {', '.join(CustomerNote.Kind.values)}.")
    body = (body or "").strip()
    if not body:
        raise _invalid("body", "This field may not be blank.")
    if len(body) > MAX_BODY:
        raise _invalid("body", f"Ensure this field has no more than {MAX_BODY} characters.")
    contact = None
    if contact_id is not None:
        contact = Contact.objects.for_org(organization).filter(pk=contact_id).first()
        if contact is None or contact.customer_id != customer.pk:
            raise _invalid("contact_id", "No such contact of this customer.")
    actor = current_actor()
    return CustomerNote.objects.create(
        organization_id=customer.organization_id,
        customer=customer,
        kind=kind,
        body=body,
        contact=contact,
        created_by=actor.key if actor else "",
        created_by_name=actor.name if actor else "system",
    )
