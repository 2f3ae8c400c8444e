"""Every write to customers, contacts and tags."""

from collections.abc import Iterable
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower

from arpilot import hooks
from arpilot.db import conflict, unique_or_conflict
from arpilot.errors import Conflict, ValidationFailed
from customers.lock_objects import customer_for_update
from customers.models import Contact, Customer, CustomerTag, Tag
from webhooks.services import event_emit

CUSTOMER_FIELDS = ("company_name", "external_id", "address", "timezone")
CONTACT_FIELDS = (
    "contact_name",
    "email",
    "phone",
    "phone_type",
    "phone_secondary",
    "phone_type_secondary",
    "escalation_level",
    "title",
    "notes",
)


def customer_event_data(customer: Customer) -> dict:
    return {
        "id": str(customer.pk),
        "company_name": customer.company_name,
        "customer_id": customer.external_id,
        "address": customer.address,
        "timezone": customer.timezone,
    }


def _customer_with_external_id(organization, external_id: str, exclude_pk=None):
    """The id of the customer holding ``external_id`` (the unique constraint's key)."""
    if not external_id:
        return None
    clash = Customer.objects.for_org(organization).filter(external_id=external_id)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    return clash.values_list("pk", flat=True).first()


def _external_id_message(external_id: str) -> str:
    return f"A customer with customer_id {external_id!r} already exists."


EXTERNAL_ID_TAKEN = "Already used by another customer."


def _external_id_conflict(organization, external_id: str, exclude_pk=None) -> None:
    existing = _customer_with_external_id(organization, external_id, exclude_pk)
    if existing is not None:
        raise conflict(
            _external_id_message(external_id),
            field="customer_id",
            existing_id=existing,
            detail=EXTERNAL_ID_TAKEN,
        )


def _external_id_unique(organization, external_id: str, exclude_pk=None):
    """Writes of ``external_id``: a concurrent writer that won is a 409, not a 500."""
    return unique_or_conflict(
        lambda: _customer_with_external_id(organization, external_id, exclude_pk),
        _external_id_message(external_id),
        field="customer_id",
        detail=EXTERNAL_ID_TAKEN,
    )


def _tag_named(organization, name: str, exclude_pk=None):
    """The id of the tag named ``name`` as the database compares (``Lower``, the constraint)."""
    clash = (
        Tag.objects.for_org(organization)
        .alias(name_lower=Lower("name"))
        .filter(name_lower=Lower(Value(name)))
    )
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    return clash.values_list("pk", flat=True).first()


def _primary_contact(customer, exclude_pk=None):
    others = Contact.objects.filter(customer=customer, is_primary=True)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.values_list("pk", flat=True).first()


def _one_primary_unique(customer: Customer, exclude_pk=None, *, field: str = "is_primary"):
    """Contact writes: a second primary contact (a concurrent writer) is a 409, not a 500."""
    return unique_or_conflict(
        lambda: _primary_contact(customer, exclude_pk),
        "The customer already has a primary contact.",
        field=field,
        detail="Another contact is primary.",
    )


def tags_get_or_create(*, organization, names: Iterable[str]) -> list[Tag]:
    """Tags by name (case-insensitive), created when new."""
    tags: dict[str, Tag] = {}
    for raw in names:
        name = raw.strip()
        key = name.lower()
        if not name or key in tags:
            continue
        existing = _tag_named(organization, name)
        if existing is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(organization=organization, name=name)
            except IntegrityError:  # created meanwhile by a concurrent request: use it
                existing = _tag_named(organization, name)
                if existing is None:
                    raise
        if existing is not None:
            tag = Tag.objects.get(pk=existing)
        tags[key] = tag
    return list(tags.values())


def _customer_tags_replace(customer: Customer, tags: list[Tag]) -> bool:
    wanted = {tag.pk for tag in tags}
    current = set(CustomerTag.objects.filter(customer=customer).values_list("tag_id", flat=True))
    if wanted == current:
        return False
    CustomerTag.objects.filter(customer=customer, tag_id__in=current - wanted).delete()
    CustomerTag.objects.bulk_create(
        [CustomerTag(customer=customer, tag_id=pk) for pk in wanted - current],
        ignore_conflicts=True,
    )
    return True


def _primary_clear(customer: Customer, *, except_pk=None) -> None:
    others = Contact.objects.filter(customer=customer, is_primary=True)
    if except_pk is not None:
        others = others.exclude(pk=except_pk)
    others.update(is_primary=False)


