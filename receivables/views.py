"""Clerk pages of receivables: the invoice list and detail, a customer's invoices and aging."""

import csv
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain

from django.contrib import messages
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from arpilot.currencies import currency_places
from arpilot.errors import ApplicationError
from arpilot.money import ZERO
from arpilot.workspace import (
    base_template,
    org_object_or_404,
    organization_today,
    paginate,
    workspace_view,
)
from customers.models import Customer
from receivables import selectors, services
from receivables.filters import InvoiceFilterSet
from receivables.forms import (
    DEFAULT_ORDER,
    active_filters,
    filter_errors,
    invoice_sort,
    sort_columns,
)
from receivables.models import ExchangeRate, Invoice, JournalEntry, JournalLine

# (key, label, oldest days past due, newest days past due); None = open-ended.
AGING_BUCKETS = [
    ("current", "Current", None, 0),
    ("1-30", "1\u201330 days", 1, 30),
    ("31-60", "31\u201360 days", 31, 60),
    ("61-90", "61\u201390 days", 61, 90),
    ("90+", "90+ days", 91, None),
]
AGING_KEYS = {key for key, *_ in AGING_BUCKETS}


def aging_condition(key: str, today: date) -> Q:
    """Which open invoices are ``key`` days past due on ``today`` (by due date)."""
    for bucket, _label, first, last in AGING_BUCKETS:
        if bucket != key:
            continue
        if key == "current":
            return Q(due_date__gte=today)
        condition = Q(due_date__lte=today - timedelta(days=first))
        if last is not None:
            condition &= Q(due_date__gte=today - timedelta(days=last))
        return condition
    raise KeyError(key)


def base_currency(organization) -> str:
    """The organization's base currency (ISO 4217, upper-case)."""
    return (getattr(organization, "currency", "") or "USD").upper()


RATE_FIELD = DecimalField(max_digits=20, decimal_places=10)
BASE_MONEY = DecimalField(max_digits=24, decimal_places=3)


def booked_rate(organization, prefix: str = ""):
    """The base-currency rate an invoice was booked at, as an SQL expression: 1 in the base
    currency, else ``Invoice.exchange_rate``, else the organization's rate table (the latest
    on or before the issue date); null when there is none. ``prefix`` reaches the invoice
    through a relation (``"invoice__"``)."""
    table = (
        ExchangeRate.objects.for_org(organization)
        .filter(
            currency=OuterRef(f"{prefix}currency"),
            date__lte=OuterRef(f"{prefix}issue_date"),
        )
        .order_by("-date")
        .values("rate")[:1]
    )
    return Case(
        When(**{f"{prefix}currency": base_currency(organization)}, then=Value(Decimal(1))),
        default=Coalesce(F(f"{prefix}exchange_rate"), Subquery(table)),
        output_field=RATE_FIELD,
    )


def in_base(amount_field: str, rate_field: str, places: int):
    """``amount * rate`` rounded to the base currency's places, per row."""
    return Round(F(amount_field) * F(rate_field), places, output_field=BASE_MONEY)


def round_base(amount: Decimal | None, places: int) -> Decimal:
    """A sum of base amounts as ``Decimal`` with the base's places (ROUND_HALF_UP; SQLite sums
    decimals as floats, so the sum is re-read through its text)."""
    amount = ZERO if amount is None else Decimal(str(amount))
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _aging_figures(today: date, sales_since: date | None) -> dict[str, tuple[str, Q]]:
    """Each figure of the aging summary: (amount field, which invoices)."""
    open_q = Q(status__in=Invoice.OPEN_STATUSES)
    figures = {
        "open": ("amount_due", open_q),
        "overdue": ("amount_due", Q(status=Invoice.Status.OVERDUE)),
        **{
            f"bucket_{key}": ("amount_due", open_q & aging_condition(key, today))
            for key, *_ in AGING_BUCKETS
        },
    }
    if sales_since is not None:
        issued = Q(status__in=Invoice.ISSUED_STATUSES) & Q(issue_date__gt=sales_since)
        figures["sales"] = ("amount", issued)
    return figures


