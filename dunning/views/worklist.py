"""The collector's worklist and the customer page's collections panel.

The worklist is ``selectors.worklist`` a page at a time, each row showing the figures behind
its priority in words (``dunning.worklist`` has the formula). Every action — log a call, add a
note, record a promise, open a dispute, send a statement — is one route,
``customer/<id>/<kind>/``: GET answers its small form (bare to htmx, which loads it into the
row or the panel; a page of its own to a plain link), POST runs the service and answers the
row or the panel again with an ``arpilot:toast`` event (htmx), or redirects back with a
message (a plain form). A refused form comes back with the error beside its field: 200 to
htmx (which swaps only a 2xx), 400 to a plain form. The panel (``customer/<id>/``) is the
customer's timeline (``selectors.activity_page``), its open promises and disputes and the
same actions; the customer page loads it by htmx.
"""

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.db.models import Count, Exists, Min, OuterRef, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from arpilot.errors import ApplicationError, NotFound, ValidationFailed
from arpilot.money import MAX_AMOUNT, ZERO
from arpilot.templatetags.money import format_money
from arpilot.workspace import (
    base_template,
    is_htmx,
    org_object_or_404,
    paginate,
    safe_next,
    workspace_view,
)
from customers import selectors as customer_selectors
from customers.models import Contact, Customer
from dunning import selectors, services
from dunning import worklist as formula
from dunning.models import CustomerNote, Dispute, DisputeReason, Promise, PromiseInvoice
from dunning.services.notes import MAX_BODY
from payments.forms import parse_money
from receivables.models import Invoice
from receivables.services import statements_send
from receivables.services.statements import statement_recipients

WORKLIST_PAGE = 25
PANEL_PAGE = 25
# Open invoices offered by the promise and dispute forms (oldest due first).
FORM_INVOICES = 100
PROMISE_DEFAULT_DAYS = 7
MAX_NOTE = 5000
# The custom htmx event (HX-Trigger) app.js shows in the toast.
TOAST_EVENT = "arpilot:toast"

KIND_LABELS = {
    "note": "Note",
    "call": "Call",
    "reminder": "Reminder",
    "promise_created": "Promise made",
    "promise_kept": "Promise kept",
    "promise_broken": "Promise broken",
    "promise_cancelled": "Promise cancelled",
    "dispute_opened": "Dispute opened",
    "dispute_resolved": "Dispute resolved",
    "payment": "Payment",
    "statement": "Statement sent",
    "statement_sent": "Statement sent",
}


def _plural(count: int, word: str, plural: str = "") -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _money(organization, value) -> str:
    return format_money(value, organization.currency)


def _toast(response, message: str, level: str = "success"):
    response["HX-Trigger"] = json.dumps({TOAST_EVENT: {"message": message, "level": level}})
    return response


def _uuid_choices(rows, *, blank: str = "") -> list:
    """Choices of (id, label) rows, after a blank "choose" one when ``blank`` is given."""
    choices = [(str(pk), label) for pk, label in rows]
    return [("", blank), *choices] if blank else choices


# --- the worklist --------------------------------------------------------------------------


class WorklistFilter(forms.Form):
    """The worklist's filters: one of the organization's tags, a minimum overdue amount."""

    tag_id = forms.TypedChoiceField(label="Tag", required=False, coerce=uuid.UUID, empty_value=None)
    min_overdue = forms.DecimalField(
        label="Minimum overdue",
        required=False,
        min_value=ZERO,
        max_value=MAX_AMOUNT,
        decimal_places=2,
        max_digits=14,
    )

    def __init__(self, *args, tags, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag_id"].choices = _uuid_choices(
            ((tag.pk, tag.name) for tag in tags), blank="Any tag"
        )


def _contact_words(days) -> str:
    if days is None:
        return "never contacted"
    if days <= 0:
        return "last contact today"
    return f"last contact {_plural(days, 'day')} ago"


