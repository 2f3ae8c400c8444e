"""Reads of payments, each with its joins declared once."""

from decimal import Decimal, InvalidOperation

from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)

from arpilot.money import MILL, ZERO, money_value
from payments.filters import PAGE_FILTERS, PaymentFilterSet
from payments.models import (
    MatchSuggestion,
    PayerCustomerHistory,
    Payment,
    PaymentAllocation,
    PaymentImport,
)
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
            "invoice_amount",
            "exchange_rate",
            "base_amount",
            "exchange_difference",
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


def payment_hold_rendering(payment: Payment, *, suggestions=None, allocations=None) -> None:
    """Give a payment in hand what ``payment_list`` prefetches, so the API renders it without
    reading it back: its ``suggestions`` (in rank order) and/or its active ``allocations``
    (each with its ``invoice``), ordered as ``_active_allocations`` orders them. Two
    allocations of the same amount are ordered by invoice number in the database's
    collation: then the allocations are not held and the payment is read back.

    For a payment whose rows this request wrote (``payments_match`` with ``fresh``)."""
    if suggestions is not None:
        held = MatchSuggestion.objects.none()
        held._result_cache = sorted(suggestions, key=lambda suggestion: suggestion.rank)
        held._prefetch_done = True
        cache = getattr(payment, "_prefetched_objects_cache", None)
        if cache is None:
            cache = payment._prefetched_objects_cache = {}
        cache["suggestions"] = held
    if allocations is not None:
        if len({allocation.amount for allocation in allocations}) < len(allocations):
            payment.__dict__.pop("active_allocations", None)
            return
        payment.active_allocations = sorted(allocations, key=lambda a: -a.amount)


def payment_held_for_rendering(payment: Payment) -> bool:
    """True when ``payment_hold_rendering`` gave it all the API renders."""
    cache = getattr(payment, "_prefetched_objects_cache", None) or {}
    return "suggestions" in cache and hasattr(payment, "active_allocations")


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
            .select_related("invoice", "invoice__customer")
            .order_by("invoice__invoice_number", "id"),
            to_attr="active_allocations",
        ),
        Prefetch(
            "suggestions",
            queryset=MatchSuggestion.objects.filter(rank__lte=SUGGESTIONS_SHOWN).order_by("rank"),
        ),
    )


# How the review queue may be ordered (``?order=``): unmatched payments always come first.
QUEUE_ORDERS = {
    "confidence": "best suggestion first",
    "amount": "largest amount first",
    "newest": "newest first",
}
DEFAULT_QUEUE_ORDER = "confidence"


def _queue_ordering(queryset, order: str):
    """Unmatched, then partially applied, then applied; within each by ``order``."""
    stage = Case(
        When(status=Payment.Status.UNMATCHED, then=Value(0)),
        When(status=Payment.Status.PARTIALLY_APPLIED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    newest = ["-payment_date", "-created_at", "-id"]
    if order == "amount":
        return queryset.order_by(stage, "-amount", *newest)
    if order == "confidence":
        best = MatchSuggestion.objects.filter(payment_id=OuterRef("pk"), rank=1).values("score")
        return queryset.annotate(best_score=Subquery(best[:1])).order_by(
            stage, F("best_score").desc(nulls_last=True), *newest
        )
    return queryset.order_by(stage, *newest)


def payment_queue(*, organization, params, reviewed: bool | None = None, order: str | None = None):
    """``payment_review_list`` filtered by ``PaymentFilterSet`` (the API's) with the clerk
    pages' parameters of ``params`` (a query dict; the others are ignored). Newest first;
    with an ``order`` of ``QUEUE_ORDERS``, unmatched first and then in that order.

    Returns the FilterSet (its form is the page's filter bar) and the payments: none when a
    parameter is invalid."""
    data = {name: params[name] for name in PAGE_FILTERS if name in params}
    filterset = PaymentFilterSet(data, queryset=payment_review_list(organization=organization))
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    if reviewed is not None:
        queryset = queryset.filter(reviewed=reviewed)
    if order in QUEUE_ORDERS:
        return filterset, _queue_ordering(queryset, order)
    return filterset, queryset.order_by("-payment_date", "-created_at", "-id")


def payments_unreviewed_count(*, organization) -> int:
    return Payment.objects.for_org(organization).filter(reviewed=False).count()


def payments_auto_applied_unreviewed(*, organization, ids=None):
    """Unreviewed payments that matching applied in full by itself (of ``ids``, if given):
    what the clerk may mark reviewed in bulk."""
    queryset = Payment.objects.for_org(organization).filter(
        reviewed=False, auto_applied=True, status=Payment.Status.APPLIED
    )
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    return queryset.order_by("-payment_date", "-created_at", "-id")


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
            "currency",
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


def _amount_of(term: str) -> Decimal | None:
    """``term`` read as an amount (``1,250.50``, ``$80``, ``80.5``), or None."""
    text = term.replace(",", "").replace("$", "").replace("€", "").replace("£", "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(MILL):
        return None
    return money_value(value.quantize(MILL))


def invoice_search(*, organization, term: str, limit: int):
    """Open invoices whose number or customer matches ``term``, or whose open balance or
    total equals it when it reads as an amount; soonest due first."""
    match = (
        Q(invoice_number__icontains=term)
        | Q(customer_name__icontains=term)
        | Q(customer__company_name__icontains=term)
        | Q(customer__external_id__iexact=term)
    )
    amount = _amount_of(term)
    if amount is not None:
        match |= Q(amount_due=amount) | Q(amount=amount)
    return (
        Invoice.objects.for_org(organization)
        .open()
        .filter(match)
        .select_related("customer")
        .order_by("due_date", "invoice_number")[:limit]
    )


def customer_open_items(*, organization, customer_id, limit: int):
    """The customer's open invoices with their balances, oldest due first."""
    return (
        Invoice.objects.for_org(organization)
        .open()
        .filter(customer_id=customer_id)
        .select_related("customer")
        .order_by("due_date", "invoice_number")[:limit]
    )


def payer_aliases(*, organization, customer_id=None):
    """Payer names learned per customer (how often clerks matched them), by customer."""
    queryset = PayerCustomerHistory.objects.for_org(organization).select_related("customer")
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    return queryset.order_by("customer__company_name", "customer_id", "payer_key", "id")


def customer_payment_list(*, organization, customer_id):
    """Payments with money applied (now or before) to the customer's invoices, newest first,
    each with ``to_customer``: how much of it is applied to this customer now."""
    touched = PaymentAllocation.objects.filter(
        payment=OuterRef("pk"), invoice__customer_id=customer_id
    )
    return (
        Payment.objects.for_org(organization)
        .filter(Exists(touched))
        .annotate(
            to_customer=Sum(
                "allocations__amount",
                filter=Q(
                    allocations__invoice__customer_id=customer_id,
                    allocations__unapplied_at__isnull=True,
                ),
                default=ZERO,
            )
        )
        .order_by("-payment_date", "-created_at", "id")
    )


def customer_unapplied_cash(payments) -> list[dict]:
    """What the customer's payments (``customer_payment_list``) have left unapplied, per
    currency: ``[{"currency", "total"}]``."""
    return list(
        payments.order_by()
        .values("currency")
        # as Payment.unapplied_amount
        .annotate(total=Sum(F("amount") - F("applied_amount") - F("refunded_amount")))
        .filter(total__gt=0)
        .order_by("currency")
    )
