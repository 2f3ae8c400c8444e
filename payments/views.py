"""Clerk pages of payments: the review queue (apply a suggestion, search and split, unapply,
write off a short-payment, mark reviewed — each updating its row in place), the payment
list and page, and bank-file imports."""

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.cache import cache
from django.core.files.uploadhandler import (
    FileUploadHandler,
    SkipFile,
    TemporaryFileUploadHandler,
)
from django.db.models import Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template import engines
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt, csrf_protect
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
from payments import services
from payments.api.serializers import IMPORT_MAX_BYTES
from payments.forms import AllocationsForm, QueueFilterForm
from payments.models import MatchSuggestion, Payment, PaymentAllocation
from receivables.models import Invoice

QUEUE_PAGE = 50
# Rendered queue rows are cached under a digest of what they show (see ``_row_key``).
ROW_CACHE_SECONDS = 600
ROW_TEMPLATE = "payments/review_row.html"  # Jinja2: templates/jinja2/
SUGGESTIONS_SHOWN = 3
SEARCH_LIMIT = 10


# --- reads ----------------------------------------------------------------------------------


def _payments(organization):
    """Payments with their active allocations (and those invoices' balances) and their
    suggestions: three queries for any number of payments."""
    return Payment.objects.for_org(organization).prefetch_related(
        Prefetch(
            "allocations",
            queryset=PaymentAllocation.objects.filter(unapplied_at__isnull=True)
            .select_related("invoice")
            .order_by("invoice__invoice_number", "id"),
            to_attr="active_allocations",
        ),
        Prefetch(
            "suggestions",
            queryset=MatchSuggestion.objects.filter(rank__lte=SUGGESTIONS_SHOWN).order_by("rank"),
        ),
    )


def _filter(queryset, form: QueueFilterForm):
    if not form.is_valid():
        return queryset.none()
    data = form.cleaned_data
    if data["search"].strip():
        term = data["search"].strip()
        queryset = queryset.filter(
            Q(payer_name__icontains=term)
            | Q(payer_reference__icontains=term)
            | Q(external_payment_id__icontains=term)
        )
    if data["status"]:
        queryset = queryset.filter(status=data["status"])
    if data["auto_applied"]:
        queryset = queryset.filter(auto_applied=data["auto_applied"] == "true")
    if data["import_id"]:
        queryset = queryset.filter(payment_import_id=data["import_id"])
    return queryset


PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


class UrlPattern:
    """A route reversed once with a placeholder id; ``for_(id)`` fills it in (a page of 50
    rows needs hundreds of links, and ``reverse`` per link was most of its render time)."""

    def __init__(self, name: str, *extra):
        self.url = reverse(name, args=[PLACEHOLDER, *extra])

    def for_(self, pk) -> str:
        return self.url.replace(PLACEHOLDER, str(pk), 1)


def _row_urls() -> dict:
    names = {
        "detail": "payments:detail",
        "allocate": "payments:allocate",
        "write_off": "payments:write-off",
        "unapply": "payments:unapply",
        "review": "payments:review-mark",
        "search": "payments:invoice-search",
        "split": "payments:split-panel",
    }
    return {key: UrlPattern(name) for key, name in names.items()}


@dataclass
class SuggestedInvoice:
    id: str
    url: str
    number: str
    detail: str  # "Customer name · due $12.00", escaped by the template
    open: bool


