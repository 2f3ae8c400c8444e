"""Invoices: create, update, void, delete (with their lines, issue postings and events)."""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from arpilot import hooks
from arpilot.currencies import amount_check, currency_validate
from arpilot.db import statement_or_conflict
from arpilot.errors import Conflict, ValidationFailed
from arpilot.money import ZERO
from customers.models import Customer
from receivables import lock_objects
from receivables.models import (
    Account,
    AplosContact,
    Invoice,
    InvoiceLine,
    InvoiceOfflinePayment,
    JournalEntry,
    ReceivablesCounter,
)
from receivables.selectors import rate_on
from receivables.services.invoice_lines import (
    LineSpec,
    _lines_total,
    _post_issue,
    _reverse_issue,
    _save_lines,
    _validate_ar_account,
    _validate_lines,
)
from receivables.services.invoice_money import _check_can_receive, _record_offline
from receivables.services.ledger import (
    base_currency,
    ledger_defaults,
)
from receivables.services.rates import RateError, rate_value
from receivables.services.state import (
    Status,
    _emit,
    _lock,
    _money_event,
    _status_events,
    derive_status,
    keep_prefetched,
)

APLOS_ID_SEQUENCE = "receivables_invoice_aplos_id_seq"


def _next_aplos_id(organization) -> int:
    """A new Aplos-face id for an invoice, unique within the organization (gaps allowed).

    PostgreSQL: from one sequence, so concurrent invoice creates of an organization never
    wait on each other (a counter row would stay locked until each creating transaction
    commits). SQLite serializes writers anyway: the organization's counter row.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [APLOS_ID_SEQUENCE])
            return cursor.fetchone()[0]
    org_id = getattr(organization, "pk", organization)
    updated = ReceivablesCounter.objects.filter(pk=org_id).update(
        last_invoice_aplos_id=F("last_invoice_aplos_id") + 1
    )
    if not updated:
        ReceivablesCounter.objects.get_or_create(organization_id=org_id)
        ReceivablesCounter.objects.filter(pk=org_id).update(
            last_invoice_aplos_id=F("last_invoice_aplos_id") + 1
        )
    return ReceivablesCounter.objects.values_list("last_invoice_aplos_id", flat=True).get(pk=org_id)


def aplos_contact_for(customer: Customer, *, type: str | None = None) -> AplosContact:
    """The customer's Aplos-face contact id (created on first use)."""
    if type is None and Customer.aplos_contact.is_cached(customer):
        # Read with the customer (``select_related``); cached as missing if it has none yet.
        contact = customer._state.fields_cache.get("aplos_contact")
        if contact is not None:
            return contact
    contact, created = AplosContact.objects.get_or_create(
        customer=customer,
        defaults={
            "organization_id": customer.organization_id,
            "type": type or AplosContact.Type.COMPANY,
        },
    )
    if type and not created and contact.type != type:
        contact.type = type
        contact.save(update_fields=["type"])
    return contact


def _check_number_free(organization, invoice_number: str, exclude_pk=None) -> None:
    qs = Invoice.objects.for_org(organization).filter(invoice_number=invoice_number)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict(
            f"Invoice number {invoice_number!r} already exists.",
            fields={"invoice_number": ["An invoice with this number already exists."]},
        )


def invoice_has_moved_money(invoice: Invoice) -> bool:
    """Whether money was ever received on the invoice (even if later reversed)."""
    return (
        invoice.amount_due != invoice.amount
        or JournalEntry.objects.filter(invoice=invoice, kind__in=JournalEntry.MONEY_KINDS).exists()
    )


def _check_requested_status(invoice: Invoice, requested: str | None) -> None:
    """An explicit status must agree with the money and dates ("pending" means "open")."""
    if requested is None or requested == invoice.status:
        return
    if requested == Status.PENDING and invoice.status in Invoice.OPEN_STATUSES:
        return
    raise ValidationFailed(
        f"status {requested!r} contradicts the invoice: with amount {invoice.amount}, "
        f"amount_due {invoice.amount_due} and due date {invoice.due_date} it is "
        f"{invoice.status!r}.",
        fields={"status": [f"The invoice is {invoice.status!r}; status is derived."]},
    )