def _per_currency_rows(invoices, organization, figures, places: int) -> list[dict]:
    """One row per currency of ``invoices``: each figure's total in that currency, in base
    (of the invoices with a rate) and its count, and the open invoices with no rate (one
    query, a row per currency)."""
    rated = Q(base_rate__isnull=False)
    aggregates = {}
    for name, (field, condition) in figures.items():
        aggregates[f"{name}_total"] = Sum(field, filter=condition, default=ZERO)
        aggregates[f"{name}_base"] = Sum(
            in_base(field, "base_rate", places), filter=condition & rated, default=ZERO
        )
        aggregates[f"{name}_count"] = Count("id", filter=condition)
    open_q = figures["open"][1]
    aggregates["unrated_count"] = Count("id", filter=open_q & ~rated)
    aggregates["unrated_total"] = Sum("amount_due", filter=open_q & ~rated, default=ZERO)
    return list(
        invoices.order_by()
        .annotate(base_rate=booked_rate(organization))
        .values("currency")
        .annotate(**aggregates)
        .order_by("currency")
    )


def _buckets(totals: dict, counts: dict) -> list[dict]:
    buckets = [
        {"key": key, "label": label, "total": totals[key], "count": counts[key]}
        for key, label, *_ in AGING_BUCKETS
    ]
    largest = max((bucket["total"] for bucket in buckets), default=ZERO)
    for bucket in buckets:
        bucket["share"] = int(bucket["total"] / largest * 100) if largest > 0 else 0
    return buckets


def _currency_row(row: dict, base: str, places: int) -> dict:
    """A currency's figures: in its own currency, and the open ones in base."""
    own_places = currency_places(row["currency"])

    def own(amount):
        return round_base(amount, own_places)

    keys = [key for key, *_ in AGING_BUCKETS]
    return {
        "currency": row["currency"],
        "is_base": row["currency"] == base,
        "open_total": own(row["open_total"]),
        "open_count": row["open_count"],
        "open_base": round_base(row["open_base"], places),
        "overdue_total": own(row["overdue_total"]),
        "overdue_count": row["overdue_count"],
        "overdue_base": round_base(row["overdue_base"], places),
        "buckets": _buckets(
            {key: own(row[f"bucket_{key}_total"]) for key in keys},
            {key: row[f"bucket_{key}_count"] for key in keys},
        ),
        "unrated_count": row["unrated_count"],
        "unrated_total": own(row["unrated_total"]),
    }


def aging_summary(invoices, today: date, *, organization, sales_since: date | None = None) -> dict:
    """Open and overdue totals and the aging buckets of ``invoices`` in the organization's
    base currency (each invoice's amount due times the rate it was booked at, rounded to the
    base's places), with the same figures per currency (``currencies``), in one query
    whatever the number of invoices or currencies. An open invoice in another currency with
    no rate is counted but left out of the base totals (``unrated``). With ``sales_since``,
    ``sales`` is what was issued after that day, in base. Overdue is the status, as the
    invoice list filters it."""
    base = base_currency(organization)
    places = currency_places(base)
    figures = _aging_figures(today, sales_since)
    rows = _per_currency_rows(invoices, organization, figures, places)

    def total(name: str) -> Decimal:
        return round_base(sum((row[f"{name}_base"] or ZERO for row in rows), ZERO), places)

    def count(name: str) -> int:
        return sum(row[f"{name}_count"] for row in rows)

    keys = [key for key, *_ in AGING_BUCKETS]
    currencies = sorted(
        (_currency_row(row, base, places) for row in rows if row["open_count"]),
        key=lambda row: (not row["is_base"], row["currency"]),
    )
    summary = {
        "currency": base,
        "open_total": total("open"),
        "open_count": count("open"),
        "overdue_total": total("overdue"),
        "overdue_count": count("overdue"),
        "buckets": _buckets(
            {key: total(f"bucket_{key}") for key in keys},
            {key: count(f"bucket_{key}") for key in keys},
        ),
        "currencies": currencies,
        "foreign": any(not row["is_base"] for row in currencies),
        "unrated": [row for row in currencies if row["unrated_count"]],
        "unrated_count": sum(row["unrated_count"] for row in currencies),
    }
    if sales_since is not None:
        summary["sales"] = total("sales")
    return summary


