"""Reads of payments, each with its joins declared once."""

from django.db.models import Prefetch

from payments.models import MatchSuggestion, Payment, PaymentAllocation, PaymentImport


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
