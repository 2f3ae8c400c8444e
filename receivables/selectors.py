"""Reads of receivables, each with its joins declared once."""

from decimal import Decimal

from django.db.models import Count, Prefetch, Sum

from arpilot.compiled import CompiledInstances, CompiledRows, Slot, organization_slot
from arpilot.money import ZERO
from customers.models import Customer
from receivables.models import (
    Account,
    AplosContact,
    ExchangeRate,
    Fund,
    Invoice,
    InvoiceLine,
    InvoiceOfflinePayment,
    JournalEntry,
)
from receivables.rendering import OFFLINE_ROW_FIELDS

# Every invoice written over the API names its customer: compiled once (``arpilot.compiled``),
# read with the customer's Aplos contact (an invoice of theirs needs it: no second read).
_CUSTOMER_WITH_CONTACT = CompiledInstances(
    Customer,
    lambda organization, pk: (
        Customer.objects.for_org(organization).filter(pk__eq=pk).order_by("pk")
    ),
    organization_slot(),
    Slot("pk"),
    related=(("aplos_contact", AplosContact),),
    limit=1,
)


def customer_with_contact(*, organization, pk) -> Customer | None:
    """The organization's customer ``pk`` with its Aplos contact loaded (``None`` cached
    when it has none yet), or None."""
    found = _CUSTOMER_WITH_CONTACT.get(
        organization=getattr(organization, "pk", organization), pk=pk
    )
    return found[0] if found else None


def _lines_prefetch() -> Prefetch:
    return Prefetch(
        "lines",
        queryset=InvoiceLine.objects.select_related("account", "fund").order_by("position", "id"),
    )


def _offline_prefetch() -> Prefetch:
    return Prefetch(
        "offline_payments", queryset=InvoiceOfflinePayment.objects.order_by("created_at", "id")
    )


def invoice_list(*, organization):
    """Invoices with their customer, receivable account, lines and offline payments
    (4 queries per page)."""
    return (
        Invoice.objects.for_org(organization)
        .select_related("customer", "ar_account")
        .prefetch_related(_lines_prefetch(), _offline_prefetch())
        .order_by("-issue_date", "-created_at")
    )


INVOICE_ROW_FIELDS = (
    "id",
    "invoice_number",
    "customer_id",
    "customer_name",
    "customer_address",
    "customer__company_name",
    "customer__address",
    "currency",
    "exchange_rate",
    "amount",
    "amount_due",
    "issue_date",
    "due_date",
    "status",
    "notes",
    "ar_account_id",
    "ar_account__account_number",
    "ar_account__name",
    "created_at",
    "updated_at",
)
LINE_ROW_FIELDS = (
    "invoice_id",
    "id",
    "amount",
    "note",
    "account_id",
    "account__account_number",
    "account__name",
    "fund_id",
    "fund__name",
)


class InvoiceRows:
    """A filtered invoice queryset read as tuples of INVOICE_ROW_FIELDS, for the paginator.

    The list endpoint reads rows, not model instances: building 600 instances per page of
    100 cost more than the queries (see bench/README.md). ``count()`` runs on the filtered
    queryset alone, without the joins the page needs.
    """

    def __init__(self, queryset):
        self.queryset = queryset

    def count(self) -> int:
        return self.queryset.order_by().count()

    def __getitem__(self, index):
        return self.queryset.prefetch_related(None).values_list(*INVOICE_ROW_FIELDS)[index]


def invoice_rows(queryset) -> InvoiceRows:
    return InvoiceRows(queryset)


def _rows_by_invoice(model, fields, order) -> CompiledRows:
    """Rows of ``model`` for a page of invoice ids as tuples of ``fields`` (the invoice id
    first), in ``order``: one statement compiled once (``arpilot.compiled``)."""
    return CompiledRows(
        model,
        lambda ids: model.objects.filter(invoice_id__any=ids).order_by(*order).values_list(*fields),
        Slot("ids"),
    )


_LINE_ROWS = _rows_by_invoice(InvoiceLine, LINE_ROW_FIELDS, ("position", "id"))
_OFFLINE_ROWS = _rows_by_invoice(InvoiceOfflinePayment, OFFLINE_ROW_FIELDS, ("created_at", "id"))


def _by_invoice(rows) -> dict:
    by_invoice: dict = {}
    for row in rows:
        by_invoice.setdefault(row[0], []).append(row)
    return by_invoice


def invoice_line_rows(invoice_ids) -> dict:
    """The lines of ``invoice_ids`` as tuples of LINE_ROW_FIELDS, by invoice id."""
    return _by_invoice(_LINE_ROWS.rows(ids=list(invoice_ids)))


def invoice_offline_rows(invoice_ids) -> dict:
    """The offline payments of ``invoice_ids`` as tuples of OFFLINE_ROW_FIELDS, by invoice."""
    return _by_invoice(_OFFLINE_ROWS.rows(ids=list(invoice_ids)))


def invoice_get(*, organization, pk) -> Invoice:
    return invoice_list(organization=organization).get(pk=pk)