def invoice_totals(queryset, organization) -> dict:
    """How many invoices ``queryset`` holds and their amount and amount due in the base
    currency (each at its booked rate; those with no rate left out and counted in
    ``unrated_count``), with the same per currency (one query, a row per currency)."""
    base = base_currency(organization)
    places = currency_places(base)
    rated = Q(base_rate__isnull=False)
    rows = list(
        queryset.order_by()
        .annotate(base_rate=booked_rate(organization))
        .values("currency")
        .annotate(
            count=Count("id"),
            own_amount=Sum("amount", default=ZERO),
            own_amount_due=Sum("amount_due", default=ZERO),
            amount_base=Sum(in_base("amount", "base_rate", places), filter=rated, default=ZERO),
            amount_due_base=Sum(
                in_base("amount_due", "base_rate", places), filter=rated, default=ZERO
            ),
            unrated_count=Count("id", filter=~rated),
        )
        .order_by("currency")
    )
    currencies = sorted(
        (
            {
                "currency": row["currency"],
                "is_base": row["currency"] == base,
                "count": row["count"],
                "amount": round_base(row["own_amount"], currency_places(row["currency"])),
                "amount_due": round_base(row["own_amount_due"], currency_places(row["currency"])),
                "unrated_count": row["unrated_count"],
            }
            for row in rows
        ),
        key=lambda row: (not row["is_base"], row["currency"]),
    )
    return {
        "currency": base,
        "count": sum(row["count"] for row in rows),
        "amount": round_base(sum((row["amount_base"] for row in rows), ZERO), places),
        "amount_due": round_base(sum((row["amount_due_base"] for row in rows), ZERO), places),
        "currencies": currencies,
        "foreign": any(not row["is_base"] for row in currencies),
        "unrated_count": sum(row["unrated_count"] for row in rows),
    }


def _filtered_invoices(request):
    """The FilterSet, the organization's invoices it and ``?aging=``/``?open=1`` select
    (none while a filter is invalid), and the aging key."""
    organization = request.organization
    filterset = InvoiceFilterSet(
        request.GET,
        queryset=Invoice.objects.for_org(organization).select_related("customer"),
    )
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    aging = request.GET.get("aging", "")
    if aging in AGING_KEYS:
        today = organization_today(organization)
        queryset = queryset.open().filter(aging_condition(aging, today))
    elif request.GET.get("open") == "1":
        queryset = queryset.open()
    return filterset, queryset.order_by(*DEFAULT_ORDER), aging


def _filter_chips(request, filterset) -> list[dict]:
    """The filters in force, the customer named (one query, only when filtered by one)."""
    describe = {
        "status": dict(Invoice.Status.choices),
        "aging": {key: label for key, label, *_ in AGING_BUCKETS},
    }
    customer_id = filterset.form.cleaned_data.get("customer_id") if filterset.is_valid() else None
    if customer_id:
        names = Customer.objects.for_org(request.organization).filter(pk=customer_id)
        describe["customer_id"] = {
            str(pk): name for pk, name in names.values_list("pk", "company_name")
        }
    return active_filters(request.GET, describe=describe)


@workspace_view
def invoice_list(request):
    """Invoices, searchable and filtered by status, customer, dates, amount and aging,
    sortable by each column, with the totals of all that match. A filter that cannot be
    read lists nothing and says which, in words (the page itself is fine: a 200)."""
    filterset, queryset, aging = _filtered_invoices(request)
    sort = invoice_sort(request.GET.get("sort", ""))
    page = paginate(request, queryset.order_by(*sort.ordering()))
    errors = filter_errors(filterset)
    export_query = request.GET.copy()
    export_query.pop("page", None)
    return render(
        request,
        "receivables/invoice_list.html",
        {
            "filterset": filterset,
            "filter_errors": errors,
            "error_fields": {error["field"] for error in errors},
            "chips": _filter_chips(request, filterset),
            "sort": sort,
            "columns": {c["key"]: c for c in sort_columns(request.GET, sort)},
            "totals": invoice_totals(queryset, request.organization),
            "export_query": export_query.urlencode(),
            "page_obj": page,
            "invoices": page.object_list,
            "aging": aging,
            "aging_buckets": AGING_BUCKETS,
            "statuses": Invoice.Status.choices,
            "today": organization_today(request.organization),
        },
    )


# A cell starting with one of these is a formula to a spreadsheet (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """``value`` as CSV text a spreadsheet will not run: a leading formula character gets
    a ``'`` before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


