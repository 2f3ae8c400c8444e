"""The review queue: apply a suggestion (a sure one at once, anything else after the clerk
confirms in place), search and split, unapply, write off a short-payment, mark reviewed —
each updating its row in place and saying what it did (with Undo where it can be undone) —
bulk review of auto-applied payments, the learned payer names, and the payment list and
page. Reads are ``selectors``, rows are ``presenters``, changes are ``services``."""

import json
import uuid
from decimal import Decimal

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from arpilot.errors import ApplicationError
from arpilot.templatetags.money import format_money
from arpilot.workspace import (
    base_template,
    is_htmx,
    org_object_or_404,
    paginate,
    safe_next,
    workspace_view,
)
from credits import selectors as credit_selectors
from payments import presenters, selectors, services
from payments.forms import AllocationsForm, PayerAliasForm
from payments.models import Payment, PaymentAllocation
from payments.presenters import Snapshot
from payments.remittance_models import Remittance
from receivables.models import Invoice
from receivables.selectors import rate_on
from receivables.services.rates import RATE_PLACES

RATE_UNIT = Decimal(1).scaleb(-RATE_PLACES)

QUEUE_PAGE = 50
SEARCH_LIMIT = 10
OPEN_ITEMS_LIMIT = 25
BULK_REVIEW_LIMIT = 500
# Set on the payment by reconciliation's review receiver (reconciliation.receivers): how many
# accounting changes marking it reviewed approved.
APPROVED_ON_REVIEW = "changes_approved_on_review"
# The custom htmx event (HX-Trigger) app.js shows in the toast.
TOAST_EVENT = "arpilot:toast"


def _queue_context(request, *, reviewed: bool | None, order: str | None = None):
    filterset, queryset = selectors.payment_queue(
        organization=request.organization, params=request.GET, reviewed=reviewed, order=order
    )
    form = filterset.form
    for bound_field in form:
        bound_field.help_text = ""  # the API's parameter descriptions; the filter bar has none
    page = paginate(request, queryset, per_page=QUEUE_PAGE)
    payments = list(page.object_list)
    return {
        "form": form,
        "page_obj": page,
        "payments": payments,
        "queryset": queryset,
        "next_url": request.get_full_path(),
        "currency": request.organization.currency,
    }


def _queue_order(request) -> str:
    order = request.GET.get("order", "")
    return order if order in selectors.QUEUE_ORDERS else selectors.DEFAULT_QUEUE_ORDER