def _check_reachable(data: dict, *, prefix: str = "") -> None:
    if not (data.get("email") or data.get("phone")):
        raise ValidationFailed(
            "A contact needs an email or a phone number.",
            fields={f"{prefix}email": ["Provide an email or a phone number."]},
        )


def _only_one_primary(contacts: list[dict]) -> None:
    if sum(1 for c in contacts if c.get("is_primary")) > 1:
        raise ValidationFailed(
            "At most one contact can be primary.",
            fields={"contacts": ["At most one contact can be primary."]},
        )


@transaction.atomic
def customer_create(
    *,
    organization,
    company_name: str,
    contacts: list[dict],
    external_id: str = "",
    address: str = "",
    timezone: str | None = None,
    tags: list[str] | None = None,
) -> Customer:
    if not contacts:
        raise ValidationFailed(
            "A customer needs at least one contact.",
            fields={"contacts": ["At least one contact is required."]},
        )
    for index, contact in enumerate(contacts):
        _check_reachable(contact, prefix=f"contacts.{index}.")
    _only_one_primary(contacts)
    _external_id_conflict(organization, external_id)
    with _external_id_unique(organization, external_id):
        customer = Customer.objects.create(
            organization=organization,
            company_name=company_name,
            external_id=external_id,
            address=address,
            timezone=timezone or organization.timezone,
        )
    has_primary = any(c.get("is_primary") for c in contacts)
    Contact.objects.bulk_create(
        [
            Contact(
                organization=organization,
                customer=customer,
                is_primary=bool(c.get("is_primary")) or (not has_primary and index == 0),
                **{k: v for k, v in c.items() if k in CONTACT_FIELDS},
            )
            for index, c in enumerate(contacts)
        ]
    )
    if tags:
        _customer_tags_replace(customer, tags_get_or_create(organization=organization, names=tags))
    event_emit(
        organization_id=organization.pk,
        event_type="customer.created",
        data=customer_event_data(customer),
    )
    return customer


@transaction.atomic
def customer_update(
    *,
    organization,
    customer_id: UUID,
    fields: dict | None = None,
    tags: list[str] | None = None,
    contacts: list[dict] | None = None,
    delete_contact_ids: list[UUID] | None = None,
) -> Customer:
    """Update fields; ``tags`` replaces all; ``contacts`` upserts by id; deletes by id."""
    customer = customer_for_update(organization=organization, customer_id=customer_id)
    fields = {k: v for k, v in (fields or {}).items() if k in CUSTOMER_FIELDS}
    if "external_id" in fields:
        _external_id_conflict(organization, fields["external_id"], exclude_pk=customer.pk)
    for name, value in fields.items():
        setattr(customer, name, value)
    if fields:
        with _external_id_unique(organization, customer.external_id, exclude_pk=customer.pk):
            customer.save(update_fields=[*fields, "updated_at"])
    if tags is not None:
        _customer_tags_replace(customer, tags_get_or_create(organization=organization, names=tags))
    if delete_contact_ids:
        _contacts_delete(customer, delete_contact_ids)
    if contacts:
        _contacts_upsert(customer, contacts)
    if delete_contact_ids and not Contact.objects.filter(customer=customer).exists():
        raise ValidationFailed(
            "A customer keeps at least one contact.",
            fields={"delete_contact_ids": ["Cannot delete every contact."]},
        )
    customer.save(update_fields=["updated_at"])
    event_emit(
        organization_id=organization.pk,
        event_type="customer.updated",
        data=customer_event_data(customer),
    )
    return customer


def _contacts_delete(customer: Customer, ids: list[UUID]) -> None:
    owned = set(Contact.objects.filter(customer=customer, pk__in=ids).values_list("pk", flat=True))
    unknown = [str(pk) for pk in ids if pk not in owned]
    if unknown:
        raise ValidationFailed(
            "Some contacts to delete are not contacts of this customer.",
            fields={"delete_contact_ids": [f"Unknown contact {pk}." for pk in unknown]},
        )
    Contact.objects.filter(pk__in=owned).delete()