def _lines_and_amount(
    lines: list[LineSpec] | None, amount: Decimal | None, revenue: Account | None, fund
) -> tuple[list[LineSpec], Decimal]:
    """The invoice's lines and total: the lines given (``amount``, if sent, must be their
    sum), or one line of ``amount`` to ``revenue`` in ``fund`` (the defaults)."""
    if lines:
        total = _lines_total(lines)
        if amount is not None and amount != total:
            raise ValidationFailed(
                f"amount {amount} is not the sum of the lines ({total}).",
                fields={"amount": [f"Must equal the sum of the lines ({total})."]},
            )
        amount = total
    elif amount is None:
        raise ValidationFailed(
            "amount is required.", fields={"amount": ["This field is required."]}
        )
    else:
        lines = [LineSpec(amount=amount, account=revenue, fund=fund)]
    if amount <= 0:
        raise ValidationFailed(
            "amount must be greater than zero.", fields={"amount": ["Must be greater than zero."]}
        )
    return lines, amount


def invoice_currency(organization, currency: str | None) -> str:
    """The currency a new invoice is in: ``currency`` (ISO 4217; 400 naming ``currency``
    otherwise), or the organization's base currency when left out."""
    if currency:
        return currency_validate(currency)
    return (organization.currency or "USD").upper()


def _rate_given(exchange_rate) -> Decimal:
    """A rate sent with the invoice: positive, at most 10 places (400 naming ``exchange_rate``)."""
    try:
        return rate_value(exchange_rate)
    except RateError as error:
        raise ValidationFailed(error.reason, fields={"exchange_rate": [error.reason]}) from None


def _booked_rate(organization, currency: str, exchange_rate, issue_date: date) -> Decimal | None:
    """The rate an invoice in ``currency`` is booked at (base per unit): ``exchange_rate``
    when given, else the organization's rate of the issue date (the latest on or before it);
    None for the base currency. Neither: a 400 naming ``exchange_rate``."""
    base = base_currency(organization)
    if currency == base:
        if exchange_rate is not None and _rate_given(exchange_rate) != 1:
            message = f"The invoice is in the base currency ({base}): its rate is always 1."
            raise ValidationFailed(message, fields={"exchange_rate": [message]})
        return None
    if exchange_rate is not None:
        return _rate_given(exchange_rate)
    rate = rate_on(organization, currency, issue_date)
    if rate is None:
        message = (
            f"No {currency} rate on or before {issue_date}: send exchange_rate ({base} per "
            f"{currency}) or record a rate (POST /api/v1/exchange-rates)."
        )
        raise ValidationFailed(message, fields={"exchange_rate": [message]})
    return rate


def _check_places(currency: str, lines: list[LineSpec], **amounts) -> None:
    """Every amount has at most the currency's decimal places (a 400 naming the field,
    never rounded): each line's first (the one at fault is named), then ``amounts`` by
    field name."""
    for index, line in enumerate(lines):
        amount_check(line.amount, currency, f"lines.{index}.amount")
    for field_name, amount in amounts.items():
        amount_check(amount, currency, field_name)


def _check_new_invoice(
    *, amount: Decimal, amount_due: Decimal, status: str | None, issue_date: date, due_date: date
) -> None:
    """What a new invoice's amounts, status and dates must satisfy."""
    if amount_due > amount:
        raise ValidationFailed(
            "amount_due cannot exceed amount.", fields={"amount_due": ["Cannot exceed amount."]}
        )
    if status == Status.VOID:
        raise ValidationFailed(
            "An invoice cannot be created void.",
            fields={"status": ["An invoice cannot be created void."]},
        )
    if status == Status.DRAFT and amount_due != amount:
        raise ValidationFailed(
            "A draft has received no money: amount_due must equal amount.",
            fields={"amount_due": ["A draft's amount_due equals its amount."]},
        )
    if due_date < issue_date:
        raise ValidationFailed(
            "due_date is before issue_date.",
            fields={"due_date": ["Must not be before issue_date."]},
        )