@workspace_view
def review_queue(request):
    """Unreviewed payments, unmatched first, then by the clerk's choice of order (best
    suggestion, amount or date), with their suggestions and evidence; the auto-applied ones
    among them can be marked reviewed together."""
    order = _queue_order(request)
    context = _queue_context(request, reviewed=False, order=order)
    presenters.attach_suggestions(request.organization, context["payments"])
    presenters.attach_rows(context["payments"], context["currency"])
    auto_ids = list(
        context["queryset"]
        .filter(auto_applied=True, status=Payment.Status.APPLIED)
        .order_by()
        .values_list("pk", flat=True)[:BULK_REVIEW_LIMIT]
    )
    context.update(
        order=order,
        orders=selectors.QUEUE_ORDERS,
        order_label=selectors.QUEUE_ORDERS[order],
        auto_ids=auto_ids,
    )
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
        "payments/split_panel.html",
        _split_context(organization, payment, next_url=next_url),
        request=request,
    )
    asked = next(
        (
            suggestion
            for suggestion in payment.shown_suggestions
            if str(suggestion.rank) == request.GET.get("confirm") and suggestion.needs_confirm
        ),
        None,
    )
    payment.row_html = presenters.row_html(
        payment,
        organization.currency,
        split_html=split_html,
        confirm=_confirmation(payment, asked) if asked and payment.can_apply else None,
    )
    history = selectors.payment_allocation_history(organization=organization, payment=payment)
    remittances = Remittance.objects.for_org(organization).filter(payment=payment)
    return render(
        request,
        "payments/payment_detail.html",
        {
            "payment": payment,
            "history": history,
            "remittances": remittances.prefetch_related("lines__invoice"),
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
        _split_context(
            organization, payment, next_url=safe_next(request, reverse("payments:review"))
        ),
    )


def _split_context(organization, payment, *, next_url: str, rows=None) -> dict:
    """The split editor's context: its rows (the payment's allocations, or what the clerk
    had entered) and the open items of the customer its best suggestion is for."""
    if rows is None:
        rows = [
            {
                "invoice_id": allocation.invoice_id,
                "number": allocation.invoice.invoice_number,
                "amount": allocation.amount,
            }
            for allocation in payment.active_allocations
        ]
    customer_id = next(
        (
            item.customer_id
            for suggestion in payment.top_suggestions
            for item in suggestion.invoices
            if item.customer_id
        ),
        None,
    )
    if customer_id is None and payment.active_allocations:
        customer_id = payment.active_allocations[0].invoice.customer_id
    items = []
    if customer_id:
        items = list(
            selectors.customer_open_items(
                organization=organization, customer_id=customer_id, limit=OPEN_ITEMS_LIMIT
            )
        )
    return {
        "payment": payment,
        "next_url": next_url,
        "rows": rows,
        "rate_fields": _rate_fields(
            organization,
            payment,
            [item.currency for item in items]
            + [allocation.invoice.currency for allocation in payment.active_allocations],
        ),
        "open_items": items,
        "open_items_customer": items[0].rendered_customer_name if items else "",
        "tolerance": payment.tolerance,
        # Read only when the panel renders its "short pay -> deduction" choice.
        "deduction_reasons": credit_selectors.reason_list(organization=organization).filter(
            is_active=True
        ),
    }


# --- across currencies ------------------------------------------------------------------------

RATE_FIELD_PREFIX = "exchange_rate_"


def _rate_fields(organization, payment, invoice_currencies) -> list[dict]:
    """The exchange rates the split form asks for: one per currency of the invoices it may
    apply to that is not the payment's (and the base currency, for a payment in another),
    prefilled from the organization's rates of the payment date where it has both."""
    base = (organization.currency or "USD").upper()
    paid_in = (payment.currency or "").upper() or base
    wanted = {(currency or base).upper() for currency in invoice_currencies}
    if paid_in != base:
        wanted.add(base)
    wanted.discard(paid_in)
    fields = []
    for currency in sorted(wanted):
        suggested = _table_rate(organization, paid_in, currency, payment.payment_date)
        fields.append(
            {
                "currency": currency,
                "name": f"{RATE_FIELD_PREFIX}{currency}",
                "id": f"rate-{payment.pk}-{currency}",
                "label": f"{currency} per 1 {paid_in}",
                "value": suggested,
                "hint": (
                    f"From the rate table on {payment.payment_date:%Y-%m-%d}."
                    if suggested
                    else "No rate in the table for the payment date: enter one."
                ),
            }
        )
    return fields


def _table_rate(organization, paid_in: str, currency: str, day) -> str:
    """``currency`` per unit of ``paid_in`` on ``day`` from the organization's rates ("" when
    it lacks one of them), as the service would take it."""
    paid = rate_on(organization, paid_in, day)
    invoice = rate_on(organization, currency, day)
    if paid is None or invoice is None:
        return ""
    return f"{(Decimal(paid) / Decimal(invoice)).quantize(RATE_UNIT).normalize():f}"


def _posted_rates(organization, post, allocations: list[dict]) -> None:
    """Give each allocation the rate the clerk entered for its invoice's currency."""
    rates = {
        name[len(RATE_FIELD_PREFIX) :].upper(): value.strip()
        for name, value in post.items()
        if name.startswith(RATE_FIELD_PREFIX) and value.strip()
    }
    if not rates or not allocations:
        return
    currencies = dict(
        Invoice.objects.for_org(organization)
        .filter(pk__in=[item["invoice_id"] for item in allocations])
        .values_list("pk", "currency")
    )
    for item in allocations:
        rate = rates.get((currencies.get(item["invoice_id"]) or "").upper())
        if rate:
            item["exchange_rate"] = rate


def _exchange_notes(organization, payment_pk) -> list[str]:
    """What the payment's allocations across currencies realised, in words."""
    base = organization.currency
    notes = []
    for allocation in (
        PaymentAllocation.objects.for_org(organization)
        .filter(payment_id=payment_pk, unapplied_at__isnull=True, exchange_rate__isnull=False)
        .select_related("invoice")
        .order_by("invoice__invoice_number")
    ):
        difference = allocation.exchange_difference or Decimal(0)
        kind = "gain" if difference > 0 else "loss" if difference < 0 else "difference"
        notes.append(
            f"{allocation.invoice.invoice_number} settled "
            f"{format_money(allocation.invoice_amount, allocation.invoice.currency)} at "
            f"{allocation.exchange_rate.normalize():f}; realised exchange {kind} "
            f"{format_money(abs(difference), base)}"
        )
    return notes


@require_GET
@workspace_view
def invoice_search(request, pk):
    """Open invoices matching ``q`` (number, customer, or an amount: their open balance or
    total), to add to a payment's split."""
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


@require_GET
@workspace_view
def customer_items(request, pk, customer_id):
    """All of one customer's open invoices with their balances, beside the payment."""
    organization = request.organization
    payment = org_object_or_404(Payment.objects.for_org(organization), pk=pk)
    items = list(
        selectors.customer_open_items(
            organization=organization, customer_id=customer_id, limit=OPEN_ITEMS_LIMIT
        )
    )
    return render(
        request,
        "payments/open_items.html",
        {
            "payment": payment,
            "open_items": items,
            "open_items_customer": items[0].rendered_customer_name if items else "",
            "customer_requested": True,
        },
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


def _act(request, organization, payment_pk, before: Snapshot | None, call, **outcome):
    """Run a row action's service call; a refusal becomes the row's error message."""
    try:
        result = call()
        error = ""
        if outcome.get("notes") == "from result":
            outcome["notes"] = _deduction_notes(result)
    except ApplicationError as exc:
        result = None
        error = _error_text(exc)
    if not error and outcome.get("approved") == "from result":
        outcome["approved"] = getattr(result, APPROVED_ON_REVIEW, None)
    return _respond(request, organization, payment_pk, before=before, error=error, **outcome)


def _respond(
    request,
    organization,
    payment_pk,
    *,
    before: Snapshot | None,
    error: str = "",
    confirm: dict | None = None,
    approved: int | None = None,
    undo: dict | None = None,
    advance: bool = False,
    split_rows: list | None = None,
    notes: list[str] | None = None,
):
    """The payment's row again (htmx) — with what changed, the refusal (and, for a refused
    split, the editor still holding the clerk's rows) or the confirmation asked for — and an
    ``arpilot:toast`` event with Undo; without htmx, back to the page with a message."""
    payment = selectors.payment_review_list(organization=organization).get(pk=payment_pk)
    presenters.attach_suggestions(organization, [payment])
    changes = (
        presenters.changes(organization, before, payment, approved=approved)
        if before and not error
        else []
    )
    if not error:
        changes = [*changes, *(notes or [])]  # what the snapshot does not show (deductions)
    if is_htmx(request):
        split_html = ""
        if split_rows is not None:
            split_html = render_to_string(
                "payments/split_panel.html",
                _split_context(
                    organization,
                    payment,
                    next_url=safe_next(request, reverse("payments:review")),
                    rows=split_rows,
                ),
                request=request,
            )
        response = HttpResponse(
            presenters.row_html(
                payment,
                organization.currency,
                flash=True,
                error=error,
                changes=changes,
                confirm=confirm,
                split_html=split_html,
                split_open=bool(split_html),
            )
        )
        if changes:
            toast = {"message": "; ".join(changes) + ".", "level": "success", "advance": advance}
            if undo:
                toast["undo"] = undo
            if before is not None and before.reviewed != payment.reviewed:
                toast["unreviewed"] = selectors.payments_unreviewed_count(organization=organization)
            response["HX-Trigger"] = json.dumps({TOAST_EVENT: toast})
        return response
    if error:
        messages.error(request, error)
    elif confirm:
        # Without htmx the payment's page asks the question (its button sends confirm=1).
        detail = reverse("payments:detail", args=[payment.pk])
        return redirect(f"{detail}?confirm={confirm['rank']}")
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


def _undo(label: str, url: str, **values) -> dict:
    return {"label": label, "url": url, "values": values}


def _confirmation(payment, suggestion) -> dict:
    """What the clerk must confirm before a suggestion that is not clearly sure is applied."""
    numbers = ", ".join(item.number for item in suggestion.invoices)
    if suggestion.tied_with:
        others = " and ".join(f"#{rank}" for rank in suggestion.tied_with)
        text = (
            f"Suggestion #{suggestion.rank} ties with {others} at {suggestion.percent}%. "
            "Nothing was applied: read the evidence and choose one."
        )
        label = f"Apply #{suggestion.rank} ({numbers})"
    elif suggestion.band == "weak":
        text = (
            f"Weak match ({suggestion.percent}%). {suggestion.why_weak} Apply to {numbers} anyway?"
        )
        label = "Apply anyway"
    elif suggestion.band == "likely":
        text = f"Likely but not sure ({suggestion.percent}%). Apply to {numbers}?"
        label = "Yes, apply"
    else:
        text = f"The balance changed since matching: {suggestion.changed}. Apply to {numbers}?"
        label = "Yes, apply"
    if suggestion.changed and suggestion.band != "sure":
        text += f" (The balance changed since matching: {suggestion.changed}.)"
    return {
        "rank": suggestion.rank,
        "text": text,
        "label": label,
        "tie": bool(suggestion.tied_with),
        "tied_ranks": suggestion.tied_with,
    }


@require_POST
@workspace_view
def apply_suggestion(request, pk, rank):
    """Apply suggestion ``rank``: its amount spread over its invoices in order, each up to
    its open balance (replacing what the payment was applied to). A suggestion that is not
    "sure", or ties with another, is applied only with ``confirm=1``; the row asks first."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    presenters.attach_suggestions(organization, [payment])
    suggestion = next((s for s in payment.shown_suggestions if s.rank == rank), None)
    if suggestion is None or not payment.can_apply:
        error = payment.currency_note or "That suggestion no longer fits; search invoices below."
        if suggestion is None and not any(s.rank == rank for s in payment.top_suggestions):
            error = "That suggestion is gone; the payment was matched again. Reload the page."
        return _respond(request, organization, payment.pk, before=None, error=error)
    if suggestion.needs_confirm and request.POST.get("confirm") != "1":
        return _respond(
            request,
            organization,
            payment.pk,
            before=None,
            confirm=_confirmation(payment, suggestion),
        )
    invoice_ids = _uuid_list(suggestion.invoice_ids)
    before = presenters.snapshot(organization, payment, invoice_ids)
    allocations = services.suggestion_allocations(
        payment, amount=suggestion.amount, invoice_ids=invoice_ids, invoices=before.invoices
    )
    if not allocations:
        error = "The suggested invoices have no open balance left."
        return _respond(request, organization, payment.pk, before=before, error=error)
    # Undo takes the money back: offered only when that restores the payment as it was.
    undo = (
        _undo("Undo", reverse("payments:unapply", args=[payment.pk]))
        if before.applied == 0
        else None
    )
    return _act(
        request,
        organization,
        payment.pk,
        before,
        lambda: services.payment_update(
            organization=organization, payment_id=payment.pk, allocations=allocations
        ),
        undo=undo,
        advance=True,
    )


def _uuid_list(values) -> list:
    result = []
    for value in values:
        try:
            result.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return result


def _entered_rows(organization, post) -> list[dict]:
    """The split rows the clerk entered, as entered (to give them back with a refusal)."""
    pairs = list(zip(post.getlist("invoice_id"), post.getlist("amount"), strict=False))
    states = selectors.invoice_states(
        organization=organization, ids=_uuid_list([raw_id for raw_id, _ in pairs])
    )
    rows = []
    for raw_id, raw_amount in pairs:
        ids = _uuid_list([raw_id])
        invoice = states.get(ids[0]) if ids else None
        if invoice is not None:
            rows.append(
                {"invoice_id": invoice.pk, "number": invoice.invoice_number, "amount": raw_amount}
            )
    return rows


@require_POST
@workspace_view
def allocate(request, pk):
    """Split the payment over the invoices the clerk chose (and optionally write off the
    short-payment); a refused split comes back with the clerk's rows."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    form = AllocationsForm(request.POST, currency=payment.currency or organization.currency)
    if not form.is_valid():
        error = " ".join(form.non_field_errors()) or "Check the amounts."
        return _respond(
            request,
            organization,
            payment.pk,
            before=None,
            error=error,
            split_rows=_entered_rows(organization, request.POST),
        )
    allocations = form.cleaned_data["allocations"]
    write_off = form.cleaned_data["write_off_short_payment"]
    reason_code = request.POST.get("deduction_reason_code", "").strip()
    before = presenters.snapshot(
        organization, payment, [item["invoice_id"] for item in allocations]
    )
    notes = []
    _posted_rates(organization, request.POST, allocations)
    try:
        if write_off and reason_code:
            raise ApplicationError(
                "Write off the short-payment or open a deduction for it, not both."
            )
        with transaction.atomic():  # the split and the deductions, or neither
            services.payment_update(
                organization=organization,
                payment_id=payment.pk,
                allocations=allocations if allocations else None,
                write_off_short_payment=write_off,
            )
            if reason_code:
                notes = _deduction_notes(
                    services.payment_deduct_short(
                        organization=organization, payment_id=payment.pk, reason_code=reason_code
                    )
                )
    except ApplicationError as exc:
        return _respond(
            request,
            organization,
            payment.pk,
            before=None,
            error=_error_text(exc),
            split_rows=_entered_rows(organization, request.POST),
        )
    notes = [*_exchange_notes(organization, payment.pk), *notes]  # gains and losses realised
    return _respond(request, organization, payment.pk, before=before, notes=notes)


def _deduction_notes(deductions) -> list[str]:
    return [
        f"Deduction of {deduction.amount} opened on {deduction.invoice.invoice_number} "
        f"({deduction.reason.name})"
        for deduction in deductions or []
    ]


@require_POST
@workspace_view
def write_off(request, pk):
    """Write off what the payment's invoices still owe (within the tolerance); with a
    ``deduction_reason_code``, open a deduction for it instead (beyond the tolerance)."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    before = presenters.snapshot(organization, payment)
    reason_code = request.POST.get("deduction_reason_code", "").strip()
    if reason_code:
        return _act(
            request,
            organization,
            payment.pk,
            before,
            lambda: services.payment_deduct_short(
                organization=organization, payment_id=payment.pk, reason_code=reason_code
            ),
            notes="from result",
        )
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
    """Mark the payment reviewed — which approves its pending accounting changes, and says
    how many — or (``reviewed=0``) put it back in the queue; approvals stay approved."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    before = presenters.snapshot(organization, payment)
    reviewed = request.POST.get("reviewed", "1") != "0"
    undo = None
    if reviewed:
        undo = _undo(
            "Undo reviewed", reverse("payments:review-mark", args=[payment.pk]), reviewed="0"
        )
    return _act(
        request,
        organization,
        payment.pk,
        before,
        lambda: services.payment_mark_reviewed(
            organization=organization, payment_id=payment.pk, reviewed=reviewed
        ),
        approved="from result" if reviewed else None,
        undo=undo,
        advance=reviewed,
    )


@require_POST
@workspace_view
def bulk_review(request):
    """Mark the listed payments reviewed — those still unreviewed and auto-applied in full
    (a payment that arrived after the page was shown is never among them)."""
    organization = request.organization
    ids = _uuid_list(request.POST.getlist("payment_id"))
    payments = list(
        selectors.payments_auto_applied_unreviewed(organization=organization, ids=ids).values_list(
            "pk", flat=True
        )[:BULK_REVIEW_LIMIT]
    )
    approved = 0
    for payment_id in payments:
        payment = services.payment_mark_reviewed(
            organization=organization, payment_id=payment_id, reviewed=True
        )
        approved += getattr(payment, APPROVED_ON_REVIEW, 0) or 0
    if payments:
        messages.success(
            request,
            f"Marked {len(payments)} auto-applied payment{'s' if len(payments) != 1 else ''} "
            f"reviewed and approved {approved} accounting change{'s' if approved != 1 else ''}.",
        )
    else:
        messages.info(request, "Nothing to mark: those payments were already reviewed.")
    return redirect(safe_next(request, reverse("payments:review")))


# --- learned payer names --------------------------------------------------------------------


@workspace_view
def payers(request):
    """The payer names learned per customer (matching evidence): remember, rename, forget."""
    organization = request.organization
    form = PayerAliasForm(organization=organization)
    if request.method == "POST":
        form, done = _payers_post(request, organization)
        if done:
            return redirect(safe_next(request, reverse("payments:payers")))
    page = paginate(request, selectors.payer_aliases(organization=organization), per_page=100)
    return render(
        request,
        "payments/payers.html",
        {"aliases": page.object_list, "page_obj": page, "form": form},
        status=400 if form.errors else 200,
    )


def _payers_post(request, organization):
    """Run the posted alias action; (the form to show, whether it is done)."""
    action = request.POST.get("action", "remember")
    form = PayerAliasForm(organization=organization)
    try:
        if action == "forget":
            services.payer_alias_forget(
                organization=organization, alias_id=request.POST.get("alias_id")
            )
            messages.success(request, "Forgotten: matching no longer counts that payer name.")
            return form, True
        if action == "rename":
            alias = services.payer_alias_rename(
                organization=organization,
                alias_id=request.POST.get("alias_id"),
                payer_name=request.POST.get("payer_name", ""),
            )
            messages.success(request, f"Renamed to “{alias.payer_key}”.")
            return form, True
        form = PayerAliasForm(request.POST, organization=organization)
        if not form.is_valid():
            return form, False
        alias = services.payer_alias_remember(
            organization=organization,
            payer_name=form.cleaned_data["payer_name"],
            customer_id=form.cleaned_data["customer"].pk,
        )
        messages.success(
            request, f"Remembered “{alias.payer_key}” for {alias.customer.company_name}."
        )
        return form, True
    except ApplicationError as exc:
        if exc.status_code == 404:
            raise Http404(exc.message) from exc
        messages.error(request, _error_text(exc))
        return form, True


@require_POST
@workspace_view
def remember_payer(request, pk):
    """Remember the payment's payer for the customer of the invoices it is applied to."""
    organization = request.organization
    payment = _payment_for_action(request, pk)
    customer_ids = {allocation.invoice.customer_id for allocation in payment.active_allocations}
    error = ""
    if not payment.payer_name:
        error = "The payment has no payer name to remember."
    elif len(customer_ids) != 1:
        error = "Apply the payment to one customer's invoices first."
    else:
        try:
            alias = services.payer_alias_remember(
                organization=organization,
                payer_name=payment.payer_name,
                customer_id=customer_ids.pop(),
            )
        except ApplicationError as exc:
            error = _error_text(exc)
    if error:
        return _respond(request, organization, payment.pk, before=None, error=error)
    text = f"Remembered “{payment.payer_name}” for {alias.customer.company_name}."
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Trigger"] = json.dumps({TOAST_EVENT: {"message": text, "level": "success"}})
        return response
    messages.success(request, text)
    return redirect(safe_next(request, reverse("payments:review")))
