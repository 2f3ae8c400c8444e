"""Clerk pages for credit notes (under /credits/): the list with its filters, a new note
(lines or a single amount, optionally against an invoice), and the detail page with the
"Apply" form (the customer's open invoices in the note's currency, prefilled oldest first),
unapply buttons, and post / void."""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from arpilot.errors import ApplicationError, NotFound
from arpilot.workspace import org_object_or_404, paginate, workspace_view
from credits.api.credit_notes import CreditNoteFilterSet
from credits.models import CreditNote
from credits.services import credit_notes as services
from customers.models import Customer
from receivables.models import Account, Fund, Invoice

STATUS_BADGES = {
    CreditNote.Status.DRAFT: "draft",
    CreditNote.Status.POSTED: "done",
    CreditNote.Status.VOID: "void",
}
LINE_ROWS = 3  # line rows on the new-note form (a single amount is the other way)
APPLY_PREFIX = "amount-"


def _actor(request) -> str:
    return f"user:{request.user.get_username()}"[:150]


def _error_text(exc: ApplicationError) -> str:
    details = [" ".join(str(m) for m in msgs) for msgs in exc.fields.values()]
    return " ".join([exc.message, *details]) if details else exc.message


def _badge(note: CreditNote) -> CreditNote:
    note.badge = STATUS_BADGES.get(note.status, note.status)
    return note


@workspace_view
def credit_note_list(request):
    """Credit notes newest first, by status, customer, invoice and currency (the API's
    filters)."""
    organization = request.organization
    notes = services.credit_note_list(organization=organization).prefetch_related(None)
    filterset = CreditNoteFilterSet(request.GET, queryset=notes)
    valid = filterset.is_valid()
    page = paginate(request, filterset.qs if valid else notes.none())
    rows = [_badge(note) for note in page.object_list]
    customer = None
    if valid and filterset.form.cleaned_data.get("customer_id"):
        customer = (
            Customer.objects.for_org(organization)
            .filter(pk=filterset.form.cleaned_data["customer_id"])
            .only("id", "company_name")
            .first()
        )
    return render(
        request,
        "credits/credit_note_list.html",
        {
            "page_obj": page,
            "notes": rows,
            "filterset": filterset,
            "statuses": CreditNote.Status.choices,
            "customer": customer,
        },
    )


# --- a new note ------------------------------------------------------------------------------


def _decimal(text: str):
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return "invalid"
    return value if value.is_finite() else "invalid"


def _new_form_state(request, organization) -> dict:
    data = request.POST if request.method == "POST" else request.GET
    rows = [
        {
            "index": index,
            "amount": data.get(f"line-{index}-amount", ""),
            "account": data.get(f"line-{index}-account", ""),
            "description": data.get(f"line-{index}-description", ""),
        }
        for index in range(LINE_ROWS)
    ]
    return {
        "customer": data.get("customer", ""),
        "currency": data.get("currency", "") or organization.currency,
        "issue_date": data.get("issue_date", ""),
        "invoice": data.get("invoice", ""),
        "amount": data.get("amount", ""),
        "memo": data.get("memo", ""),
        "number": data.get("number", ""),
        "exchange_rate": data.get("exchange_rate", ""),
        "post_now": data.get("post_now") == "on",
        "rows": rows,
    }