def priority_sentence(row, organization) -> str:
    """The points behind the row's priority, each with the figure that gave it, in the order
    of ``dunning.worklist``'s formula: what the clerk reads under the row."""
    weighted = formula.weighted(row)
    sentence = (
        f"{float(weighted / formula.WEIGHT_PER_POINT):.1f} for "
        f"{_money(organization, formula.overdue_total(row))} overdue, weighted by age"
    )
    if row.broken_promises:
        points = formula.BROKEN_PROMISE_POINTS * row.broken_promises
        sentence += f" + {points} for {_plural(row.broken_promises, 'broken promise')}"
    days = row.days_since_last_contact
    gap = formula.CONTACT_GAP_CAP_DAYS if days is None else min(days, formula.CONTACT_GAP_CAP_DAYS)
    sentence += f" + {gap} for {_contact_words(days)}"
    if row.reminders_sent:
        points = formula.REMINDER_POINTS * row.reminders_sent
        sentence += f" + {points} for {_plural(row.reminders_sent, 'reminder')} sent"
    if row.open_promise:
        sentence += f" \u2212 {abs(formula.OPEN_PROMISE_POINTS)} for an open promise"
    if float(row.priority) == 0:
        sentence += " (never below 0)"
    return sentence


def _present(organization, rows: list) -> list:
    """Attach what the clerk reads to a page of worklist rows: the points behind the priority
    and the customer's open promises and disputes (two queries for the page)."""
    ids = [row.pk for row in rows]
    promises = {
        item["customer_id"]: item
        for item in Promise.objects.for_org(organization)
        .filter(customer_id__in=ids, status=Promise.Status.OPEN)
        .order_by()
        .values("customer_id")
        .annotate(count=Count("id"), amount=Sum("amount"), first_date=Min("promised_date"))
    }
    disputes = dict(
        Dispute.objects.for_org(organization)
        .filter(invoice__customer_id__in=ids, status=Dispute.Status.OPEN)
        .order_by()
        .values("invoice__customer_id")
        .annotate(count=Count("id"))
        .values_list("invoice__customer_id", "count")
    )
    for row in rows:
        row.overdue = formula.overdue_total(row)
        row.priority_shown = round(float(row.priority), 1)
        row.why = priority_sentence(row, organization)
        row.contact_words = _contact_words(row.days_since_last_contact).capitalize()
        row.open_promises = promises.get(row.pk)
        row.open_disputes = disputes.get(row.pk, 0)
    return rows


def _worklist_rows(organization, **filters):
    return selectors.worklist(
        organization=organization,
        today=services.organization_today(organization),
        now=timezone.now(),
        **filters,
    )


@require_GET
@workspace_view
def worklist(request):
    """Customers with overdue money, highest priority first, 25 a page, with the figures
    behind each priority; keyboard-driven (``static/js/collections.js``)."""
    organization = request.organization
    tags = list(customer_selectors.tag_list(organization=organization))
    form = WorklistFilter(request.GET or None, tags=tags)
    filters = {}
    if form.is_bound:
        form.is_valid()
        cleaned = form.cleaned_data
        if cleaned.get("tag_id"):
            filters["tag_id"] = cleaned["tag_id"]
        if cleaned.get("min_overdue") is not None:
            filters["min_overdue"] = cleaned["min_overdue"]
    page = paginate(request, _worklist_rows(organization, **filters), per_page=WORKLIST_PAGE)
    rows = _present(organization, list(page.object_list))
    return render(
        request,
        "dunning/worklist.html",
        {
            "form": form,
            "page_obj": page,
            "rows": rows,
            "filtered": bool(filters),
            "next_url": request.get_full_path(),
            "formula": formula,
        },
        status=400 if form.errors else 200,
    )


def _row_html(request, organization, customer, *, next_url: str) -> str:
    """The customer's worklist row again (after an action), or a line saying it left."""
    row = _worklist_rows(organization).filter(pk=customer.pk).first()
    if row is not None:
        _present(organization, [row])
    return render_to_string(
        "dunning/worklist_row.html",
        {"row": row, "customer": customer, "next_url": next_url, "flash": True},
        request=request,
    )


# --- the customer's collections panel ---------------------------------------------------------


@dataclass(frozen=True)
class TimelinePage:
    """What the panel's pager needs of ``selectors.activity_page``'s answer."""

    number: int
    per_page: int
    count: int

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.count / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def _page_number(request) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _dates_kept_whole(text: str):
    """The summary, escaped, each date in it a ``.date`` (never broken across lines)."""
    return mark_safe(ISO_DATE.sub(r'<span class="date">\g<0></span>', escape(text)))


