"""The deductions page (server-rendered, under /credits/): the list with its filters, the
aging by reason, and each open deduction's resolve form inline."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from arpilot.errors import ApplicationError
from arpilot.timezones import zone
from arpilot.workspace import organization_today, paginate, safe_next, workspace_view
from credits import selectors, services
from credits.filters import DeductionFilterSet
from credits.models import Deduction, DeductionReason
from customers.models import Customer

STATUS_BADGES = {Deduction.Status.OPEN: "pending", Deduction.Status.RESOLVED: "done"}


@workspace_view
def deduction_list(request):
    """Deductions newest first, by status (open by default), reason and customer, with the
    open ones' aging by reason (the same filters but status)."""
    organization = request.organization
    services.reasons_ensure(organization)
    params = request.GET.copy()
    if "status" not in params:
        params["status"] = Deduction.Status.OPEN
    deductions = selectors.deduction_list(organization=organization)
    filterset = DeductionFilterSet(params, queryset=deductions)
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else filterset.queryset.none()
    page = paginate(request, queryset)
    rows = list(page.object_list)
    for deduction in rows:
        deduction.badge = STATUS_BADGES.get(deduction.status, deduction.status)
    aging_filters = DeductionFilterSet(
        {k: v for k, v in params.items() if k in ("reason_code", "customer_id")},
        queryset=deductions,
    )
    aging = (
        selectors.deduction_aging(
            organization=organization,
            today=organization_today(organization),
            tz=zone(organization.timezone),
            queryset=aging_filters.qs,
        )
        if valid and aging_filters.is_valid()
        else []
    )
    customer = None
    if valid and filterset.form.cleaned_data.get("customer_id"):
        customer = (
            Customer.objects.for_org(organization)
            .filter(pk=filterset.form.cleaned_data["customer_id"])
            .only("id", "company_name")
            .first()
        )
    reasons = list(DeductionReason.objects.for_org(organization).only("code", "name", "is_active"))
    return render(
        request,
        "credits/deduction_list.html",
        {
            "page_obj": page,
            "deductions": rows,
            "filterset": filterset,
            "status": params.get("status", ""),
            "statuses": Deduction.Status.choices,
            "resolutions": Deduction.Resolution.choices,
            "reasons": reasons,
            "aging": aging,
            "customer": customer,
            "currency": organization.currency,
            "here": f"{request.path}?{urlencode(request.GET)}" if request.GET else request.path,
        },
    )


@require_POST
@workspace_view
def deduction_resolve(request, pk):
    """Resolve one deduction from its inline form; back to the list with what happened."""
    back = safe_next(request, "/credits/deductions/")
    try:
        deduction = services.deduction_resolve(
            organization=request.organization,
            deduction_id=pk,
            resolution=request.POST.get("resolution", ""),
            note=request.POST.get("note", "").strip()[:5000],
        )
    except ApplicationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(back)
    text = f"Deduction on {deduction.invoice.invoice_number} resolved: "
    text += deduction.get_resolution_display().lower()
    if deduction.rebill_invoice_id:
        text += f" as invoice {deduction.rebill_invoice.invoice_number}"
    messages.success(request, f"{text}.")
    return redirect(back)


def _error_text(exc: ApplicationError) -> str:
    details = [" ".join(str(m) for m in msgs) for msgs in exc.fields.values()]
    return " ".join([exc.message, *details]) if details else exc.message