def _parse_new(organization, form: dict, errors: dict) -> dict:
    """The service's arguments from the form, or field errors (by form field name)."""
    args: dict = {"organization": organization, "memo": form["memo"].strip()[:5000]}
    customer = (
        Customer.objects.for_org(organization).filter(pk=form["customer"]).first()
        if _is_uuid(form["customer"])
        else None
    )
    if customer is None:
        errors["customer"] = ["Choose a customer."]
    args["customer"] = customer
    args["currency"] = form["currency"].strip() or None
    if form["number"].strip():
        args["number"] = form["number"].strip()[:100]
    if form["issue_date"].strip():
        try:
            args["issue_date"] = date.fromisoformat(form["issue_date"].strip())
        except ValueError:
            errors["issue_date"] = ["Enter a date as YYYY-MM-DD."]
    if form["invoice"].strip():
        invoice = (
            Invoice.objects.for_org(organization)
            .filter(invoice_number=form["invoice"].strip())
            .values_list("pk", flat=True)
            .first()
        )
        if invoice is None:
            errors["invoice"] = ["No invoice with this number."]
        args["invoice_id"] = invoice
    if form["exchange_rate"].strip():
        rate = _decimal(form["exchange_rate"])
        if rate == "invalid":
            errors["exchange_rate"] = ["Enter a number."]
        else:
            args["exchange_rate"] = rate
    lines = []
    accounts = {str(a.pk): a for a in Account.objects.for_org(organization)}
    for row in form["rows"]:
        amount = _decimal(row["amount"])
        if amount is None:
            continue
        if amount == "invalid":
            errors[f"lines.{len(lines)}.amount"] = ["Enter an amount."]
            row["error_key"] = f"lines.{len(lines)}"
            lines.append(None)
            continue
        row["error_key"] = f"lines.{len(lines)}"
        account = accounts.get(row["account"]) if row["account"] else None
        lines.append(
            services.LineInput(
                amount=amount, account=account, description=row["description"].strip()[:500]
            )
        )
    if lines:
        args["lines"] = lines
    else:
        amount = _decimal(form["amount"])
        if amount == "invalid":
            errors["amount"] = ["Enter an amount."]
        args["amount"] = amount if amount != "invalid" else None
    args["status"] = CreditNote.Status.POSTED if form["post_now"] else CreditNote.Status.DRAFT
    return args


def _is_uuid(value) -> bool:
    return services._uuid_or_none(value) is not None


def _form_errors(exc: ApplicationError, form: dict) -> dict:
    """The service's field names as the form's (``lines.1.amount`` → that row)."""
    errors = {}
    for name, messages_ in exc.fields.items():
        key = {"customer_id": "customer", "invoice_id": "invoice"}.get(name, name)
        errors[key] = [str(m) for m in messages_]
    shown = {"customer", "invoice", "currency", "exchange_rate", "issue_date", "number", "amount"}
    if not errors or any(k not in shown and not k.startswith("lines.") for k in errors):
        errors["form"] = [_error_text(exc)]
    return errors


def _attach_row_errors(form: dict, errors: dict) -> None:
    for row in form["rows"]:
        key = row.get("error_key")
        row["errors"] = []
        if key:
            for name, messages_ in errors.items():
                if name.startswith(f"{key}."):
                    row["errors"] += messages_


@workspace_view
def credit_note_new(request):
    """The new-note form: a customer, lines (or a single amount to 4900 Sales credits), an
    optional invoice it is against; saved as a draft, or posted at once."""
    organization = request.organization
    form = _new_form_state(request, organization)
    errors: dict = {}
    if request.method == "POST":
        args = _parse_new(organization, form, errors)
        if not errors:
            try:
                note = services.credit_note_create(**args)
            except ApplicationError as exc:
                errors = _form_errors(exc, form)
            else:
                messages.success(request, f"Credit note {note.number} saved ({note.status}).")
                return redirect("credits:credit-note", pk=note.pk)
    _attach_row_errors(form, errors)
    accounts = Account.objects.for_org(organization).filter(
        type__in=[Account.Type.INCOME, Account.Type.EXPENSE]
    )
    return render(
        request,
        "credits/credit_note_new.html",
        {
            "form": form,
            "errors": errors,
            "customers": Customer.objects.for_org(organization)
            .only("id", "company_name")
            .order_by("company_name", "id"),
            "accounts": accounts.only("id", "account_number", "name"),
            "funds": Fund.objects.for_org(organization).only("id", "name"),
            "base_currency": organization.currency,
        },
        status=400 if errors else 200,
    )


# --- the detail page and its actions ---------------------------------------------------------


def _detail(request, pk, *, apply_values=None, apply_errors=None, status=200):
    organization = request.organization
    note = org_object_or_404(services.credit_note_list(organization=organization), pk=pk)
    _badge(note)
    invoices = services.open_invoices_for(note) if note.status == CreditNote.Status.POSTED else []
    suggested = services.prefill_allocations(note, invoices)
    apply_errors = apply_errors or {}
    rows = []
    for invoice in invoices:
        key = str(invoice.pk)
        if apply_values is not None:
            value = apply_values.get(key, "")
        else:
            value = suggested.get(invoice.pk, "")
        rows.append({"invoice": invoice, "value": value, "errors": apply_errors.get(key, [])})
    return render(
        request,
        "credits/credit_note_detail.html",
        {
            "note": note,
            "rows": rows,
            "form_errors": apply_errors.get("__all__", []),
            "apply_prefix": APPLY_PREFIX,
        },
        status=status,
    )