class _Echo:
    """A file whose ``write`` hands back the line, for ``csv.writer`` feeding a stream."""

    def write(self, value):
        return value


@workspace_view
def invoice_export(request):
    """The invoices the list's filters select (every page, in its sort order), as CSV,
    streamed; a bad filter is a 400 naming the field."""
    filterset, queryset, _ = _filtered_invoices(request)
    errors = filter_errors(filterset)
    if errors:
        return HttpResponse(
            "\n".join(error["text"] for error in errors) + "\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    sort = invoice_sort(request.GET.get("sort", ""))
    writer = csv.writer(_Echo())
    header = [label for label, _ in selectors.INVOICE_CSV_COLUMNS]
    rows = selectors.invoice_csv_rows(queryset.order_by(*sort.ordering()))
    lines = chain(
        [writer.writerow(header)],
        (writer.writerow([csv_cell(value) for value in row]) for row in rows),
    )
    today = organization_today(request.organization).isoformat()
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="invoices-{today}.csv"'
    return response


@workspace_view
def invoice_detail(request, pk):
    """An invoice: its lines, money received and ledger entries (payments and history load
    from the payments and reconciliation pages into their panels)."""
    organization = request.organization
    invoice = org_object_or_404(selectors.invoice_list(organization=organization), pk=pk)
    entries = (
        JournalEntry.objects.for_org(organization)
        .filter(invoice=invoice)
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=JournalLine.objects.select_related("account", "fund").order_by("id"),
            )
        )
        .order_by("created_at", "id")
    )
    offline = invoice.offline_payments.all()  # prefetched by the selector, oldest first
    return render(
        request,
        "receivables/invoice_detail.html",
        {
            "invoice": invoice,
            "entries": entries,
            "offline_payments": offline,
            "today": organization_today(organization),
        },
    )


@require_POST
@workspace_view
def offline_payment_reverse(request, pk, payment_id):
    """Reverse a mistaken offline payment of the invoice (a reason is required); the clerk's
    user name is recorded as who reversed it."""
    organization = request.organization
    invoice = org_object_or_404(Invoice.objects.for_org(organization), pk=pk)
    try:
        payment = services.invoice_offline_payment_reverse(
            invoice=invoice,
            offline_payment_id=payment_id,
            reason=request.POST.get("reason", ""),
            reversed_by=request.user.get_username(),
        )
    except ApplicationError as exc:
        details = [text for texts in exc.fields.values() for text in texts]
        messages.error(
            request,
            f"{exc.message} ({' '.join(details)})" if details else exc.message,
        )
    else:
        messages.success(request, f"Offline payment of {payment.amount} reversed.")
    return redirect(reverse("receivables:invoice", args=[invoice.pk]))


@workspace_view
def customer_receivables(request, customer_id):
    """A customer's open invoices and aging (a panel of the customer page)."""
    organization = request.organization
    customer = org_object_or_404(Customer.objects.for_org(organization), pk=customer_id)
    today = organization_today(organization)
    invoices = Invoice.objects.for_org(organization).filter(customer=customer)
    summary = aging_summary(invoices, today, organization=organization)
    open_invoices = invoices.open().order_by("due_date", "invoice_number")[:100]
    return render(
        request,
        "receivables/customer_receivables.html",
        {
            "customer": customer,
            "summary": summary,
            "open_invoices": open_invoices,
            "today": today,
            "base_template": base_template(request),
        },
    )


@workspace_view
def customer_activity(request, customer_id):
    """A customer's activity, newest first, from its ledger entries (a panel of the customer
    page): invoices issued and changed, payments applied and unapplied, write-offs, offline
    payments; 25 a page."""
    organization = request.organization
    customer = org_object_or_404(Customer.objects.for_org(organization), pk=customer_id)
    page = paginate(
        request,
        selectors.customer_activity(organization=organization, customer_id=customer.pk),
        per_page=25,
    )
    for entry in page.object_list:
        entry.label = selectors.activity_label(entry.kind, entry.source)
    return render(
        request,
        "receivables/customer_activity.html",
        {
            "customer": customer,
            "page_obj": page,
            "entries": page.object_list,
            "base_template": base_template(request),
        },
    )