def _insert_invoice(invoice: Invoice) -> None:
    """Insert the invoice; its number taken meanwhile by another is a 409."""
    try:
        with statement_or_conflict():
            invoice.save(force_insert=True)
    except IntegrityError:
        raise Conflict(
            f"Invoice number {invoice.invoice_number!r} already exists.",
            fields={"invoice_number": ["An invoice with this number already exists."]},
        ) from None


def _issue(
    invoice: Invoice,
    saved_lines: list[InvoiceLine],
    *,
    amount_due: Decimal,
    cash_account: Account | None,
) -> list[InvoiceOfflinePayment]:
    """Post the issue entry, tell the receivers, record what was paid before the invoice was
    recorded (``amount_due`` below the amount), and derive the status; the offline payments
    recorded."""
    entry = _post_issue(invoice, saved_lines, invoice.issue_date)
    _money_event(invoice, "invoice_created", invoice.amount, entry)
    if amount_due == invoice.amount:
        return []  # the status was derived before the insert
    offline = _record_offline(
        invoice,
        amount=invoice.amount - amount_due,
        received_date=invoice.issue_date,
        cash_account=cash_account,
        source=InvoiceOfflinePayment.Source.OPENING,
    )
    invoice.status = derive_status(invoice)
    invoice.save(update_fields=["amount_due", "status", "updated_at"])
    return [offline]


@transaction.atomic
def invoice_create(
    *,
    organization,
    customer: Customer,
    invoice_number: str | None,
    due_date: date,
    amount: Decimal | None = None,
    amount_due: Decimal | None = None,
    issue_date: date | None = None,
    customer_name: str = "",
    customer_address: str = "",
    notes: str = "",
    status: str | None = None,
    lines: list[LineSpec] | None = None,
    ar_account: Account | None = None,
    cash_account: Account | None = None,
    currency: str | None = None,
    exchange_rate: Decimal | None = None,
) -> Invoice:
    """Create an invoice; unless it is a draft, issue it to the ledger.

    Without ``invoice_number`` the invoice is numbered with its Aplos-face id. ``currency``
    (ISO 4217) defaults to the organization's base currency; every amount has at most its
    decimal places (JPY none, USD two). An invoice in another currency is booked at
    ``exchange_rate`` (base per unit) or the organization's rate of its issue date (a 400
    naming ``exchange_rate`` without either; a draft takes it when it is issued).
    """
    if customer.organization_id != organization.pk:
        raise ValidationFailed("Unknown customer.", fields={"customer_id": ["Unknown customer."]})
    currency = invoice_currency(organization, currency)
    # PostgreSQL numbers the row on INSERT (the column's default); an invoice without a
    # number takes its Aplos id as number, so that one is drawn first.
    numbered = {}
    if not invoice_number or connection.vendor != "postgresql":
        numbered["aplos_id"] = _next_aplos_id(organization)
        invoice_number = invoice_number or str(numbered["aplos_id"])
    roles = ([] if ar_account else [Account.Role.RECEIVABLE]) + (
        [] if lines else [Account.Role.REVENUE]
    )
    defaults, fund = ledger_defaults(organization, roles) if roles else ({}, None)
    ar_account = ar_account or defaults[Account.Role.RECEIVABLE]
    _validate_ar_account(ar_account)
    _check_places(currency, lines or [], amount=amount, amount_due=amount_due)
    lines, amount = _lines_and_amount(lines, amount, defaults.get(Account.Role.REVENUE), fund)
    _validate_lines(lines, ar_account, "lines")
    amount_due = amount if amount_due is None else amount_due
    issue_date = issue_date or timezone.localdate()
    _check_new_invoice(
        amount=amount,
        amount_due=amount_due,
        status=status,
        issue_date=issue_date,
        due_date=due_date,
    )
    is_draft = status == Status.DRAFT
    if not is_draft or exchange_rate is not None:
        exchange_rate = _booked_rate(organization, currency, exchange_rate, issue_date)
    invoice = Invoice(
        organization=organization,
        invoice_number=invoice_number,
        customer=customer,
        customer_name=customer_name,
        customer_address=customer_address,
        currency=currency,
        exchange_rate=exchange_rate,
        amount=amount,
        amount_due=amount,
        issue_date=issue_date,
        due_date=due_date,
        status=Status.DRAFT if is_draft else Status.PENDING,
        notes=notes,
        ar_account=ar_account,
        **numbered,
    )
    if not is_draft:
        invoice.status = derive_status(invoice)  # pending or overdue: nothing received yet
    _insert_invoice(invoice)
    aplos_contact_for(customer)
    saved_lines = _save_lines(invoice, lines, new=True)
    offline = []
    if not is_draft:
        offline = _issue(invoice, saved_lines, amount_due=amount_due, cash_account=cash_account)
    _check_requested_status(invoice, status)
    # Everything the invoice renders with is in hand: the event and the API's reply use it.
    keep_prefetched(invoice, lines=saved_lines, offline_payments=offline)
    events = ["invoice.created"]
    if invoice.status == Status.OVERDUE:
        events.append("invoice.overdue")
    _emit(invoice, events)
    if not is_draft:
        hooks.dispatch(hooks.InvoiceIssued(organization=organization, invoice=invoice))
    return invoice


