"""Clerk pages of customers: the searchable list and a customer's page."""

from decimal import ROUND_HALF_UP, Decimal
from itertools import groupby

from django.db.models import Case, Count, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Round
from django.shortcuts import render

from arpilot.currencies import currency_places
from arpilot.money import ZERO
from arpilot.workspace import org_object_or_404, paginate, workspace_view
from customers import selectors
from customers.filters import CustomerFilterSet
from customers.models import Customer


@workspace_view
def customer_list(request):
    """Customers, searchable by name or external id, filtered by tag, with what each owes
    (open balance) and how much of it is late (overdue), in the base currency at each
    invoice's booked rate, the amounts per currency listed when a customer owes in more
    than one (or in another than the base): one query more then, for the whole page."""
    organization = request.organization
    filterset = CustomerFilterSet(
        request.GET,
        queryset=_with_booked_balances(
            selectors.customer_list_with_balances(organization=organization), organization
        ),
    )
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = paginate(request, queryset.order_by("company_name", "id"))
    customers = list(page.object_list)
    _attach_currency_balances(customers, organization)
    return render(
        request,
        "customers/customer_list.html",
        {
            "filterset": filterset,
            "page_obj": page,
            "customers": customers,
            "tags": selectors.tag_list(organization=organization),
        },
    )


def _base(organization) -> str:
    return (getattr(organization, "currency", "") or "USD").upper()


BASE_MONEY = DecimalField(max_digits=24, decimal_places=3)
RATE = DecimalField(max_digits=20, decimal_places=10)


def _with_booked_balances(queryset, organization):
    """``queryset`` with each customer's open and overdue balance in the base currency (each
    open invoice's amount due at the rate it was booked at, ``Invoice.exchange_rate``, 1 in
    the base; rounded to the base's places per invoice, as the aging does), the number of
    currencies it owes in, whether one is not the base, and its open invoices with no
    booked rate (left out of the base balances). In the same query."""
    base = _base(organization)
    places = currency_places(base)
    rate = Case(
        When(invoices__currency=base, then=Value(Decimal(1))),
        default=F("invoices__exchange_rate"),
        output_field=RATE,
    )
    in_base = Round(F("invoices__amount_due") * rate, places, output_field=BASE_MONEY)
    open_q = Q(invoices__status__in=selectors.OPEN_INVOICE_STATUSES)
    overdue_q = Q(invoices__status=selectors.OVERDUE_INVOICE_STATUS)
    rated = Q(invoices__exchange_rate__isnull=False) | Q(invoices__currency=base)
    return queryset.annotate(
        booked_open_balance=Sum(in_base, filter=open_q & rated, default=ZERO),
        booked_overdue_balance=Sum(in_base, filter=overdue_q & rated, default=ZERO),
        open_currency_count=Count("invoices__currency", filter=open_q, distinct=True),
        foreign_open_count=Count("invoices", filter=open_q & ~Q(invoices__currency=base)),
        unrated_open_count=Count("invoices", filter=open_q & ~rated),
    )


def _round(amount, places: int) -> Decimal:
    """A sum as ``Decimal`` with ``places`` (SQLite sums decimals as floats: re-read)."""
    amount = ZERO if amount is None else Decimal(str(amount))
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _attach_currency_balances(customers: list, organization) -> None:
    """Round the base balances and give each customer ``open_by_currency``: ``[{currency,
    open, overdue, count}]`` (base first) when it owes in another currency than the base or
    in several, else ``[]``; one query for the page, none when no customer needs it."""
    base = _base(organization)
    places = currency_places(base)
    listed = []
    for customer in customers:
        customer.booked_open_balance = _round(customer.booked_open_balance, places)
        customer.booked_overdue_balance = _round(customer.booked_overdue_balance, places)
        customer.open_by_currency = []
        if customer.foreign_open_count or customer.open_currency_count > 1:
            listed.append(customer)
    if not listed:
        return
    open_q = Q(invoices__status__in=selectors.OPEN_INVOICE_STATUSES)
    rows = (
        Customer.objects.for_org(organization)
        .filter(open_q, pk__in=[customer.pk for customer in listed])
        .order_by()
        .values("pk", "invoices__currency")
        .annotate(
            open=Sum("invoices__amount_due", default=ZERO),
            overdue=Sum(
                "invoices__amount_due",
                filter=Q(invoices__status=selectors.OVERDUE_INVOICE_STATUS),
                default=ZERO,
            ),
            count=Count("invoices"),
        )
    )
    by_customer: dict = {}
    for row in rows:
        currency = row["invoices__currency"]
        by_customer.setdefault(row["pk"], []).append(
            {
                "currency": currency,
                "is_base": currency == base,
                "open": _round(row["open"], currency_places(currency)),
                "overdue": _round(row["overdue"], currency_places(currency)),
                "count": row["count"],
            }
        )
    for customer in listed:
        customer.open_by_currency = sorted(
            by_customer.get(customer.pk, []), key=lambda row: (not row["is_base"], row["currency"])
        )


def _with_base_balances(queryset, organization):
    """``queryset`` with each customer's open and overdue balance of its invoices in the
    organization's base currency and the count of its open invoices in another (in the same
    query): a foreign amount is never added to a base one. Those invoices count in base, at
    their booked rates, in the receivables panel's aging (customers cannot read the rates)."""
    base = (getattr(organization, "currency", "") or "USD").upper()
    open_q = Q(invoices__status__in=selectors.OPEN_INVOICE_STATUSES)
    in_base = Q(invoices__currency=base)
    return queryset.annotate(
        base_open_balance=Sum("invoices__amount_due", filter=open_q & in_base, default=ZERO),
        base_overdue_balance=Sum(
            "invoices__amount_due",
            filter=Q(invoices__status=selectors.OVERDUE_INVOICE_STATUS) & in_base,
            default=ZERO,
        ),
        other_currency_open_count=Count("invoices", filter=open_q & ~in_base),
    )


@workspace_view
def customer_detail(request, pk):
    """A customer: balances, contacts by escalation level and tags; open invoices and aging,
    payments and the activity timeline load in panels of the apps that hold them."""
    organization = request.organization
    customer = org_object_or_404(
        _with_base_balances(
            selectors.customer_list_with_balances(organization=organization), organization
        ),
        pk=pk,
    )
    contacts = list(customer.contacts.all())
    levels = [
        (level, list(group))
        for level, group in groupby(contacts, key=lambda contact: contact.escalation_level)
    ]
    return render(
        request,
        "customers/customer_detail.html",
        {"customer": customer, "levels": levels, "tags": list(customer.tags.all())},
    )
