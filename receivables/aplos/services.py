"""Aplos-face writes: resolve Aplos references (contact, account numbers, fund ids) and call
the invoice services, all in one transaction."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from arpilot.errors import ValidationFailed
from customers.models import Contact, Customer
from customers.services import customer_event_data
from receivables import services
from receivables.models import Account, AplosContact, Fund, Invoice
from receivables.services import LineSpec
from webhooks.services import event_emit


def _account(organization, number: int, field: str) -> Account:
    account = Account.objects.for_org(organization).filter(account_number=number).first()
    if account is None:
        raise ValidationFailed(
            f"Unknown account number {number}.",
            fields={field: [f"Unknown account number {number}."]},
        )
    return account


def _fund(organization, fund_id: int, field: str) -> Fund:
    fund = Fund.objects.for_org(organization).filter(pk=fund_id).first()
    if fund is None:
        raise ValidationFailed(
            f"Unknown fund {fund_id}.", fields={field: [f"Unknown fund {fund_id}."]}
        )
    return fund


def _contact(organization, data: dict) -> Customer:
    """The contact by id, else by company name (case-insensitive), else a new customer.

    A contact found is used as it is: a receivable's post or put never renames or retypes a
    customer other receivables share (``type`` applies to a contact created here).
    """
    if "id" in data:
        contact = (
            AplosContact.objects.for_org(organization)
            .select_related("customer")
            .filter(pk=data["id"])
            .first()
        )
        if contact is None:
            raise ValidationFailed(
                f"Unknown contact {data['id']}.", fields={"contact.id": ["Unknown contact."]}
            )
        return contact.customer
    name = data["companyname"].strip()
    customer = _customer_named(organization, name)
    if customer is not None:
        services.aplos_contact_for(customer)
        return customer
    return _customer_create_for_aplos(organization, name, data.get("type"))


def _customer_named(organization, name: str) -> Customer | None:
    """The customer an Aplos post created under ``name``, else the oldest customer of that
    company name (both case-insensitive)."""
    contact = (
        AplosContact.objects.for_org(organization)
        .filter(lookup_name__iexact=name)
        .select_related("customer")
        .first()
    )
    if contact is not None:
        return contact.customer
    return (
        Customer.objects.for_org(organization)
        .filter(company_name__iexact=name)
        .order_by("created_at", "id")
        .first()
    )


def _customer_create_for_aplos(organization, name: str, type_: str | None) -> Customer:
    """A new customer named ``name`` with one primary contact of that name, and its Aplos
    contact keyed by the name.

    Concurrent posts naming the same new company meet at the Aplos contact's unique
    ``Lower(lookup_name)``: the losers' savepoints roll back (their customer with it) and
    they find the winner's customer.

    Not ``customers.services.customer_create``: it requires every contact to have an email
    or a phone, which an Aplos contact does not carry. This mirrors what it writes (customer
    in the organization's timezone, the contact, the ``customer.created`` event).
    """
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                organization=organization,
                company_name=name,
                timezone=organization.timezone or "UTC",
            )
            Contact.objects.create(
                organization=organization, customer=customer, contact_name=name, is_primary=True
            )
            AplosContact.objects.create(
                organization=organization,
                customer=customer,
                type=type_ or AplosContact.Type.COMPANY,
                lookup_name=name,
            )
    except IntegrityError:
        existing = _customer_named(organization, name)
        if existing is None:
            raise
        services.aplos_contact_for(existing)
        return existing
    event_emit(
        organization_id=organization.pk,
        event_type="customer.created",
        data=customer_event_data(customer),
    )
    return customer


def _lines(organization, lines: list[dict]) -> list[LineSpec]:
    specs = []
    for index, line in enumerate(lines):
        account = (
            _account(
                organization,
                line["account"]["account_number"],
                f"lines.{index}.account.account_number",
            )
            if "account" in line
            else services.default_account(organization, Account.Role.REVENUE)
        )
        fund = (
            _fund(organization, line["fund"]["id"], f"lines.{index}.fund.id")
            if "fund" in line
            else services.default_fund(organization)
        )
        specs.append(
            LineSpec(
                amount=line["amount"],
                note=line.get("note", ""),
                account=account,
                fund=fund,
                id=line.get("id"),
            )
        )
    return specs


def _asset_account(organization, data: dict) -> Account | None:
    if "asset_account" not in data:
        return None
    return _account(
        organization, data["asset_account"]["account_number"], "asset_account.account_number"
    )


@transaction.atomic
def aplos_receivable_create(*, organization, data: dict) -> Invoice:
    lines = _lines(organization, data["lines"])
    ar_account = _asset_account(organization, data)
    customer = _contact(organization, data["contact"])
    bill_date = data.get("bill_date") or timezone.localdate()
    return services.invoice_create(
        organization=organization,
        customer=customer,
        invoice_number=data.get("reference_num"),
        issue_date=bill_date,
        due_date=data.get("due_date") or bill_date,
        notes=data.get("note", ""),
        lines=lines,
        ar_account=ar_account,
    )


@transaction.atomic
def aplos_receivable_put(*, invoice: Invoice, data: dict) -> Invoice:
    """Put: fields left out keep their value. A ``contact`` re-points this receivable to the
    named customer (found, or created as on a post); the customer it had is not changed."""
    organization = invoice.organization
    changes = {}
    if "bill_date" in data:
        changes["issue_date"] = data["bill_date"]
    if "due_date" in data:
        changes["due_date"] = data["due_date"]
    if "reference_num" in data:
        changes["invoice_number"] = data["reference_num"]
    if "note" in data:
        changes["notes"] = data["note"]
    if "contact" in data:
        changes["customer"] = _contact(organization, data["contact"])
    ar_account = _asset_account(organization, data)
    if ar_account is not None:
        changes["ar_account"] = ar_account
    lines = _lines(organization, data["lines"]) if "lines" in data else None
    if lines is not None:
        unchanged = [
            (line.amount, line.note, line.account_id, line.fund_id)
            for line in invoice.lines.order_by("position", "id")
        ] == [(spec.amount, spec.note, spec.account.pk, spec.fund.pk) for spec in lines]
        if unchanged:
            lines = None
    return services.invoice_update(invoice=invoice, changes=changes, lines=lines)


@transaction.atomic
def aplos_receivable_receive(*, invoice: Invoice, data: dict) -> Invoice:
    cash_account = None
    if "cash_account" in data:
        cash_account = _account(
            invoice.organization_id,
            data["cash_account"]["account_number"],
            "cash_account.account_number",
        )
    return services.invoice_receive(
        invoice=invoice, received_date=data.get("received_date"), cash_account=cash_account
    )
