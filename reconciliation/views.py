"""Clerk pages of reconciliation: the dashboard (reads every lower app) and the accounting
changes to approve, reject or retry."""

import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from arpilot.errors import ApplicationError
from arpilot.templatetags.money import format_money
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
from reconciliation import selectors, services
from reconciliation.dashboard import change_summary_rows
from reconciliation.filters import ANY_STATUS, AccountingChangeFilterSet
from reconciliation.models import AccountingChange

DSO_DAYS = 90
Status = AccountingChange.Status


def _dso(open_total: Decimal, sales: Decimal) -> Decimal | None:
    """Days sales outstanding over the last ``DSO_DAYS`` days (None without sales)."""
    if not sales:
        return None
    return (open_total / sales * DSO_DAYS).quantize(Decimal("0.1"))


# Kinds of change the dashboard counts apart: money never adds up across them.
PAYMENT_KINDS = {
    AccountingChange.ChangeType.PAYMENT_APPLIED,
    AccountingChange.ChangeType.PAYMENT_UNAPPLIED,
    AccountingChange.ChangeType.OFFLINE_PAYMENT,
    AccountingChange.ChangeType.WRITE_OFF,
}


def _change_summary(rows: list[dict]) -> dict:
    """The dashboard's accounting-change figures: pending ones per type (count and amount,
    never one sum of invoices and payments), approved and failed counts."""
    labels = dict(AccountingChange.ChangeType.choices)
    pending = [
        {
            "change_type": row["change_type"],
            "label": labels.get(row["change_type"], row["change_type"]),
            "count": row["pending_count"],
            "total": row["pending_total"],
            # In base (``reconciliation.dashboard``), with the amounts per currency.
            "currencies": row.get("currencies", []),
            "foreign": row.get("foreign", False),
            "unrated_count": row.get("unrated_count", 0),
        }
        for row in rows
        if row["pending_count"]
    ]
    return {
        "pending_count": sum(row["count"] for row in pending),
        "pending_payment_count": sum(
            row["count"] for row in pending if row["change_type"] in PAYMENT_KINDS
        ),
        "pending_invoice_count": sum(
            row["count"] for row in pending if row["change_type"] not in PAYMENT_KINDS
        ),
        "pending_by_type": pending,
        "approved_count": sum(row["approved_count"] for row in rows),
        "failed_count": sum(row["failed_count"] for row in rows),
    }


