"""Clerk pages of receivables: the invoice list and detail, a customer's invoices and aging."""

import csv
from datetime import date, timedelta
from itertools import chain

from django.contrib import messages
from django.db.models import Count, Prefetch, Q, Sum
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

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
from receivables.models import Invoice, JournalEntry, JournalLine

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


def aging_summary(invoices, today: date, **extra) -> dict:
    """Open and overdue totals and the aging buckets of ``invoices`` (and any ``extra``
    aggregates), in one query. Overdue is the status, as the invoice list filters it."""
    open_q = Q(status__in=Invoice.OPEN_STATUSES)
    overdue_q = Q(status=Invoice.Status.OVERDUE)
    aggregates = {
        "open_total": Sum("amount_due", filter=open_q, default=ZERO),
        "open_count": Count("id", filter=open_q),
        "overdue_total": Sum("amount_due", filter=overdue_q, default=ZERO),
        "overdue_count": Count("id", filter=overdue_q),
        **extra,
    }
    for key, *_ in AGING_BUCKETS:
        condition = open_q & aging_condition(key, today)
        aggregates[f"bucket_{key}"] = Sum("amount_due", filter=condition, default=ZERO)
        aggregates[f"count_{key}"] = Count("id", filter=condition)
    return _with_buckets(invoices.aggregate(**aggregates))


def _with_buckets(row: dict) -> dict:
    buckets = [
        {
            "key": key,
            "label": label,
            "total": row.pop(f"bucket_{key}"),
            "count": row.pop(f"count_{key}"),
        }
        for key, label, *_ in AGING_BUCKETS
    ]
    largest = max((bucket["total"] for bucket in buckets), default=ZERO)
    for bucket in buckets:
        bucket["share"] = int(bucket["total"] / largest * 100) if largest > 0 else 0
    row["buckets"] = buckets
    return row


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
            "totals": selectors.invoice_totals(queryset),
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
    summary = aging_summary(invoices, today)
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