@transaction.atomic
def invoice_void(*, invoice: Invoice) -> Invoice:
    """Void an invoice that has received no money: its issue entry is reversed."""
    _lock(invoice)
    if invoice.status == Status.VOID:
        return invoice
    if invoice_has_moved_money(invoice):
        raise Conflict(
            f"Invoice {invoice.invoice_number} has received money; reverse the payments "
            "before voiding it."
        )
    reversal = _reverse_issue(invoice, f"Invoice {invoice.invoice_number} voided")
    if reversal is not None:
        _money_event(invoice, "invoice_voided", invoice.amount, reversal)
    invoice.status = Status.VOID
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "voided_at", "updated_at"])
    _emit(invoice, ["invoice.voided"])
    return invoice


def _check_void_allows(invoice: Invoice, changes: dict, lines, external_payment_amount, status):
    """A void invoice keeps its money and lines: only notes and the customer's name and
    address may change (and voiding it again is a no-op)."""
    if invoice.status != Status.VOID:
        return
    blocked = sorted(set(changes) - {"notes", "customer_name", "customer_address"})
    if blocked or lines is not None or external_payment_amount or status not in (None, Status.VOID):
        raise Conflict(
            f"Invoice {invoice.invoice_number} is void; only notes and the customer "
            "name and address can change."
        )


def _structural_changes(invoice: Invoice, changes: dict, lines) -> set[str]:
    """What of the issue posting would change (amount, customer, receivable account, lines);
    refused once money has been received."""
    structural = {
        name
        for name in ({"amount", "customer", "ar_account", "currency"} & set(changes))
        if changes[name] != getattr(invoice, name)
    } | ({"lines"} if lines is not None else set())
    if structural and invoice_has_moved_money(invoice):
        raise Conflict(
            f"Invoice {invoice.invoice_number} has received money; its "
            f"{', '.join(sorted(structural))} can no longer change."
        )
    return structural