def _open_promises(organization, customer) -> list:
    """The customer's open promises, each with its invoices (one query)."""
    lines = (
        PromiseInvoice.objects.for_org(organization)
        .filter(promise__customer_id=customer.pk, promise__status=Promise.Status.OPEN)
        .select_related("promise", "invoice")
        .order_by("promise__promised_date", "promise_id", "id")
    )
    promises: dict = {}
    for line in lines:
        promise = promises.get(line.promise_id)
        if promise is None:
            promise = promises[line.promise_id] = line.promise
            promise.shown_invoices = []
        promise.shown_invoices.append(line.invoice)
    return list(promises.values())


def _panel_context(organization, customer, *, page_number: int = 1) -> dict:
    """The panel: a page of the timeline (a page past the served window says so), the open
    promises and disputes."""
    error = ""
    try:
        items, total = selectors.activity_page(
            organization=organization,
            customer_id=customer.pk,
            page=page_number,
            per_page=PANEL_PAGE,
        )
    except ValidationFailed as exc:
        items, total, error = [], 0, exc.message
    entries = [
        {
            "item": item,
            "label": KIND_LABELS.get(item.type, item.type.replace("_", " ").capitalize()),
            "summary": _dates_kept_whole(item.summary),
        }
        for item in items
    ]
    disputes = list(
        Dispute.objects.for_org(organization)
        .filter(invoice__customer_id=customer.pk, status=Dispute.Status.OPEN)
        .select_related("invoice", "reason")
        .order_by("created_at", "id")
    )
    return {
        "customer": customer,
        "entries": entries,
        "timeline_page": TimelinePage(number=page_number, per_page=PANEL_PAGE, count=total),
        "timeline_error": error,
        "promises": _open_promises(organization, customer),
        "disputes": disputes,
        "next_url": reverse("customers:detail", args=[customer.pk]),
    }


@require_GET
@workspace_view
def customer_panel(request, customer_id):
    """A customer's collections: its timeline (newest first, 25 a page), its open promises and
    disputes, and the collector's actions (a panel of the customer page, loaded by htmx)."""
    organization = request.organization
    customer = org_object_or_404(Customer.objects.for_org(organization), pk=customer_id)
    context = _panel_context(organization, customer, page_number=_page_number(request))
    context["base_template"] = base_template(request)
    return render(request, "dunning/customer_panel.html", context)


# --- the actions ----------------------------------------------------------------------------


class NoteForm(forms.Form):
    """A note, or a logged call, about the customer (with one of its contacts)."""

    body = forms.CharField(max_length=MAX_BODY, widget=forms.Textarea)
    contact_id = forms.TypedChoiceField(
        label="Contact", required=False, coerce=uuid.UUID, empty_value=None
    )

    def __init__(self, *args, contacts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact_id"].choices = _uuid_choices(
            ((contact.pk, contact.contact_name) for contact in contacts),
            blank="No one in particular",
        )


class PromiseForm(forms.Form):
    """A promise to pay some of the customer's open invoices by a date."""

    invoice_ids = forms.TypedMultipleChoiceField(label="Invoices", coerce=uuid.UUID)
    amount = forms.CharField(label="Amount promised", max_length=40)
    promised_date = forms.DateField(label="Promised date")
    contact_id = forms.TypedChoiceField(
        label="Who promised", required=False, coerce=uuid.UUID, empty_value=None
    )
    note = forms.CharField(max_length=MAX_NOTE, required=False, widget=forms.Textarea)

    def __init__(self, *args, contacts, invoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice_ids"].choices = _uuid_choices(
            (invoice.pk, invoice.invoice_number) for invoice in invoices if not invoice.promised
        )
        self.fields["invoice_ids"].error_messages["invalid_choice"] = (
            "Choose open invoices of this customer not already promised."
        )
        self.fields["contact_id"].choices = _uuid_choices(
            ((contact.pk, contact.contact_name) for contact in contacts), blank="Not recorded"
        )

    def clean_amount(self):
        return parse_money(self.cleaned_data["amount"])


