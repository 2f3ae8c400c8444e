"""Reads of payments, each with its joins declared once."""

from django.db.models import Prefetch, Q

from payments.models import MatchSuggestion, Payment, PaymentAllocation, PaymentImport
from receivables.models import Invoice

# Suggestions a clerk page shows per payment.
SUGGESTIONS_SHOWN = 3


def _active_allocations() -> Prefetch:
    return Prefetch(
        "allocations",
        queryset=PaymentAllocation.objects.filter(unapplied_at__isnull=True)
        .select_related("invoice")
        .only(
            "id",
            "payment_id",
            "invoice_id",
            "invoice__invoice_number",
            "amount",
            "write_off_amount",
            "applied_by",
        )
        .order_by("-amount", "invoice__invoice_number"),
        to_attr="active_allocations",
    )


def _suggestions() -> Prefetch:
    return Prefetch("suggestions", queryset=MatchSuggestion.objects.order_by("rank"))


def payment_list(*, organization):
    """Payments, newest first, with active allocations and suggestions (4 queries a page)."""
    return (
        Payment.objects.for_org(organization)
        .prefetch_related(_active_allocations(), _suggestions())
        .order_by("-payment_date", "-created_at", "-id")
    )


def payment_get(*, organization, pk) -> Payment:
    return payment_list(organization=organization).get(pk=pk)


def payment_import_list(*, organization):
    return PaymentImport.objects.for_org(organization).defer("data").order_by("-created_at")


# --- the clerk pages --------------------------------------------------------------------------


def payment_review_list(*, organization):
    """Payments as the clerk pages show them: with their active allocations (and those
    invoices' balances) and their first suggestions; three queries for any number."""
    return Payment.objects.for_org(organization).prefetch_related(
        Prefetch(
            "allocations",
            queryset=PaymentAllocation.objects.filter(unapplied_at__isnull=True)
            .select_related("invoice")
            .order_by("invoice__invoice_number", "id"),
            to_attr="active_allocations",
        ),
        Prefetch(
            "suggestions",
            queryset=MatchSuggestion.objects.filter(rank__lte=SUGGESTIONS_SHOWN).order_by("rank"),
        ),
    )


def payment_queue(*, organization, filters: dict | None, reviewed: bool | None = None):
    """``payment_review_list`` filtered (``filters``: a valid ``QueueFilterForm``'s cleaned
    data; None, an invalid one: nothing), newest first."""
    queryset = payment_review_list(organization=organization)
    queryset = queryset.none() if filters is None else _queue_filter(queryset, filters)
    if reviewed is not None:
        queryset = queryset.filter(reviewed=reviewed)
    return queryset.order_by("-payment_date", "-created_at", "-id")


def _queue_filter(queryset, filters: dict):
    term = filters["search"].strip()
    if term:
        queryset = queryset.filter(
            Q(payer_name__icontains=term)
            | Q(payer_reference__icontains=term)
            | Q(external_payment_id__icontains=term)
        )
    if filters["status"]:
        queryset = queryset.filter(status=filters["status"])
    if filters["auto_applied"]:
        queryset = queryset.filter(auto_applied=filters["auto_applied"] == "true")
    if filters["import_id"]:
        queryset = queryset.filter(payment_import_id=filters["import_id"])
    return queryset


def payment_allocation_history(*, organization, payment):
    """Every allocation of the payment, unapplied ones too, oldest first."""
    return (
        PaymentAllocation.objects.for_org(organization)
        .filter(payment=payment)
        .select_related("invoice")
        .order_by("created_at", "id")
    )


def invoice_allocation_history(*, organization, invoice):
    """Every allocation to the invoice, unapplied ones too, oldest first."""
    return (
        PaymentAllocation.objects.for_org(organization)
        .filter(invoice=invoice)
        .select_related("payment")
        .order_by("created_at", "id")
    )


def invoices_suggested(*, organization, ids) -> dict:
    """{str(pk): invoice} of suggested invoices, with what a queue row shows of them."""
    if not ids:
        return {}
    return {
        str(invoice.pk): invoice
        for invoice in Invoice.objects.for_org(organization)
        .filter(pk__in=list(ids))
        .select_related("customer")
        .only(
            "id",
            "invoice_number",
            "amount_due",
            "status",
            "customer_name",
            "customer__company_name",
        )
    }


def invoice_states(*, organization, ids) -> dict:
    """{pk: invoice} with number, amount due and status only."""
    return {
        invoice.pk: invoice
        for invoice in Invoice.objects.for_org(organization)
        .filter(pk__in=list(ids))
        .only("id", "invoice_number", "amount_due", "status")
    }


def invoice_search(*, organization, term: str, limit: int):
    """Open invoices whose number or customer matches ``term``, soonest due first."""
    return (
        Invoice.objects.for_org(organization)
        .open()
        .filter(
            Q(invoice_number__icontains=term)
            | Q(customer_name__icontains=term)
            | Q(customer__company_name__icontains=term)
            | Q(customer__external_id__iexact=term)
        )
        .select_related("customer")
        .order_by("due_date", "invoice_number")[:limit]
    )