def invoices_by_ids(ids) -> list[Invoice]:
    """Invoices of any organization by id (for tasks; callers pass ids they own)."""
    return list(
        Invoice.objects.filter(pk__in=list(ids))
        .select_related("customer", "ar_account")
        .prefetch_related(_lines_prefetch(), _offline_prefetch())
    )


def aplos_receivable_list(*, organization, with_lines: bool = True):
    """Invoices as the Aplos face shows them, in id order (lists carry no lines).

    Only those in the organization's base currency: Aplos has no currency, so an invoice
    in another would show a foreign amount as if it were base money (list, search and
    detail leave it out; by id it is a 404)."""
    queryset = (
        Invoice.objects.for_org(organization)
        .filter(currency=(organization.currency or "USD").upper())
        .select_related("customer", "customer__aplos_contact", "ar_account")
        .order_by("aplos_id")
    )
    return queryset.prefetch_related(_lines_prefetch()) if with_lines else queryset


def exchange_rate_list(*, organization):
    """The organization's exchange rates, by currency, newest date first."""
    return ExchangeRate.objects.for_org(organization).order_by("currency", "-date")


def rate_on(organization, currency: str, day):
    """The rate (base per unit) of ``currency`` on ``day``: the latest recorded on or before
    it; 1 for the base currency; None when the table has none (one query, on the unique
    index)."""
    currency = (currency or "").upper()
    if currency == (organization.currency or "USD").upper():
        return Decimal(1)
    return (
        ExchangeRate.objects.for_org(organization)
        .filter(currency=currency, date__lte=day)
        .order_by("-date")
        .values_list("rate", flat=True)
        .first()
    )


def account_list(*, organization):
    return Account.objects.for_org(organization).order_by("account_number")


def fund_list(*, organization):
    return Fund.objects.for_org(organization).order_by("id")


def invoice_totals(queryset) -> dict:
    """How many invoices ``queryset`` holds and their amount and amount due, in one query."""
    return queryset.order_by().aggregate(
        count=Count("id"),
        amount=Sum("amount", default=ZERO),
        amount_due=Sum("amount_due", default=ZERO),
    )


INVOICE_CSV_COLUMNS = (
    ("Invoice", "invoice_number"),
    ("Customer", "rendered_customer_name"),
    ("Customer ID", "customer__external_id"),
    ("Issued", "issue_date"),
    ("Due", "due_date"),
    ("Amount", "amount"),
    ("Amount due", "amount_due"),
    ("Status", "status"),
    ("Notes", "notes"),
)


def invoice_csv_rows(queryset, *, chunk_size: int = 2000):
    """The invoices of ``queryset`` as tuples of INVOICE_CSV_COLUMNS' values, read in chunks
    (the customer's name is the invoice's own when it has one)."""
    fields = [
        "invoice_number",
        "customer_name",
        "customer__company_name",
        "customer__external_id",
        "issue_date",
        "due_date",
        "amount",
        "amount_due",
        "status",
        "notes",
    ]
    rows = queryset.prefetch_related(None).values_list(*fields).iterator(chunk_size=chunk_size)
    for number, name, company, external_id, *rest in rows:
        yield (number, name or company, external_id, *rest)


# (kind, source) → what the clerk reads; any other source of a payment is an offline payment.
ACTIVITY_LABELS = {
    (JournalEntry.Kind.ISSUE, "invoice"): "Invoice issued",
    (JournalEntry.Kind.ISSUE_REVERSAL, "invoice"): "Invoice changed or voided",
    (JournalEntry.Kind.PAYMENT, "payment"): "Payment applied",
    (JournalEntry.Kind.PAYMENT_REVERSAL, "payment"): "Payment unapplied",
    (JournalEntry.Kind.PAYMENT, "write_off"): "Short-payment written off",
    (JournalEntry.Kind.PAYMENT_REVERSAL, "write_off"): "Write-off reversed",
}
OFFLINE_ACTIVITY_LABELS = {
    JournalEntry.Kind.PAYMENT: "Offline payment",
    JournalEntry.Kind.PAYMENT_REVERSAL: "Offline payment reversed",
    JournalEntry.Kind.ISSUE: "Invoice issued",
    JournalEntry.Kind.ISSUE_REVERSAL: "Invoice changed or voided",
}


def activity_label(kind: str, source: str) -> str:
    return ACTIVITY_LABELS.get((kind, source)) or OFFLINE_ACTIVITY_LABELS.get(kind, kind)


def customer_activity(*, organization, customer_id):
    """A customer's ledger entries, newest first, each with its invoice and its amount
    (the entry's debits): invoices issued and changed, payments applied and unapplied,
    write-offs, offline payments and their reversals. One query per page."""
    return (
        JournalEntry.objects.for_org(organization)
        .filter(invoice__customer_id=customer_id)
        .select_related("invoice")
        .only("id", "date", "kind", "source", "memo", "created_at", "invoice__invoice_number")
        .annotate(total=Sum("lines__debit", default=ZERO))
        .order_by("-date", "-created_at", "-id")
    )