class DisputeForm(forms.Form):
    """A dispute of one of the customer's open invoices, for a reason of the organization's."""

    invoice_id = forms.TypedChoiceField(label="Invoice", coerce=uuid.UUID)
    reason_code = forms.ChoiceField(label="Reason")
    note = forms.CharField(max_length=MAX_NOTE, required=False, widget=forms.Textarea)

    def __init__(self, *args, invoices, reasons, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice_id"].choices = _uuid_choices(
            ((i.pk, i.invoice_number) for i in invoices if not i.disputed),
            blank="Choose an invoice",
        )
        self.fields["invoice_id"].error_messages["invalid_choice"] = (
            "Choose an open invoice of this customer that is not already disputed."
        )
        self.fields["reason_code"].choices = [
            ("", "Choose a reason"),
            *((reason.code, reason.label) for reason in reasons),
        ]
        self.fields["reason_code"].error_messages["invalid_choice"] = (
            "Choose one of the listed reasons."
        )


class ResolveForm(forms.Form):
    """Resolve one of the customer's open disputes: withdrawn (nothing moves), or a credit
    note / write-off of an amount (default: what the invoice owes), for approval."""

    invoice_id = forms.TypedChoiceField(label="Disputed invoice", coerce=uuid.UUID)
    resolution = forms.ChoiceField(
        label="Resolution",
        choices=[
            ("", "Choose a resolution"),
            ("withdrawn", "Withdrawn: the customer owes it after all"),
            ("credit_note", "Credit note: credit the amount against the invoice"),
            ("write_off", "Write-off: write the amount off"),
        ],
    )
    amount = forms.CharField(label="Amount", required=False, max_length=40)
    note = forms.CharField(max_length=MAX_NOTE, required=False, widget=forms.Textarea)

    def __init__(self, *args, disputes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice_id"].choices = _uuid_choices(
            ((d.invoice_id, d.invoice.invoice_number) for d in disputes),
            blank="Choose a disputed invoice",
        )
        self.fields["invoice_id"].error_messages["invalid_choice"] = (
            "Choose an invoice of this customer with an open dispute."
        )
        self.fields["resolution"].error_messages["invalid_choice"] = (
            "Choose one of the listed resolutions."
        )

    def clean_amount(self):
        text = (self.cleaned_data.get("amount") or "").strip()
        return parse_money(text) if text else None

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("resolution") == "withdrawn" and cleaned.get("amount") is not None:
            self.add_error("amount", "A withdrawn dispute moves no money: leave it empty.")
        return cleaned


class StatementForm(forms.Form):
    """Nothing to fill in: the statement (the last 90 days) goes to the listed addresses."""


def _contacts(organization, customer) -> list:
    return list(
        Contact.objects.for_org(organization)
        .filter(customer_id=customer.pk)
        .order_by("escalation_level", "-is_primary", "contact_name", "id")
    )


def _open_invoices(organization, customer) -> list:
    """The customer's open invoices with money due, oldest due first, each marked promised
    (an open promise covers it) and disputed (an open dispute)."""
    invoices = list(
        Invoice.objects.for_org(organization)
        .open()
        .filter(customer_id=customer.pk, amount_due__gt=0)
        .annotate(
            promised=Exists(
                PromiseInvoice.objects.filter(
                    invoice=OuterRef("pk"), promise__status=Promise.Status.OPEN
                )
            ),
            disputed=Exists(
                Dispute.objects.filter(invoice=OuterRef("pk"), status=Dispute.Status.OPEN)
            ),
        )
        .order_by("due_date", "invoice_number", "id")[:FORM_INVOICES]
    )
    today = services.organization_today(organization)
    for invoice in invoices:
        invoice.days_overdue = (today - invoice.due_date).days
    return invoices


@dataclass(frozen=True)
class Action:
    """One of the collector's actions: its form, what it needs, what it does."""

    kind: str
    title: str
    form: type
    needs: tuple  # of "contacts", "invoices", "reasons", "recipients"