def _attach_suggestions(organization, payments: list[Payment]) -> None:
    """Give each payment its links, ``top_suggestions`` with the suggested invoices' current
    balances (one query for the whole page) and the short texts its row shows (built here
    once rather than by many template nodes per row)."""
    currency = organization.currency
    wanted = {
        invoice_id
        for payment in payments
        for suggestion in list(payment.suggestions.all())[:SUGGESTIONS_SHOWN]
        for invoice_id in suggestion.invoice_ids
    }
    invoices = {}
    if wanted:
        invoices = {
            str(invoice.pk): invoice
            for invoice in Invoice.objects.for_org(organization)
            .filter(pk__in=list(wanted))
            .select_related("customer")
            .only(
                "id",
                "invoice_number",
                "amount_due",
                "status",
                "customer_name",
                "customer__company_name",
            )
        }
    patterns = _row_urls()
    invoice_url = UrlPattern("receivables:invoice")
    apply_url = UrlPattern("payments:apply", 1)
    for payment in payments:
        payment.urls = {key: pattern.for_(payment.pk) for key, pattern in patterns.items()}
        # Invoices are in the organization's currency; a payment in another one applies to
        # none of them (the service refuses it; the row says why).
        payment.currency_note = services.payment_currency_mismatch(payment, currency)
        payment.meta = " · ".join(
            part
            for part in (
                payment.payment_date.isoformat(),
                payment.payment_method,
                payment.external_payment_id,
            )
            if part
        )
        for allocation in payment.active_allocations:
            allocation.invoice_url = invoice_url.for_(allocation.invoice_id)
            allocation.detail = (
                f"(due now {format_money(allocation.invoice.amount_due, currency)}, "
                f"{allocation.invoice.get_status_display().lower()})"
            )
        payment.top_suggestions = []
        for suggestion in list(payment.suggestions.all())[:SUGGESTIONS_SHOWN]:
            suggestion.invoices = []
            for invoice_id, number in zip(
                suggestion.invoice_ids, suggestion.invoice_numbers, strict=False
            ):
                invoice = invoices.get(str(invoice_id))
                detail = ""
                if invoice is not None:
                    detail = (
                        f"{invoice.rendered_customer_name} · due "
                        f"{format_money(invoice.amount_due, currency)}"
                    )
                suggestion.invoices.append(
                    SuggestedInvoice(
                        id=str(invoice_id),
                        url=invoice_url.for_(invoice_id),
                        number=invoice.invoice_number if invoice else number,
                        detail=detail,
                        open=bool(invoice and invoice.status in Invoice.OPEN_STATUSES),
                    )
                )
            suggestion.apply_url = apply_url.for_(payment.pk)[: -len("/1")] + (
                f"/{suggestion.rank}"
            )
            suggestion.percent = round(suggestion.score * 100)
            # Escaped here with format_html_join: the queue shows up to 150 of these, and
            # as template loops they were most of the page's render time.
            suggestion.links = format_html_join(
                ", ",
                '<a href="{}">{}</a> <span class="muted small">{}</span>',
                ((item.url, item.number, item.detail) for item in suggestion.invoices),
            )
            suggestion.evidence = format_html_join(
                "", "<li>{}</li>", ((reason,) for reason in suggestion.reasons)
            )
            suggestion.still_fits = bool(suggestion.invoices) and all(
                item.open for item in suggestion.invoices
            )
            payment.top_suggestions.append(suggestion)
        # A fully applied payment shows only the evidence of its best suggestion.
        applied = payment.status == Payment.Status.APPLIED
        payment.shown_suggestions = (
            payment.top_suggestions[:1] if applied else payment.top_suggestions
        )
        payment.short_total = sum(
            (
                allocation.invoice.amount_due
                for allocation in payment.active_allocations
                if not allocation.write_off_amount
                and allocation.invoice.status in Invoice.OPEN_STATUSES
            ),
            Decimal("0.00"),
        )
        payment.row_key = _row_key(payment, currency)