def _apply_fields(invoice: Invoice, changes: dict) -> None:
    """Check and set the plain fields: number, customer, names, notes, dates, AR account."""
    if "invoice_number" in changes and changes["invoice_number"] != invoice.invoice_number:
        _check_number_free(invoice.organization_id, changes["invoice_number"], invoice.pk)
    customer = changes.get("customer")
    if customer is not None and customer.organization_id != invoice.organization_id:
        raise ValidationFailed("Unknown customer.", fields={"customer_id": ["Unknown customer."]})
    if "ar_account" in changes:
        _validate_ar_account(changes["ar_account"])
    for name in (
        "invoice_number",
        "customer",
        "customer_name",
        "customer_address",
        "notes",
        "issue_date",
        "due_date",
        "ar_account",
        "currency",
    ):
        if name in changes:
            setattr(invoice, name, changes[name])
    if invoice.due_date < invoice.issue_date:
        raise ValidationFailed(
            "due_date is before issue_date.",
            fields={"due_date": ["Must not be before issue_date."]},
        )


def _check_update_places(invoice: Invoice, changes: dict, lines, external_payment_amount) -> None:
    """The amounts an update sends fit the invoice's currency (its new one, if it changes:
    then its current lines must fit too, unless new lines replace them)."""
    _check_places(
        invoice.currency,
        lines or [],
        amount=changes.get("amount", invoice.amount if "currency" in changes else None),
        amount_due=changes.get("amount_due"),
        external_payment_amount=external_payment_amount,
    )
    if lines is None and "currency" in changes:  # the lines kept must fit the new currency
        kept = invoice.lines.only("amount")
        _check_places(invoice.currency, [LineSpec(line.amount, None, None) for line in kept])


def _new_lines(invoice: Invoice, lines, new_amount) -> list[LineSpec] | None:
    """The lines the update sets (None: unchanged). A new amount alone resizes the one line
    of a single-line invoice; lines must add up to the amount, if sent too."""
    if lines is None and new_amount is not None and new_amount != invoice.amount:
        current = list(invoice.lines.select_related("account", "fund"))
        if len(current) != 1:
            raise ValidationFailed(
                "This invoice has several lines: send lines to change its amount.",
                fields={"amount": ["Must equal the sum of the lines; send lines instead."]},
            )
        only = current[0]
        lines = [
            LineSpec(
                amount=new_amount, account=only.account, fund=only.fund, note=only.note, id=only.id
            )
        ]
    if lines is None:
        return None
    total = _lines_total(lines)
    if new_amount is not None and new_amount != total:
        raise ValidationFailed(
            f"amount {new_amount} is not the sum of the lines ({total}).",
            fields={"amount": [f"Must equal the sum of the lines ({total})."]},
        )
    if total <= 0:
        raise ValidationFailed(
            "amount must be greater than zero.",
            fields={"amount": ["Must be greater than zero."]},
        )
    _validate_lines(lines, invoice.ar_account, "lines")
    invoice.amount = total
    invoice.amount_due = total
    return lines


def _repost(invoice: Invoice, structural: set[str], lines) -> None:
    """Save the lines; an issued invoice whose posting changed gets its issue entry reversed
    and posted again."""
    reposting = bool(structural) and invoice.status != Status.DRAFT
    reversal = (
        _reverse_issue(invoice, f"Invoice {invoice.invoice_number} changed") if reposting else None
    )
    saved_lines = _save_lines(invoice, lines) if lines is not None else None
    if reposting:
        reissue = _post_issue(
            invoice,
            saved_lines or list(invoice.lines.select_related("account", "fund")),
            timezone.localdate(),
        )
        _money_event(invoice, "invoice_changed", invoice.amount, reversal, reissue)