ACTIONS = {
    "call": Action("call", "Log a call", NoteForm, ("contacts",)),
    "note": Action("note", "Add a note", NoteForm, ("contacts",)),
    "promise": Action("promise", "Record a promise to pay", PromiseForm, ("contacts", "invoices")),
    "dispute": Action("dispute", "Open a dispute", DisputeForm, ("invoices", "reasons")),
    "statement": Action("statement", "Send a statement", StatementForm, ("recipients",)),
    "resolve": Action("resolve", "Resolve a dispute", ResolveForm, ("disputes",)),
}


def _needs(action: Action, organization, customer) -> dict:
    loaders = {
        "contacts": lambda: _contacts(organization, customer),
        "invoices": lambda: _open_invoices(organization, customer),
        "reasons": lambda: list(
            DisputeReason.objects.for_org(organization)
            .filter(is_active=True)
            .order_by("label", "id")
        ),
        "recipients": lambda: statement_recipients(organization=organization, customer=customer),
        "disputes": lambda: _open_disputes(organization, customer),
    }
    return {name: loaders[name]() for name in action.needs}


def _open_disputes(organization, customer) -> list:
    """The customer's open disputes with their invoices, oldest first."""
    return list(
        selectors.dispute_list(organization=organization)
        .filter(invoice__customer_id=customer.pk, status=Dispute.Status.OPEN)
        .select_related("invoice")
        .order_by("created_at", "id")
    )


def _form(action: Action, data, needs: dict, customer, organization, *, preset=None):
    names = ("contacts", "invoices", "reasons", "disputes")
    kwargs = {key: needs[key] for key in names if key in needs}
    initial = {}
    if action.kind == "resolve" and preset:
        initial = {"invoice_id": preset}
    if action.kind == "promise":
        overdue = [i for i in needs["invoices"] if i.days_overdue > 0 and not i.promised]
        initial = {
            "invoice_ids": [str(invoice.pk) for invoice in overdue],
            "amount": str(sum((invoice.amount_due for invoice in overdue), ZERO))
            if overdue
            else "",
            "promised_date": services.organization_today(organization)
            + timedelta(days=PROMISE_DEFAULT_DAYS),
        }
    return action.form(data, initial=initial, auto_id=f"{action.kind}-{customer.pk}-%s", **kwargs)


def _run(action: Action, request, customer, data: dict, needs: dict) -> str:
    """Run the action's service; what it did, in words (for the toast or the message)."""
    organization = request.organization
    name = customer.company_name
    if action.kind in ("call", "note"):
        services.note_create(
            organization=organization,
            customer_id=customer.pk,
            kind=CustomerNote.Kind.CALL if action.kind == "call" else CustomerNote.Kind.NOTE,
            body=data["body"],
            contact_id=data["contact_id"],
        )
        return f"Call with {name} logged." if action.kind == "call" else f"Note on {name} added."
    if action.kind == "promise":
        promise = services.promise_create(
            organization=organization,
            customer_id=customer.pk,
            invoice_ids=data["invoice_ids"],
            amount=data["amount"],
            promised_date=data["promised_date"],
            contact_id=data["contact_id"],
            note=data["note"],
        )
        numbers = ", ".join(
            i.invoice_number for i in needs["invoices"] if i.pk in set(data["invoice_ids"])
        )
        return (
            f"Promise recorded: {_money(organization, promise.amount)} from {name} by "
            f"{promise.promised_date:%Y-%m-%d} ({numbers}); dunning pauses for them until then."
        )
    if action.kind == "dispute":
        dispute = services.dispute_open(
            organization=organization,
            invoice_id=data["invoice_id"],
            reason_code=data["reason_code"],
            note=data["note"],
        )
        number = next(i.invoice_number for i in needs["invoices"] if i.pk == dispute.invoice_id)
        return (
            f"Invoice {number} disputed ({dispute.reason.label}); it leaves dunning until "
            "the dispute is resolved."
        )
    if action.kind == "resolve":
        dispute = services.dispute_resolve(
            organization=organization,
            invoice_id=data["invoice_id"],
            resolution=data["resolution"],
            note=data["note"],
            amount=data["amount"],
        )
        number = next(d.invoice.invoice_number for d in needs["disputes"] if d.pk == dispute.pk)
        if dispute.resolution == Dispute.Resolution.WITHDRAWN:
            return f"Dispute of invoice {number} withdrawn; the invoice is dunned again."
        what = "credited" if dispute.resolution == Dispute.Resolution.CREDIT_NOTE else "written off"
        return (
            f"Dispute of invoice {number} resolved: {_money(organization, dispute.resolution_amount)} "
            f"{what}, waiting for approval under Accounting changes."
        )
    # statement
    if not needs["recipients"]:
        raise ValidationFailed("No contact of this customer has an email address.")
    queued = statements_send(organization=organization, customer_ids=[customer.pk])
    if not queued.queued:
        raise ValidationFailed("No contact of this customer has an email address.")
    return f"Statement of account for {name} queued to {', '.join(needs['recipients'])}."