def _contacts_upsert(customer: Customer, contacts: list[dict]) -> None:
    _only_one_primary(contacts)
    ids = [c["id"] for c in contacts if c.get("id")]
    existing = {c.pk: c for c in Contact.objects.filter(customer=customer, pk__in=ids)}
    for index, data in enumerate(contacts):
        prefix = f"contacts.{index}."
        contact_id = data.get("id")
        values = {k: v for k, v in data.items() if k in CONTACT_FIELDS}
        if contact_id:
            contact = existing.get(contact_id)
            if contact is None:
                raise ValidationFailed(
                    "A contact to update is not a contact of this customer.",
                    fields={f"{prefix}id": [f"Unknown contact {contact_id}."]},
                )
        else:
            if not values.get("contact_name"):
                raise ValidationFailed(
                    "A new contact needs a contact_name.",
                    fields={f"{prefix}contact_name": ["This field is required."]},
                )
            contact = Contact(organization=customer.organization, customer=customer)
        for name, value in values.items():
            setattr(contact, name, value)
        _check_reachable({"email": contact.email, "phone": contact.phone}, prefix=prefix)
        changed = list(values)
        if "is_primary" in data:
            if data["is_primary"]:
                _primary_clear(customer, except_pk=contact.pk if contact_id else None)
            contact.is_primary = bool(data["is_primary"])
            changed.append("is_primary")
        # An existing contact saves only its changes: its is_primary, read before an earlier
        # item of the list made another contact primary, must not be written back.
        with _one_primary_unique(
            customer, exclude_pk=contact.pk if contact_id else None, field=f"{prefix}is_primary"
        ):
            if contact_id:
                contact.save(update_fields=[*changed, "updated_at"])
            else:
                contact.save()


@transaction.atomic
def customer_delete(*, organization, customer_id: UUID) -> None:
    """Delete a customer with its contacts and tag assignments; apps may veto (409)."""
    customer = customer_for_update(organization=organization, customer_id=customer_id)
    hooks.dispatch(hooks.CustomerDeleting(customer=customer))
    data = customer_event_data(customer)
    customer.delete()
    event_emit(organization_id=organization.pk, event_type="customer.deleted", data=data)


@transaction.atomic
def contact_create(
    *, organization, customer_id: UUID, is_primary: bool = False, **values
) -> Contact:
    try:
        customer = customer_for_update(organization=organization, customer_id=customer_id)
    except Customer.DoesNotExist:
        raise ValidationFailed(
            "Unknown customer.", fields={"customer_id": ["No such customer."]}
        ) from None
    _check_reachable(values)
    if is_primary:
        _primary_clear(customer)
    with _one_primary_unique(customer):
        contact = Contact.objects.create(
            organization=organization,
            customer=customer,
            is_primary=is_primary,
            **{k: v for k, v in values.items() if k in CONTACT_FIELDS},
        )
    _customer_touched(customer)
    return contact


@transaction.atomic
def contact_update(*, organization, contact_id: UUID, values: dict) -> Contact:
    customer_pk = (
        Contact.objects.for_org(organization)
        .values_list("customer_id", flat=True)
        .get(pk=contact_id)
    )
    customer = customer_for_update(organization=organization, customer_id=customer_pk)
    contact = Contact.objects.get(pk=contact_id)
    for name, value in values.items():
        if name in CONTACT_FIELDS:
            setattr(contact, name, value)
    _check_reachable({"email": contact.email, "phone": contact.phone})
    if "is_primary" in values:
        if values["is_primary"]:
            _primary_clear(customer, except_pk=contact.pk)
        contact.is_primary = bool(values["is_primary"])
    with _one_primary_unique(customer, exclude_pk=contact.pk):
        contact.save()
    _customer_touched(customer)
    return contact


@transaction.atomic
def contact_delete(*, organization, contact_id: UUID) -> None:
    customer_pk = (
        Contact.objects.for_org(organization)
        .values_list("customer_id", flat=True)
        .get(pk=contact_id)
    )
    customer = customer_for_update(organization=organization, customer_id=customer_pk)
    if Contact.objects.filter(customer=customer).count() <= 1:
        raise Conflict("This is the customer's only contact; a customer keeps at least one.")
    Contact.objects.filter(pk=contact_id).delete()
    _customer_touched(customer)


def _customer_touched(customer: Customer) -> None:
    customer.save(update_fields=["updated_at"])
    event_emit(
        organization_id=customer.organization_id,
        event_type="customer.updated",
        data=customer_event_data(customer),
    )


TAG_NAME_TAKEN = "A tag with this name already exists."


def _tag_name_taken(organization, name: str, exclude_pk=None) -> None:
    existing = _tag_named(organization, name, exclude_pk)
    if existing is not None:
        raise conflict(
            f"A tag named {name!r} already exists.",
            field="name",
            existing_id=existing,
            detail=TAG_NAME_TAKEN,
        )


def _tag_name_unique(organization, name: str, exclude_pk=None):
    """Tag writes: names are unique per organization by ``Lower(name)`` in the database."""
    return unique_or_conflict(
        lambda: _tag_named(organization, name, exclude_pk),
        f"A tag named {name!r} already exists.",
        field="name",
        detail=TAG_NAME_TAKEN,
    )