def _row_key(payment: Payment, currency: str) -> str:
    """A digest of everything a queue row shows, so a cached row is reused only while it
    would render the same (the payment, its allocations and suggestions, the invoices'
    balances and statuses, the currency)."""
    parts = [
        currency,
        payment.currency,
        str(payment.pk),
        payment.updated_at.isoformat(),
        payment.status,
        str(payment.applied_amount),
        str(payment.written_off_amount),
        str(payment.short_total),
        str(payment.reviewed),
        payment.meta,
        payment.payer_name,
        payment.payer_reference,
        payment.notes,
    ]
    for allocation in payment.active_allocations:
        parts += [str(allocation.pk), allocation.invoice.invoice_number, str(allocation.amount)]
        parts += [str(allocation.write_off_amount), allocation.detail]
    for suggestion in payment.top_suggestions:
        parts += [str(suggestion.pk), str(suggestion.still_fits), str(suggestion.amount)]
        parts += [f"{item.number}|{item.detail}|{item.open}" for item in suggestion.invoices]
        parts += [str(reason) for reason in suggestion.reasons]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _row_html(
    payment: Payment,
    currency: str,
    *,
    flash: bool = False,
    error: str = "",
    changes: list[str] = (),
    split_html: str = "",
) -> str:
    """A payment's review row (after ``_attach_suggestions``), rendered by Jinja2."""
    template = engines["jinja2"].get_template(ROW_TEMPLATE).template
    # The template autoescapes everything it interpolates.
    return mark_safe(
        template.render(
            payment=payment,
            currency=currency,
            flash=flash,
            error=error,
            changes=changes,
            split_inline=bool(split_html),
            split_html=split_html,
        )
    )


def _attach_rows(payments: list[Payment], currency: str) -> None:
    """Give each payment its ``row_html``: the rows cached under their digest come from one
    cache read; the others are rendered and cached together."""
    keys = {payment.pk: f"review-row:{payment.row_key}" for payment in payments}
    cached = cache.get_many(list(keys.values()))
    fresh = {}
    for payment in payments:
        html = cached.get(keys[payment.pk])
        if html is None:
            html = fresh[keys[payment.pk]] = str(_row_html(payment, currency))
        payment.row_html = mark_safe(html)  # rendered (and escaped) by the row template
    if fresh:
        cache.set_many(fresh, ROW_CACHE_SECONDS)


def _queue_context(request, queryset, *, reviewed: bool | None):
    form = QueueFilterForm(request.GET)
    queryset = _filter(queryset, form)
    if reviewed is not None:
        queryset = queryset.filter(reviewed=reviewed)
    page = paginate(
        request, queryset.order_by("-payment_date", "-created_at", "-id"), per_page=QUEUE_PAGE
    )
    payments = list(page.object_list)
    _attach_suggestions(request.organization, payments)
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
    context = _queue_context(request, _payments(request.organization), reviewed=False)
    _attach_rows(context["payments"], context["currency"])
    return render(request, "payments/review_queue.html", context)


@workspace_view
def payment_list(request):
    """Every payment (reviewed or not), filterable."""
    context = _queue_context(request, _payments(request.organization), reviewed=None)
    return render(request, "payments/payment_list.html", context)