def _rate_of_update(invoice: Invoice, changes: dict, rate_sent: bool, rate) -> None:
    """Set the rate an update asks for: a draft's freely; an issued invoice's only with a
    new currency (it is booked again, before money moves); otherwise it is fixed once the
    invoice is issued (a different one is a 400 naming ``exchange_rate``)."""
    new_currency = "currency" in changes and changes["currency"] != invoice.currency
    if not (rate_sent or new_currency):
        return
    currency = changes.get("currency", invoice.currency)
    if invoice.status == Status.DRAFT:
        invoice.exchange_rate = (
            _booked_rate(invoice.organization, currency, rate, invoice.issue_date)
            if rate_sent and rate is not None
            else None  # taken when the draft is issued
        )
        return
    if new_currency:
        invoice.exchange_rate = _booked_rate(
            invoice.organization, currency, rate if rate_sent else None, invoice.issue_date
        )
        return
    if rate is not None and invoice.exchange_rate is not None:
        rate = _rate_given(rate)
    if rate != invoice.exchange_rate and not (rate is None and invoice.exchange_rate is None):
        message = (
            f"Invoice {invoice.invoice_number} is issued at {invoice.exchange_rate or 1}; its "
            "exchange rate is fixed once it is issued."
        )
        raise ValidationFailed(message, fields={"exchange_rate": [message]})


def _issue_if_asked(invoice: Invoice, status: str | None) -> None:
    """A draft asked for any issued status is issued now; an issued one cannot go back."""
    if status == Status.DRAFT and invoice.status != Status.DRAFT:
        raise ValidationFailed(
            "An issued invoice cannot go back to draft; void it instead.",
            fields={"status": ["An issued invoice cannot go back to draft."]},
        )
    if invoice.status == Status.DRAFT and status not in (None, Status.DRAFT, Status.VOID):
        if invoice.exchange_rate is None:
            invoice.exchange_rate = _booked_rate(
                invoice.organization, invoice.currency, None, invoice.issue_date
            )
        invoice.status = Status.PENDING
        entry = _post_issue(
            invoice, list(invoice.lines.select_related("account", "fund")), invoice.issue_date
        )
        _money_event(invoice, "invoice_created", invoice.amount, entry)


def _offline_payments_of_update(
    invoice: Invoice,
    *,
    new_due: Decimal | None,
    external_payment_amount: Decimal | None,
    cash_account: Account | None,
) -> None:
    """Money paid outside ARPilot that the update reports: ``external_payment_amount`` is one
    payment (an ``amount_due`` sent with it must be the balance it leaves); a lowered
    ``amount_due`` alone is one payment of the difference."""
    paid_now = ZERO
    if external_payment_amount is not None and new_due is not None:
        if external_payment_amount:
            _check_can_receive(invoice, external_payment_amount, "external_payment_amount")
        expected = invoice.amount_due - external_payment_amount
        if new_due != expected:
            raise ValidationFailed(
                f"amount_due {new_due} is not the open balance after the external payment of "
                f"{external_payment_amount} ({expected}); each update records one payment.",
                fields={
                    "amount_due": [
                        f"Must equal the open balance after external_payment_amount ({expected})."
                    ]
                },
            )
    elif new_due is not None and new_due != invoice.amount_due:
        if new_due > invoice.amount_due:
            raise ValidationFailed(
                f"amount_due cannot rise above the open balance ({invoice.amount_due}); "
                "money received is not taken back by editing the balance.",
                fields={"amount_due": [f"Cannot exceed the open balance ({invoice.amount_due})."]},
            )
        paid_now = invoice.amount_due - new_due
    if not (paid_now or external_payment_amount):
        return
    if invoice.status == Status.DRAFT:
        raise Conflict(
            f"Invoice {invoice.invoice_number} is a draft; issue it before recording money."
        )
    for amount, field_name in (
        (paid_now, "amount_due"),
        (external_payment_amount, "external_payment_amount"),
    ):
        if amount:
            _record_offline(
                invoice,
                amount=amount,
                received_date=timezone.localdate(),
                cash_account=cash_account,
                source=InvoiceOfflinePayment.Source.EXTERNAL,
                field_name=field_name,
            )


