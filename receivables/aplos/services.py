"""Aplos-face writes: resolve Aplos references (contact, account numbers, fund ids) and call
the invoice services, all in one transaction."""

from django.db import transaction
from django.utils import timezone

from arpilot.errors import ValidationFailed
from customers.models import Customer
from receivables import services
from receivables.models import Account, AplosContact, Fund, Invoice
from receivables.services import LineSpec


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
    """The contact by id, else by company name (case-insensitive), else a new customer."""
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
        customer = contact.customer
    else:
        name = data["companyname"].strip()
        customer = (
            Customer.objects.for_org(organization)
            .filter(company_name__iexact=name)
            .order_by("created_at", "id")
            .first()
        )
        if customer is None:
            customer = Customer.objects.create(organization=organization, company_name=name)
    services.aplos_contact_for(customer, type=data.get("type"))
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
    organization = invoice.organization_id
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