def _add_errors(form, exc: ApplicationError) -> None:
    """A service's refusal beside the field it names (the whole form's otherwise)."""
    fields = exc.fields or {}
    if not fields:
        target = "invoice_id" if "invoice_id" in form.fields else None
        form.add_error(target, exc.message)
        return
    for field, errors in fields.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _origin(request) -> str:
    wanted = request.POST.get("origin") or request.GET.get("origin")
    return "panel" if wanted == "panel" else "worklist"


def _slot_id(origin: str, customer) -> str:
    return "collections-slot" if origin == "panel" else f"wl-slot-{customer.pk}"


def _done(request, customer, origin: str, message: str, next_url: str):
    """After an action: the row or the panel again with a toast (htmx), else back."""
    organization = request.organization
    if not is_htmx(request):
        messages.success(request, message)
        return redirect(next_url)
    if origin == "panel":
        context = _panel_context(organization, customer)
        context["base_template"] = "includes/fragment.html"
        context["flash"] = True
        response = HttpResponse(
            render_to_string("dunning/customer_panel.html", context, request=request)
        )
        response["HX-Retarget"] = "#collections-panel"
    else:
        response = HttpResponse(_row_html(request, organization, customer, next_url=next_url))
        response["HX-Retarget"] = f"#wl-{customer.pk}"
    response["HX-Reswap"] = "outerHTML"
    return _toast(response, message)


@require_http_methods(["GET", "POST"])
@workspace_view
def action(request, customer_id, kind):
    """One of the collector's actions on a customer: its form (GET), done (POST)."""
    wanted = ACTIONS.get(kind)
    if wanted is None:
        raise Http404("No such action.")
    organization = request.organization
    customer = org_object_or_404(Customer.objects.for_org(organization), pk=customer_id)
    origin = _origin(request)
    fallback = (
        reverse("customers:detail", args=[customer.pk])
        if origin == "panel"
        else reverse("collections:worklist")
    )
    next_url = safe_next(request, fallback)
    needs = _needs(wanted, organization, customer)
    status = 200
    if request.method == "POST":
        form = _form(wanted, request.POST, needs, customer, organization)
        if form.is_valid():
            try:
                message = _run(wanted, request, customer, form.cleaned_data, needs)
            except NotFound as exc:
                raise Http404(exc.message) from exc
            except ApplicationError as exc:
                _add_errors(form, exc)
            else:
                return _done(request, customer, origin, message, next_url)
        # htmx swaps only a 2xx answer: the refused form comes back as one, beside its row.
        status = 200 if is_htmx(request) else 400
    else:
        preset = request.GET.get("invoice_id")
        form = _form(wanted, None, needs, customer, organization, preset=preset)
    selected = set()  # the invoices ticked (the promise form's checkboxes)
    if "invoice_ids" in form.fields:
        selected = {str(value) for value in form["invoice_ids"].value() or []}
    return render(
        request,
        f"dunning/action_{kind}.html",
        {
            "action": wanted,
            "form": form,
            "customer": customer,
            "origin": origin,
            "slot_id": _slot_id(origin, customer),
            "next_url": next_url,
            "htmx": is_htmx(request),
            "base_template": base_template(request),
            "selected": selected,
            "action_url": reverse("collections:action", args=[customer.pk, kind]),
            **needs,
        },
        status=status,
    )


# Included by dunning/urls.py (namespace "collections").
routes = [
    path("", worklist, name="worklist"),
    path("customer/<uuid:customer_id>/", customer_panel, name="customer-panel"),
    path("customer/<uuid:customer_id>/<slug:kind>/", action, name="action"),
]