@workspace_view
def payment_detail(request, pk):
    """One payment as its review-queue row, with its allocation history."""
    organization = request.organization
    payment = org_object_or_404(_payments(organization), pk=pk)
    _attach_suggestions(organization, [payment])
    next_url = request.get_full_path()
    split_html = render_to_string(
        "payments/split_panel.html", {"payment": payment, "next_url": next_url}, request=request
    )
    payment.row_html = _row_html(payment, organization.currency, split_html=split_html)
    history = (
        PaymentAllocation.objects.for_org(organization)
        .filter(payment=payment)
        .select_related("invoice")
        .order_by("created_at", "id")
    )
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
    payment = org_object_or_404(_payments(organization), pk=pk)
    _attach_suggestions(organization, [payment])
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
        invoices = (
            Invoice.objects.for_org(organization)
            .open()
            .filter(
                Q(invoice_number__icontains=term)
                | Q(customer_name__icontains=term)
                | Q(customer__company_name__icontains=term)
                | Q(customer__external_id__iexact=term)
            )
            .select_related("customer")
            .order_by("due_date", "invoice_number")[:SEARCH_LIMIT]
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
    allocations = (
        PaymentAllocation.objects.for_org(organization)
        .filter(invoice=invoice)
        .select_related("payment")
        .order_by("created_at", "id")
    )
    return render(
        request,
        "payments/invoice_panel.html",
        {"invoice": invoice, "allocations": allocations, "base_template": base_template(request)},
    )


# --- actions --------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Balances before an action, to show the clerk what it changed."""

    payment_status: str
    applied: Decimal
    written_off: Decimal
    reviewed: bool
    invoices: dict


def _invoice_states(organization, ids) -> dict:
    return {
        invoice.pk: invoice
        for invoice in Invoice.objects.for_org(organization)
        .filter(pk__in=list(ids))
        .only("id", "invoice_number", "amount_due", "status")
    }


def _snapshot(organization, payment: Payment, extra_invoice_ids=()) -> Snapshot:
    ids = {allocation.invoice_id for allocation in payment.active_allocations}
    ids.update(extra_invoice_ids)
    return Snapshot(
        payment_status=payment.status,
        applied=payment.applied_amount,
        written_off=payment.written_off_amount,
        reviewed=payment.reviewed,
        invoices=_invoice_states(organization, ids),
    )


def _changes(organization, before: Snapshot, payment: Payment) -> list[str]:
    """What an action changed, in words: the payment's status and money, each invoice's
    amount due and status."""
    currency = organization.currency  # the invoices' (and write-offs')
    paid_in = payment.currency or currency  # the payment's own
    labels = dict(Payment.Status.choices)
    lines = []
    if before.payment_status != payment.status:
        lines.append(f"Payment: {labels[before.payment_status]} → {labels[payment.status]}")
    if before.applied != payment.applied_amount:
        lines.append(
            f"Applied: {format_money(before.applied, paid_in)} → "
            f"{format_money(payment.applied_amount, paid_in)}"
        )
    if before.written_off != payment.written_off_amount:
        lines.append(
            f"Written off: {format_money(before.written_off, currency)} → "
            f"{format_money(payment.written_off_amount, currency)}"
        )
    ids = set(before.invoices) | {a.invoice_id for a in payment.active_allocations}
    after = _invoice_states(organization, ids)
    statuses = dict(Invoice.Status.choices)
    for invoice_id in sorted(after, key=lambda pk: after[pk].invoice_number):
        new = after[invoice_id]
        old = before.invoices.get(invoice_id)
        if old is None or (old.amount_due, old.status) == (new.amount_due, new.status):
            continue
        text = (
            f"{new.invoice_number}: due {format_money(old.amount_due, currency)} → "
            f"{format_money(new.amount_due, currency)}"
        )
        if old.status != new.status:
            text += f" ({statuses[old.status]} → {statuses[new.status]})"
        lines.append(text)
    if before.reviewed != payment.reviewed:
        lines.append("Marked reviewed" if payment.reviewed else "Back in the review queue")
    return lines


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
    payment = _payments(organization).get(pk=payment_pk)
    _attach_suggestions(organization, [payment])
    changes = _changes(organization, before, payment) if before and not error else []
    if is_htmx(request):
        return HttpResponse(
            _row_html(payment, organization.currency, flash=True, error=error, changes=changes)
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
    return org_object_or_404(_payments(request.organization), pk=pk)


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
    before = _snapshot(organization, payment, _uuid_list(suggestion.invoice_ids))
    allocations = _spread(suggestion, before.invoices, payment)
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
    import uuid

    result = []
    for value in values:
        try:
            result.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return result


def _spread(suggestion: MatchSuggestion, invoices: dict, payment: Payment) -> list[dict]:
    held = {a.invoice_id: a.amount + a.write_off_amount for a in payment.active_allocations}
    remaining = min(suggestion.amount, payment.amount)
    allocations = []
    for invoice_id in _uuid_list(suggestion.invoice_ids):
        invoice = invoices.get(invoice_id)
        if invoice is None or remaining <= 0:
            continue
        available = invoice.amount_due + held.get(invoice_id, Decimal("0"))
        amount = min(remaining, available)
        if amount > 0:
            allocations.append({"invoice_id": invoice_id, "amount": amount})
            remaining -= amount
    return allocations


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
    before = _snapshot(organization, payment, [item["invoice_id"] for item in allocations])
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
    before = _snapshot(organization, payment)
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
    before = _snapshot(organization, payment)
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
    before = _snapshot(organization, payment)
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


# --- imports --------------------------------------------------------------------------------

RECENT_IMPORTS = 20


# The most a bank file may weigh: the API's limit (POST /api/v1/payments/import).
UPLOAD_MAX_BYTES = IMPORT_MAX_BYTES


def _megabytes(size: int) -> str:
    """``52428800`` → ``50 MB`` (``1 KB``, ``100 bytes`` for the small limits of tests)."""
    for unit, name in ((1024 * 1024, "MB"), (1024, "KB")):
        if size >= unit:
            return f"{size / unit:.4g} {name}"
    return f"{size} bytes"


def _too_large(filename: str, limit: int) -> str:
    return (
        f"{filename or 'The file'} is larger than {_megabytes(limit)}, the most a bank file "
        "may be. Split it, or export a shorter period."
    )


class _SizeLimitHandler(FileUploadHandler):
    """The first upload handler of the upload page: counts each file's bytes as they arrive
    and, past ``limit``, skips the rest of that file (the handlers after it close and delete
    what they had written), remembering its name in ``too_large``."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.too_large: list[str] = []

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large.append(self.file_name or "")
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler makes the file


@csrf_exempt  # checked by csrf_protect below, once the upload handlers are in place
def import_upload(request):
    """Upload a bank file (its import runs in the background) and see recent imports.

    The upload streams to a temporary file in chunks (never whole into memory), and a file
    over ``UPLOAD_MAX_BYTES`` is cut off as soon as it passes the limit: a form error naming
    the file and the limit, nothing stored."""
    limiter = None
    if request.method == "POST":
        # Before anything reads request.POST (CSRF included): handlers apply only to an
        # upload not yet parsed.
        limiter = _SizeLimitHandler(request, UPLOAD_MAX_BYTES)
        request.upload_handlers = [limiter, TemporaryFileUploadHandler(request)]
    return _import_upload(request, limiter)


@csrf_protect
@workspace_view
def _import_upload(request, limiter):
    from payments.forms import ImportForm
    from payments.selectors import payment_import_list

    organization = request.organization
    form = ImportForm(request.POST or None, request.FILES or None)
    form.fields[
        "file"
    ].help_text = f"CSV, OFX/QFX, BAI2, camt.053 XML or MT940, up to {_megabytes(UPLOAD_MAX_BYTES)}"
    if limiter is not None and limiter.too_large:
        form.full_clean()
        form.errors["file"] = form.error_class([_too_large(limiter.too_large[0], limiter.limit)])
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > UPLOAD_MAX_BYTES:
            form.add_error("file", _too_large(upload.name, UPLOAD_MAX_BYTES))
        else:
            try:
                payment_import = services.payment_import_create(
                    organization=organization, filename=upload.name, data=_read(upload)
                )
            except ApplicationError as exc:
                form.add_error("file", _error_text(exc))
            else:
                return redirect("payments:import-detail", pk=payment_import.pk)
            finally:
                upload.close()  # a temporary file is deleted now
    imports = payment_import_list(organization=organization)[:RECENT_IMPORTS]
    return render(
        request,
        "payments/import.html",
        {"form": form, "imports": imports},
        status=400 if form.errors else 200,
    )


def _read(upload) -> bytes:
    """The uploaded file's bytes (within the limit), read from its temporary file in chunks."""
    return b"".join(upload.chunks())


@workspace_view
def import_detail(request, pk):
    """An import's progress (polled while it runs) and then its outcome."""
    from payments.selectors import payment_import_list

    payment_import = org_object_or_404(
        payment_import_list(organization=request.organization), pk=pk
    )
    template = (
        "payments/import_progress.html" if is_htmx(request) else "payments/import_detail.html"
    )
    return render(request, template, {"import": payment_import})