@transaction.atomic
def invoice_update(
    *,
    invoice: Invoice,
    changes: dict,
    lines: list[LineSpec] | None = None,
    external_payment_amount: Decimal | None = None,
    cash_account: Account | None = None,
) -> Invoice:
    """Apply a partial update.

    ``changes`` may hold invoice_number, customer, customer_name, customer_address, notes,
    issue_date, due_date, amount, amount_due, ar_account, currency, exchange_rate (a draft's,
    or with a new currency; fixed once issued) and status. Amount,
    lines, customer, currency and receivable account change only while no money has been
    received (the issue entry is
    then reversed and re-posted). ``external_payment_amount`` records one offline payment
    of that amount; ``amount_due`` sent with it must be the balance that payment leaves (400
    naming ``amount_due`` otherwise, nothing changed). ``amount_due`` alone, lowered, records
    the difference as one offline payment. ``status: "void"`` voids.
    """
    _lock(invoice)
    changes = dict(changes)
    requested_status = changes.pop("status", None)
    before = invoice.status
    rate_sent = "exchange_rate" in changes
    rate = changes.pop("exchange_rate", None)
    if "currency" in changes:
        changes["currency"] = currency_validate(changes["currency"])
    _check_void_allows(invoice, changes, lines, external_payment_amount, requested_status)
    structural = _structural_changes(invoice, changes, lines)
    _rate_of_update(invoice, changes, rate_sent, rate)
    _apply_fields(invoice, changes)
    _check_update_places(invoice, changes, lines, external_payment_amount)
    lines = _new_lines(invoice, lines, changes.get("amount"))
    invoice.save()
    _repost(invoice, structural, lines)
    _issue_if_asked(invoice, requested_status)
    _offline_payments_of_update(
        invoice,
        new_due=changes.get("amount_due"),
        external_payment_amount=external_payment_amount,
        cash_account=cash_account,
    )
    if requested_status == Status.VOID:
        invoice.save()
        if invoice.status != Status.VOID:
            invoice_void(invoice=invoice)  # emits invoice.voided
        _emit(invoice, ["invoice.updated"])
        return invoice
    invoice.status = derive_status(invoice)
    invoice.save()
    _check_requested_status(invoice, requested_status)
    _emit(invoice, ["invoice.updated", *_status_events(before, invoice.status)])
    return invoice


@transaction.atomic
def invoice_delete(*, invoice: Invoice) -> None:
    """Delete an invoice that never received money; its issue entry is reversed, the
    ledger entries stay (unlinked)."""
    _lock(invoice)
    if invoice_has_moved_money(invoice):
        raise Conflict(
            f"Invoice {invoice.invoice_number} has received money and cannot be deleted; "
            "void it instead (after reversing the payments)."
        )
    if invoice.status != Status.VOID:
        _reverse_issue(invoice, f"Invoice {invoice.invoice_number} deleted")
    invoice.lines.all().delete()
    invoice.delete()


def customer_delete_hook(*, customer: Customer) -> None:
    """On ``hooks.CustomerDeleting``: delete the customer's invoices, all or none.

    Every invoice that never received money goes (its issue entry reversed, see
    ``invoice_delete``). If any invoice ever received money — an applied payment, an offline
    payment, an Aplos receive, even one later reversed — nothing is deleted and the customer
    delete is a 409: the ledger is never rewritten.
    """
    invoices = lock_objects.invoices_for_update(
        customer.organization_id,
        list(Invoice.objects.filter(customer=customer).values_list("pk", flat=True)),
    )
    moved = [invoice.invoice_number for invoice in invoices if invoice_has_moved_money(invoice)]
    if moved:
        shown = ", ".join(sorted(moved)[:5]) + (" …" if len(moved) > 5 else "")
        raise Conflict(
            f"Customer {customer.company_name} has received money on invoice(s) {shown}; "
            "a customer with payment history cannot be deleted."
        )
    for invoice in invoices:
        invoice_delete(invoice=invoice)
