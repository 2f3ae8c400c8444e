"""The review queue: apply a suggestion, search and split, unapply, write off a short-payment,
mark reviewed — each updating its row in place — and the payment list and page. Reads are
``selectors``, rows are ``presenters``, changes are ``services``."""

import uuid

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from arpilot.errors import ApplicationError
from arpilot.workspace import (
    base_template,
    is_htmx,
    org_object_or_404,
    paginate,
    safe_next,
    workspace_view,
)
from payments import presenters, selectors, services
from payments.forms import AllocationsForm
from payments.models import Payment
from payments.presenters import Snapshot
from receivables.models import Invoice

QUEUE_PAGE = 50
SEARCH_LIMIT = 10


def _queue_context(request, *, reviewed: bool | None):
    filterset, queryset = selectors.payment_queue(
        organization=request.organization, params=request.GET, reviewed=reviewed
    )
    form = filterset.form
    for bound_field in form:
        bound_field.help_text = ""  # the API's parameter descriptions; the filter bar has none
    page = paginate(request, queryset, per_page=QUEUE_PAGE)
    payments = list(page.object_list)
    presenters.attach_suggestions(request.organization, payments)
    return {
        "form": form,
        "page_obj": page,
        "payments": payments,
        "next_url": request.get_full_path(),
        "currency": request.organization.currency,
    }


@workspace_view
def review_queue(request):
    """Unreviewed payments, newest first, with their top suggestions and evidence."""
    context = _queue_context(request, reviewed=False)
    presenters.attach_rows(context["payments"], context["currency"])
    return render(request, "payments/review_queue.html", context)


@workspace_view
def payment_list(request):
    """Every payment (reviewed or not), filterable."""
    context = _queue_context(request, reviewed=None)
    return render(request, "payments/payment_list.html", context)


@workspace_view
def payment_detail(request, pk):
    """One payment as its review-queue row, with its allocation history."""
    organization = request.organization
    payment = org_object_or_404(selectors.payment_review_list(organization=organization), pk=pk)
    presenters.attach_suggestions(organization, [payment])
    next_url = request.get_full_path()
    split_html = render_to_string(
        "payments/split_panel.html", {"payment": payment, "next_url": next_url}, request=request
    )
    payment.row_html = presenters.row_html(payment, organization.currency, split_html=split_html)
    history = selectors.payment_allocation_history(organization=organization, payment=payment)
    return render(
        request,
        "payments/payment_detail.html",
        {
            "payment": payment,
            "history": history,
            "next_url": next_url,
            "currency": organization.currency,
        },
    )


@require_GET
@workspace_view
def split_panel(request, pk):
    """The search-and-split editor of one payment (loaded when the clerk opens it)."""
    organization = request.organization
    payment = org_object_or_404(selectors.payment_review_list(organization=organization), pk=pk)
    presenters.attach_suggestions(organization, [payment])
    return render(
        request,
        "payments/split_panel.html",
        {"payment": payment, "next_url": safe_next(request, reverse("payments:review"))},
    )


@require_GET
@workspace_view
def invoice_search(request, pk):
    """Open invoices matching ``q`` (number or customer), to add to a payment's split."""
    organization = request.organization
    payment = org_object_or_404(Payment.objects.for_org(organization), pk=pk)
    term = request.GET.get("q", "").strip()
    invoices = []
    if term:
        invoices = selectors.invoice_search(
            organization=organization, term=term, limit=SEARCH_LIMIT
        )
    return render(
        request,
        "payments/invoice_search.html",
        {"payment": payment, "invoices": invoices, "term": term},
    )


@workspace_view
def invoice_panel(request, invoice_id):
    """The payments applied to an invoice (a panel of the invoice page)."""
    organization = request.organization
    invoice = org_object_or_404(Invoice.objects.for_org(organization), pk=invoice_id)
    allocations = selectors.invoice_allocation_history(organization=organization, invoice=invoice)
    return render(
        request,
        "payments/invoice_panel.html",
        {"invoice": invoice, "allocations": allocations, "base_template": base_template(request)},
    )


# --- actions --------------------------------------------------------------------------------


def _act(request, organization, payment_pk, before: Snapshot | None, call):
    """Run a row action's service call; a refusal becomes the row's error message."""
    try:
        call()
        error = ""
    except ApplicationError as exc:
        error = _error_text(exc)
    return _respond(request, organization, payment_pk, before=before, error=error)


