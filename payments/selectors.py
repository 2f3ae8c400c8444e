"""Reads of payments, each with its joins declared once."""

from django.db.models import Prefetch, Q

from payments.filters import PAGE_FILTERS, PaymentFilterSet
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


def payment_queue(*, organization, params, reviewed: bool | None = None):
    """``payment_review_list`` filtered by ``PaymentFilterSet`` (the API's) with the clerk
    pages' parameters of ``params`` (a query dict; the others are ignored), newest first.

    Returns the FilterSet (its form is the page's filter bar) and the payments: none when a
    parameter is invalid."""
    data = {name: params[name] for name in PAGE_FILTERS if name in params}
    filterset = PaymentFilterSet(data, queryset=payment_review_list(organization=organization))
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    if reviewed is not None:
        queryset = queryset.filter(reviewed=reviewed)
    return filterset, queryset.order_by("-payment_date", "-created_at", "-id")


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