@transaction.atomic
def tag_create(*, organization, name: str, color: str | None = None) -> Tag:
    _tag_name_taken(organization, name)
    with _tag_name_unique(organization, name):
        return Tag.objects.create(
            organization=organization, name=name, **({"color": color} if color else {})
        )


@transaction.atomic
def tag_update(
    *, organization, tag_id: UUID, name: str | None = None, color: str | None = None
) -> Tag:
    tag = Tag.objects.for_org(organization).select_for_update().get(pk=tag_id)
    if name is not None:
        _tag_name_taken(organization, name, exclude_pk=tag.pk)
        tag.name = name
    if color is not None:
        tag.color = color
    with _tag_name_unique(organization, tag.name, exclude_pk=tag.pk):
        tag.save()
    return tag


@transaction.atomic
def tag_delete(*, organization, tag_id: UUID) -> None:
    Tag.objects.for_org(organization).get(pk=tag_id).delete()


def _customers_of_org(
    organization, customer_ids: list[UUID], field: str = "customer_ids"
) -> list[UUID]:
    wanted = list(dict.fromkeys(customer_ids))
    found = set(
        Customer.objects.for_org(organization).filter(pk__in=wanted).values_list("pk", flat=True)
    )
    unknown = [str(pk) for pk in wanted if pk not in found]
    if unknown:
        raise ValidationFailed(
            "Some customers do not exist.",
            fields={field: [f"Unknown customer {pk}." for pk in unknown]},
        )
    return wanted


def _tags_of_org(organization, tag_ids: list[UUID], field: str) -> list[UUID]:
    wanted = list(dict.fromkeys(tag_ids))
    found = set(
        Tag.objects.for_org(organization).filter(pk__in=wanted).values_list("pk", flat=True)
    )
    unknown = [str(pk) for pk in wanted if pk not in found]
    if unknown:
        raise ValidationFailed(
            "Some tags do not exist.", fields={field: [f"Unknown tag {pk}." for pk in unknown]}
        )
    return wanted


@transaction.atomic
def tag_assign(*, organization, tag_id: UUID, customer_ids: list[UUID]) -> int:
    """Assign a tag; returns how many customers newly got it."""
    tag = Tag.objects.for_org(organization).get(pk=tag_id)
    wanted = _customers_of_org(organization, customer_ids)
    already = set(
        CustomerTag.objects.filter(tag=tag, customer_id__in=wanted).values_list(
            "customer_id", flat=True
        )
    )
    created = CustomerTag.objects.bulk_create(
        [CustomerTag(customer_id=pk, tag=tag) for pk in wanted if pk not in already],
        ignore_conflicts=True,
    )
    return len(created)


@transaction.atomic
def tag_unassign(*, organization, tag_id: UUID, customer_ids: list[UUID]) -> int:
    tag = Tag.objects.for_org(organization).get(pk=tag_id)
    wanted = _customers_of_org(organization, customer_ids)
    deleted, _ = CustomerTag.objects.filter(tag=tag, customer_id__in=wanted).delete()
    return deleted


@transaction.atomic
def tags_bulk_update(
    *, organization, customer_ids: list[UUID], add_tag_ids: list[UUID], remove_tag_ids: list[UUID]
) -> int:
    """Add and remove tags across customers; returns how many customers changed."""
    both = set(add_tag_ids) & set(remove_tag_ids)
    if both:
        raise ValidationFailed(
            "A tag cannot be both added and removed.",
            fields={
                "remove_tag_ids": [f"Also in add_tag_ids: {pk}." for pk in sorted(map(str, both))]
            },
        )
    customers = _customers_of_org(organization, customer_ids)
    add = _tags_of_org(organization, add_tag_ids, "add_tag_ids")
    remove = _tags_of_org(organization, remove_tag_ids, "remove_tag_ids")
    existing = set(
        CustomerTag.objects.filter(customer_id__in=customers).values_list("customer_id", "tag_id")
    )
    to_add = [(c, t) for c in customers for t in add if (c, t) not in existing]
    to_remove = [(c, t) for c in customers for t in remove if (c, t) in existing]
    CustomerTag.objects.bulk_create(
        [CustomerTag(customer_id=c, tag_id=t) for c, t in to_add], ignore_conflicts=True
    )
    if to_remove:
        CustomerTag.objects.filter(customer_id__in=customers, tag_id__in=remove).delete()
    return len({c for c, _ in to_add} | {c for c, _ in to_remove})