def _respond(request, organization, payment_pk, *, before: Snapshot | None, error: str = ""):
    """The payment's row again (htmx), or back to the page the clerk came from."""
    payment = selectors.payment_review_list(organization=organization).get(pk=payment_pk)
    presenters.attach_suggestions(organization, [payment])
    changes = presenters.changes(organization, before, payment) if before and not error else []
    if is_htmx(request):
        return HttpResponse(
            presenters.row_html(
                payment, organization.currency, flash=True, error=error, changes=changes
            )
        )
    if error:
        messages.error(request, error)
    elif changes:
        messages.success(request, "; ".join(changes))
    return redirect(safe_next(request, reverse("payments:review")))


def _error_text(exc: ApplicationError) -> str:
    details = [message for messages_ in exc.fields.values() for message in messages_]
    if details and exc.message not in details:
        return f"{exc.message} ({' '.join(details)})"
    return exc.message


def _payment_for_action(request, pk) -> Payment:
    return org_object_or_404(
        selectors.payment_review_list(organization=request.organization), pk=pk
    )


@require_POST
@workspace_view
def apply_suggestion(request, pk, rank):
    """Apply suggestion ``rank``: its amount spread over its invoices in order, each up to
    its open balance (replacing what the payment was applied to)."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    suggestion = next((s for s in payment.suggestions.all() if s.rank == rank), None)
    if suggestion is None:
        return _respond(
            request,
            organization,
            payment.pk,
            before=None,
            error="That suggestion is gone; the payment was matched again.",
        )
    invoice_ids = _uuid_list(suggestion.invoice_ids)
    before = presenters.snapshot(organization, payment, invoice_ids)
    allocations = services.suggestion_allocations(
        payment, amount=suggestion.amount, invoice_ids=invoice_ids, invoices=before.invoices
    )
    if not allocations:
        error = "The suggested invoices have no open balance left."
        return _respond(request, organization, payment.pk, before=before, error=error)
    return _act(
        request,
        organization,
        payment.pk,
        before,
        lambda: services.payment_update(
            organization=organization, payment_id=payment.pk, allocations=allocations
        ),
    )


def _uuid_list(values) -> list:
    result = []
    for value in values:
        try:
            result.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return result


@require_POST
@workspace_view
def allocate(request, pk):
    """Split the payment over the invoices the clerk chose (and optionally write off the
    short-payment)."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    form = AllocationsForm(request.POST)
    if not form.is_valid():
        error = " ".join(form.non_field_errors()) or "Check the amounts."
        return _respond(request, organization, payment.pk, before=None, error=error)
    allocations = form.cleaned_data["allocations"]
    write_off = form.cleaned_data["write_off_short_payment"]
    before = presenters.snapshot(
        organization, payment, [item["invoice_id"] for item in allocations]
    )
    return _act(
        request,
        organization,
        payment.pk,
        before,
        lambda: services.payment_update(
            organization=organization,
            payment_id=payment.pk,
            allocations=allocations if allocations else None,
            write_off_short_payment=write_off,
        ),
    )


@require_POST
@workspace_view
def write_off(request, pk):
    """Write off what the payment's invoices still owe (within the tolerance)."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    before = presenters.snapshot(organization, payment)
    return _act(
        request,
        organization,
        payment.pk,
        before,
        lambda: services.payment_update(
            organization=organization, payment_id=payment.pk, write_off_short_payment=True
        ),
    )


@require_POST
@workspace_view
def unapply(request, pk):
    """Take the payment's money back from one invoice (``invoice_id``) or from all."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    invoice_ids = _uuid_list([request.POST["invoice_id"]]) if request.POST.get("invoice_id") else []
    before = presenters.snapshot(organization, payment)
    return _act(
        request,
        organization,
        payment.pk,
        before,
        lambda: services.payment_unapply(
            organization=organization,
            payment_id=payment.pk,
            invoice_id=invoice_ids[0] if invoice_ids else None,
            by_clerk=True,
            reason="unapplied in the review queue",
        ),
    )


@require_POST
@workspace_view
def mark_reviewed(request, pk):
    """Mark the payment reviewed (``reviewed=0`` puts it back in the queue)."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    before = presenters.snapshot(organization, payment)
    reviewed = request.POST.get("reviewed", "1") != "0"
    return _act(
        request,
        organization,
        payment.pk,
        before,
        lambda: services.payment_mark_reviewed(
            organization=organization, payment_id=payment.pk, reviewed=reviewed
        ),
    )