@workspace_view
def dashboard(request):
    """Open AR, overdue, aging, DSO, unmatched payments and the accounting changes to act on
    (three aggregate queries, whatever the number of rows)."""
    organization = request.organization
    today = organization_today(organization)
    # In the base currency (each invoice at its booked rate), with the figures per currency.
    summary = aging_summary(
        Invoice.objects.for_org(organization),
        today,
        organization=organization,
        sales_since=today - timedelta(days=DSO_DAYS),
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
    changes = _change_summary(change_summary_rows(organization=organization))
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
    return selectors.change_page_list(organization=organization)


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


def _sync_notice(organization) -> str:
    """Why approved changes will not be pushed to a ledger (no target, or one disabled);
    empty when a sync target takes them."""
    target = selectors.sync_target_get(organization=organization)
    if target is None:
        return (
            "No sync target is configured: approved changes stay here, approved, until an "
            "integration pulls them through the API (GET /api/v1/reconciliation/changes) "
            "or an admin sets a sync target."
        )
    if not target.enabled:
        return (
            "The sync target is disabled: approved changes are not pushed to the ledger "
            "until an admin enables it (or an integration pulls them through the API)."
        )
    return ""


@workspace_view
def change_list(request):
    """Accounting changes of one status (tabs with counts); pending ones can be approved or
    rejected, one or many at once, failed ones retried. Each shows its payment and payer
    and the ledger lines it posts."""
    organization = request.organization
    filterset = _change_filterset(request.GET, _changes(organization))
    status = filterset.form.cleaned_data["status"]
    change_type = filterset.form.cleaned_data.get("change_type") or ""
    # The tabs keep the type filter, so their counts are of that type too.
    counted = AccountingChange.objects.for_org(organization)
    if change_type:
        counted = counted.filter(change_type=change_type)
    counts = dict(counted.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    queryset = filterset.qs
    order = "sequence" if status in (Status.PENDING, Status.APPROVED) else "-sequence"
    page = paginate(request, queryset.order_by(order))
    type_query = f"&change_type={change_type}" if change_type else ""
    return render(
        request,
        "reconciliation/change_list.html",
        {
            "status": status,
            "tabs": [(value, label, counts.get(value, 0)) for value, label in TABS],
            "page_obj": page,
            "changes": page.object_list,
            "change_type": change_type,
            "change_types": AccountingChange.ChangeType.choices,
            "type_query": type_query,
            "sync_notice": _sync_notice(organization),
        },
    )


ACTIONS = {
    "approve": ("Approved", services.changes_approve),
    "reject": ("Rejected", services.changes_reject),
    "retry": ("Queued again", services.changes_retry),
}
REASON_MAX = 500
REASON_REQUIRED = "Give a reason for rejecting: it is kept with the changes and shown to others."


def _valid_uuids(values) -> list[uuid.UUID]:
    valid = []
    for value in values:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return valid


def _list_state(data) -> tuple[str, str]:
    """The tab and change-type filter the clerk acted from (safe defaults otherwise)."""
    status = data.get("status") or Status.PENDING
    if status not in Status.values:
        status = Status.PENDING
    change_type = data.get("change_type") or ""
    if change_type not in AccountingChange.ChangeType.values:
        change_type = ""
    return status, change_type


def _selected_changes(request) -> list[AccountingChange] | None:
    """The checked changes of the clerk's organization, in request order (None when none
    was checked); 404 when one is not the organization's."""
    ids = _valid_uuids(request.POST.getlist("change_ids"))
    if not ids:
        return None
    found = _changes(request.organization).in_bulk(ids)
    if set(found) != set(ids):
        raise Http404("Not found.")
    return [found[change_id] for change_id in dict.fromkeys(ids)]


def _payer(change: AccountingChange) -> str:
    if change.payment_id and change.payment is not None and change.payment.payer_name:
        return change.payment.payer_name
    return change.payload.get("payer_name") or "an unnamed payer"


def _invoice_number(change: AccountingChange) -> str:
    if change.invoice_id and change.invoice is not None:
        return change.invoice.invoice_number
    return change.payload.get("invoice_number") or "its invoice"


def reject_effect(change: AccountingChange, currency: str) -> tuple[str, str]:
    """What rejecting ``change`` undoes in ARPilot: (before: what it will do, after: what
    it did; empty when nothing in ARPilot moves)."""
    ChangeType = AccountingChange.ChangeType
    amount = format_money(change.amount, currency)
    invoice = _invoice_number(change)
    if change.change_type == ChangeType.PAYMENT_APPLIED:
        payer = _payer(change)
        return (
            f"Unapplies {amount} of the payment from {payer} from invoice {invoice}: the "
            "invoice owes it again and the payment goes back to the review queue.",
            f"payment from {payer} unapplied from {invoice} ({amount})",
        )
    if change.change_type == ChangeType.OFFLINE_PAYMENT:
        return (
            f"Reverses the offline payment of {amount} on invoice {invoice}: the invoice "
            "owes it again.",
            f"offline payment of {amount} on {invoice} reversed",
        )
    if change.change_type == ChangeType.CREDIT_NOTE or (
        change.change_type == ChangeType.WRITE_OFF and change.payload.get("adjustment")
    ):
        return (
            f"Not rejected: invoice {invoice}'s balance was already lowered by {amount} in "
            "ARPilot (a dispute's resolution); approve it so the ledger follows. It will be "
            "left alone.",
            "",
        )
    if change.change_type == ChangeType.WRITE_OFF:
        return (
            "Not rejected on its own: a write-off goes with the payment application it "
            "belongs to (reject that one). It will be left alone.",
            "",
        )
    if change.change_type == ChangeType.PAYMENT_UNAPPLIED:
        return (
            "Not rejected on its own: the money was already taken back in ARPilot; approve "
            "it so the ledger follows. It will be left alone.",
            "",
        )
    return ("Nothing changes in ARPilot; the ledger will not get this change.", "")


def _confirm_page(request, changes, *, status, change_type, reason="", error="", code=200):
    currency = request.organization.currency
    return render(
        request,
        "reconciliation/change_reject_confirm.html",
        {
            "items": [(change, reject_effect(change, currency)[0]) for change in changes],
            "status": status,
            "change_type": change_type,
            "reason": reason,
            "error": error,
            "reason_max": REASON_MAX,
            "base_template": base_template(request),
            "htmx": is_htmx(request),
            "back": _back(status, change_type),
        },
        status=code,
    )


@require_POST
@workspace_view
def change_reject_confirm(request):
    """Before rejecting: the checked changes, what rejecting each undoes, and the reason to
    give (a dialog over the list with htmx, a page without)."""
    status, change_type = _list_state(request.POST)
    changes = _selected_changes(request)
    if changes is None:
        messages.error(request, "Select at least one change.")
        if is_htmx(request):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = _back(status, change_type)
            return response
        return redirect(_back(status, change_type))
    return _confirm_page(request, changes, status=status, change_type=change_type)


def _rejected_message(done: int, changes, updated, currency: str) -> str:
    undone = [
        effect
        for change in changes
        if change.pk in updated and (effect := reject_effect(change, currency)[1])
    ]
    text = f"Rejected {done} change{'s' if done != 1 else ''}."
    if undone:
        text += " Undone in ARPilot: " + "; ".join(undone) + "."
    return text


@require_POST
@workspace_view
def change_action(request):
    """Approve, reject (with a reason, after the confirmation) or retry the checked changes
    (one or many) through the services; back to the same tab and change type."""
    organization = request.organization
    action = request.POST.get("action", "")
    status, change_type = _list_state(request.POST)
    back = _back(status, change_type)
    if action not in ACTIONS:
        messages.error(request, "Unknown action.")
        return redirect(back)
    changes = _selected_changes(request)
    if changes is None:
        messages.error(request, "Select at least one change.")
        return redirect(back)
    verb, service = ACTIONS[action]
    kwargs = {
        "organization": organization,
        "change_ids": [change.pk for change in changes],
        "decided_by": request.user.get_username(),
    }
    if action == "reject":
        reason = request.POST.get("reason", "").strip()
        if not reason:
            return _confirm_page(
                request,
                changes,
                status=status,
                change_type=change_type,
                error=REASON_REQUIRED,
                code=400,
            )
        kwargs["reason"] = reason[:REASON_MAX]
    try:
        result = service(**kwargs)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    done = len(result.updated)
    if action == "reject":
        messages.success(
            request,
            _rejected_message(done, changes, set(result.updated), organization.currency),
        )
    else:
        messages.success(request, f"{verb} {done} change{'s' if done != 1 else ''}.")
    for skipped in result.skipped:
        messages.warning(request, f"Change {skipped['id'][:8]}… left alone: {skipped['reason']}.")
    return redirect(back)


def _back(status: str, change_type: str = "") -> str:
    """The list the clerk acted from: its tab and change type (the pending list for
    anything unexpected)."""
    if status not in Status.values:
        status = Status.PENDING
    url = f"{reverse('reconciliation:changes')}?status={status}"
    if change_type in AccountingChange.ChangeType.values:
        url += f"&change_type={change_type}"
    return url


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