@workspace_view
def credit_note_detail(request, pk):
    """A note: its lines, allocations (with unapply buttons), and the apply form."""
    return _detail(request, pk)


@require_POST
@workspace_view
def credit_note_apply(request, pk):
    """Apply the amounts entered per invoice (blank or zero rows are left out), all or none;
    errors are shown next to the invoice's amount."""
    organization = request.organization
    values = {
        name[len(APPLY_PREFIX) :]: value.strip()
        for name, value in request.POST.items()
        if name.startswith(APPLY_PREFIX)
    }
    allocations, order, errors = [], [], {}
    for invoice_id, text in values.items():
        amount = _decimal(text)
        if amount is None or amount == 0:
            continue
        if amount == "invalid":
            errors[invoice_id] = ["Enter an amount."]
            continue
        allocations.append({"invoice_id": invoice_id, "amount": amount})
        order.append(invoice_id)
    if not allocations and not errors:
        errors["__all__"] = ["Enter an amount for at least one invoice."]
    if not errors:
        try:
            note = services.credit_note_apply(
                organization=organization,
                credit_note_id=pk,
                allocations=allocations,
                created_by=_actor(request),
            )
        except NotFound:
            raise Http404("Not found.") from None
        except ApplicationError as exc:
            errors = _apply_errors(exc, order)
        else:
            messages.success(
                request,
                f"Credit note {note.number} applied to {len(allocations)} invoice"
                f"{'' if len(allocations) == 1 else 's'}.",
            )
            return redirect("credits:credit-note", pk=pk)
    return _detail(request, pk, apply_values=values, apply_errors=errors, status=400)


def _apply_errors(exc: ApplicationError, order: list[str]) -> dict:
    errors: dict = {}
    for name, messages_ in exc.fields.items():
        parts = name.split(".")
        if len(parts) >= 2 and parts[0] == "allocations" and parts[1].isdigit():
            index = int(parts[1])
            if index < len(order):
                errors.setdefault(order[index], []).extend(str(m) for m in messages_)
                continue
        errors.setdefault("__all__", []).extend(str(m) for m in messages_)
    if not errors or ("__all__" in errors and exc.message not in errors["__all__"]):
        errors.setdefault("__all__", []).insert(0, exc.message)
    return errors


@require_POST
@workspace_view
def credit_note_unapply(request, pk):
    """Unapply one allocation (its button on the detail page)."""
    _action(
        request,
        lambda: services.credit_note_unapply(
            organization=request.organization,
            credit_note_id=pk,
            allocation_ids=[request.POST.get("allocation_id", "")],
            unapplied_by=_actor(request),
        ),
        "Allocation unapplied: the invoice owes it again.",
    )
    return redirect("credits:credit-note", pk=pk)


@require_POST
@workspace_view
def credit_note_post(request, pk):
    _action(
        request,
        lambda: services.credit_note_post(organization=request.organization, credit_note_id=pk),
        "Posted to the ledger.",
    )
    return redirect("credits:credit-note", pk=pk)


@require_POST
@workspace_view
def credit_note_void(request, pk):
    _action(
        request,
        lambda: services.credit_note_void(organization=request.organization, credit_note_id=pk),
        "Voided.",
    )
    return redirect("credits:credit-note", pk=pk)


def _action(request, run, success: str) -> None:
    try:
        note = run()
    except NotFound:
        raise Http404("Not found.") from None
    except ApplicationError as exc:
        messages.error(request, _error_text(exc))
        return
    messages.success(request, f"Credit note {note.number}: {success}")


urlpatterns = [
    path("credit-notes/", credit_note_list, name="credit-notes"),
    path("credit-notes/new/", credit_note_new, name="credit-note-new"),
    path("credit-notes/<uuid:pk>/", credit_note_detail, name="credit-note"),
    path("credit-notes/<uuid:pk>/apply/", credit_note_apply, name="credit-note-apply"),
    path("credit-notes/<uuid:pk>/unapply/", credit_note_unapply, name="credit-note-unapply"),
    path("credit-notes/<uuid:pk>/post/", credit_note_post, name="credit-note-post"),
    path("credit-notes/<uuid:pk>/void/", credit_note_void, name="credit-note-void"),
]
