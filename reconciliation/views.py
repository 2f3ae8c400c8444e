"""Clerk pages of reconciliation: the dashboard (reads every lower app) and the accounting
changes to approve, reject or retry."""

import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from arpilot.errors import ApplicationError
from arpilot.money import ZERO
from arpilot.workspace import (
    base_template,
    is_htmx,
    org_object_or_404,
    organization_today,
    paginate,
    workspace_view,
)
from payments.models import Payment
from receivables.models import Invoice
from receivables.views import aging_summary
from reconciliation import services
from reconciliation.filters import ANY_STATUS, AccountingChangeFilterSet
from reconciliation.models import AccountingChange

DSO_DAYS = 90
Status = AccountingChange.Status


def _dso(open_total: Decimal, sales: Decimal) -> Decimal | None:
    """Days sales outstanding over the last ``DSO_DAYS`` days (None without sales)."""
    if not sales:
        return None
    return (open_total / sales * DSO_DAYS).quantize(Decimal("0.1"))


@workspace_view
def dashboard(request):
    """Open AR, overdue, aging, DSO, unmatched payments and the accounting changes to act on
    (three aggregate queries, whatever the number of rows)."""
    organization = request.organization
    today = organization_today(organization)
    issued = Q(status__in=Invoice.ISSUED_STATUSES)
    summary = aging_summary(
        Invoice.objects.for_org(organization),
        today,
        sales=Sum(
            "amount",
            filter=issued & Q(issue_date__gt=today - timedelta(days=DSO_DAYS)),
            default=ZERO,
        ),
    )
    summary["dso"] = _dso(summary["open_total"], summary["sales"])
    payments = Payment.objects.for_org(organization).aggregate(
        unmatched_count=Count("id", filter=Q(status=Payment.Status.UNMATCHED)),
        unreviewed_count=Count("id", filter=Q(reviewed=False)),
    )
    # Payments come in several currencies: one total per currency, never one sum of them.
    payments["unmatched_totals"] = list(
        Payment.objects.for_org(organization)
        .filter(status=Payment.Status.UNMATCHED)
        .order_by()
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    changes = AccountingChange.objects.for_org(organization).aggregate(
        pending_count=Count("id", filter=Q(status=Status.PENDING)),
        pending_total=Sum("amount", filter=Q(status=Status.PENDING), default=ZERO),
        approved_count=Count("id", filter=Q(status=Status.APPROVED)),
        failed_count=Count("id", filter=Q(status=Status.FAILED)),
    )
    return render(
        request,
        "reconciliation/dashboard.html",
        {
            "summary": summary,
            "payments": payments,
            "changes": changes,
            "today": today,
            "dso_days": DSO_DAYS,
        },
    )


# --- Accounting changes -----------------------------------------------------------------

TABS = [
    (Status.PENDING, "Awaiting approval"),
    (Status.APPROVED, "Approved"),
    (Status.SYNCED, "Synced"),
    (Status.FAILED, "Failed"),
    (Status.REJECTED, "Rejected"),
]


def _changes(organization):
    return AccountingChange.objects.for_org(organization).select_related(
        "invoice", "customer", "payment"
    )


# The page's filters of ``AccountingChangeFilterSet`` (the API's), and what each is when
# absent or not valid: the page opens on the pending tab (the API's default is approved) and
# ignores an unknown status (``any`` included: every tab is one status) or change type.
PAGE_FILTERS = {"status": Status.PENDING, "change_type": ""}


def _change_filterset(params, queryset) -> AccountingChangeFilterSet:
    """A valid ``AccountingChangeFilterSet`` of the page's parameters of ``params``."""
    data = {name: params.get(name) or default for name, default in PAGE_FILTERS.items()}
    if data["status"] == ANY_STATUS:
        data["status"] = PAGE_FILTERS["status"]
    filterset = AccountingChangeFilterSet(data, queryset=queryset)
    if not filterset.is_valid():
        data.update({name: PAGE_FILTERS[name] for name in filterset.errors})
        filterset = AccountingChangeFilterSet(data, queryset=queryset)
        filterset.is_valid()
    return filterset


@workspace_view
def change_list(request):
    """Accounting changes of one status (tabs with counts); pending ones can be approved or
    rejected, one or many at once, failed ones retried."""
    organization = request.organization
    filterset = _change_filterset(request.GET, _changes(organization))
    status = filterset.form.cleaned_data["status"]
    counts = dict(
        AccountingChange.objects.for_org(organization)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    queryset = filterset.qs
    order = "sequence" if status in (Status.PENDING, Status.APPROVED) else "-sequence"
    page = paginate(request, queryset.order_by(order))
    return render(
        request,
        "reconciliation/change_list.html",
        {
            "status": status,
            "tabs": [(value, label, counts.get(value, 0)) for value, label in TABS],
            "page_obj": page,
            "changes": page.object_list,
            "change_type": request.GET.get("change_type", ""),
            "change_types": AccountingChange.ChangeType.choices,
        },
    )


ACTIONS = {
    "approve": ("Approved", services.changes_approve),
    "reject": ("Rejected", services.changes_reject),
    "retry": ("Queued again", services.changes_retry),
}


def _valid_uuids(values) -> list[uuid.UUID]:
    valid = []
    for value in values:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return valid


@require_POST
@workspace_view
def change_action(request):
    """Approve, reject or retry the checked changes (one or many) through the services."""
    organization = request.organization
    action = request.POST.get("action", "")
    status = request.POST.get("status") or Status.PENDING
    if action not in ACTIONS:
        messages.error(request, "Unknown action.")
        return redirect(_back(status))
    ids = _valid_uuids(request.POST.getlist("change_ids"))
    if not ids:
        messages.error(request, "Select at least one change.")
        return redirect(_back(status))
    owned = set(
        AccountingChange.objects.for_org(organization)
        .filter(pk__in=ids)
        .values_list("pk", flat=True)
    )
    if owned != set(ids):
        raise Http404("Not found.")
    verb, service = ACTIONS[action]
    kwargs = {
        "organization": organization,
        "change_ids": ids,
        "decided_by": request.user.get_username(),
    }
    if action == "reject":
        kwargs["reason"] = request.POST.get("reason", "").strip()[:500]
    try:
        result = service(**kwargs)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(_back(status))
    done = len(result.updated)
    messages.success(request, f"{verb} {done} change{'s' if done != 1 else ''}.")
    for skipped in result.skipped:
        messages.warning(request, f"Change {skipped['id'][:8]}… left alone: {skipped['reason']}.")
    return redirect(_back(status))


def _back(status: str) -> str:
    """The list the clerk acted from (the pending list for anything unexpected)."""
    if status not in Status.values:
        status = Status.PENDING
    return f"{reverse('reconciliation:changes')}?status={status}"


@workspace_view
def invoice_history(request, invoice_id):
    """An invoice's accounting changes (a panel of the invoice page)."""
    organization = request.organization
    invoice = org_object_or_404(Invoice.objects.for_org(organization), pk=invoice_id)
    changes = _changes(organization).filter(invoice=invoice).order_by("sequence")
    return render(
        request,
        "reconciliation/invoice_history.html",
        {
            "invoice": invoice,
            "changes": changes,
            "base_template": base_template(request),
            "htmx": is_htmx(request),
        },
    )
