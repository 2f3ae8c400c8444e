"""Credit notes over the API (/api/v1/credit-notes): list, create, get, change (post, void),
apply to invoices and unapply."""

import django_filters
from django.db.models import Exists, OuterRef, Q
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.routers import SimpleRouter

from arpilot.api.filtering import FilterSet
from arpilot.api.views import ListModelMixin, OrgScopedViewSet, RetrieveModelMixin
from credits.api import credit_note_serializers as s
from credits.models import CreditNote, CreditNoteAllocation
from credits.services import credit_notes as services


class CreditNoteFilterSet(FilterSet):
    """Shared by the API and the credit notes page."""

    status = django_filters.ChoiceFilter(choices=CreditNote.Status.choices, help_text="Status")
    customer_id = django_filters.UUIDFilter(field_name="customer_id", help_text="Customer UUID")
    invoice_id = django_filters.UUIDFilter(
        method="filter_invoice",
        help_text="Invoice UUID: notes against it, or applied to it (even if since unapplied)",
    )
    currency = django_filters.CharFilter(
        method="filter_currency", help_text="ISO 4217 code (case-insensitive)"
    )

    class Meta:
        model = CreditNote
        fields = []

    def filter_currency(self, queryset, name, value):
        value = value.strip().upper()
        return queryset.filter(currency=value) if value else queryset

    def filter_invoice(self, queryset, name, value):
        applied = CreditNoteAllocation.objects.filter(credit_note=OuterRef("pk"), invoice_id=value)
        return queryset.filter(Q(invoice_id=value) | Exists(applied))


def _actor(request) -> str:
    key = getattr(request, "auth", None)
    name = getattr(key, "name", "") or ""
    return f"api:{name}"[:150] if name else "api"


class CreditNoteViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Credit notes: customer documents with GL lines that lower what the customer owes.

    Created as a draft (`status: "posted"` posts at once), numbered `CN-<n>` unless `number`
    is given (unique in the organization, 409 when taken), in `currency` (default the
    organization's base; every amount at most its decimal places), optionally against an
    invoice of the same customer and currency. Posting writes one journal entry (Dr each
    line's account, default 4900 Sales credits / Cr the receivable account) and a pending
    `credit_note` accounting change; `amount_remaining` is then the amount. Applying lowers
    open invoices' `amount_due` (status derived, `invoice.updated`/`invoice.paid`) and
    `amount_remaining`; no GL money moves (receivable to receivable): each allocation records a
    `credit_note` accounting change with no ledger lines. Unapplying marks allocations
    `unapplied_at` (never deleted). A posted note with nothing applied can be voided (its
    entry reversed).
    """

    schema_docs = {
        "list": (
            "List credit notes",
            "Newest issue date first. Filters `customer_id`, `status`, `invoice_id` (against "
            "it or applied to it), `currency`.",
        ),
        "create": ("Create a credit note", ""),
        "retrieve": ("Get a credit note", "404 for another organization's note."),
        "partial_update": (
            "Change a credit note",
            "A draft: anything of create (`lines` replace its lines; `amount` alone resizes a "
            "one-line note). A posted or void note: only `memo` (anything else is a 409). "
            '`status: "posted"` posts a draft; `status: "void"` voids a draft, or a posted '
            "note with nothing applied (409 otherwise).",
        ),
    }
    serializer_class = s.CreditNoteSerializer
    input_serializers = {
        "create": s.CreditNoteCreateInput,
        "partial_update": s.CreditNoteUpdateInput,
    }
    filterset_class = CreditNoteFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scoped_queryset(self, organization):
        return services.credit_note_list(organization=organization)

    @extend_schema(responses={201: s.CreditNoteSerializer})
    def create(self, request, *args, **kwargs):
        data = dict(self.get_input())
        note = services.credit_note_create(
            organization=self.organization,
            customer=data.pop("customer_id"),
            ar_account=data.pop("ar_account_number", None),
            **data,
        )
        return self.respond(self.reload(note), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        data = dict(self.get_input(partial=True))
        if "customer_id" in data:
            data["customer"] = data.pop("customer_id")
        if "ar_account_number" in data:
            data["ar_account"] = data.pop("ar_account_number")
        note = services.credit_note_update(
            organization=self.organization,
            credit_note_id=self.get_url_pk(),
            lines=data.pop("lines", None),
            changes=data,
        )
        return self.respond(self.reload(note))

    @extend_schema(
        summary="Apply a credit note",
        description='`allocations: [{"invoice_id", "amount"}]`, all applied or none: each '
        "invoice open, the note's customer's, in its currency (400 naming "
        "`allocations.<i>.invoice_id` otherwise; 409 for an invoice that is not open), each "
        "amount above zero and at most the invoice's `amount_due` (400 naming "
        "`allocations.<i>.amount`), together at most the note's `amount_remaining` (400 "
        "naming `allocations`). Only a posted note applies (409). Each invoice's `amount_due` "
        "drops (status derived; `invoice.updated`, `invoice.paid`), and each allocation "
        "records a pending `credit_note` accounting change with no ledger lines (receivable "
        "to receivable). Returns the note.",
        request=s.CreditNoteApplyInput,
        responses={200: s.CreditNoteSerializer},
    )
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        data = self.get_input(s.CreditNoteApplyInput)
        note = services.credit_note_apply(
            organization=self.organization,
            credit_note_id=self.get_url_pk(),
            allocations=data["allocations"],
            created_by=_actor(request),
        )
        return self.respond(self.reload(note))

    @extend_schema(
        summary="Unapply a credit note",
        description="`allocation_ids`: applied allocations of this note, all taken back or "
        "none. Each is kept with `unapplied_at`; its invoice owes the amount again (status "
        "derived) and the note has it left again; a pending `credit_note` accounting change "
        "with the negative amount. An id that is not an allocation of this note is a 400 "
        "naming `allocation_ids`; one already unapplied is a 409. Returns the note.",
        request=s.CreditNoteUnapplyInput,
        responses={200: s.CreditNoteSerializer},
    )
    @action(detail=True, methods=["post"])
    def unapply(self, request, pk=None):
        data = self.get_input(s.CreditNoteUnapplyInput)
        note = services.credit_note_unapply(
            organization=self.organization,
            credit_note_id=self.get_url_pk(),
            allocation_ids=data["allocation_ids"],
            unapplied_by=_actor(request),
        )
        return self.respond(self.reload(note))


router = SimpleRouter(trailing_slash=False)
router.register("credit-notes", CreditNoteViewSet, basename="credit-note")

urlpatterns = router.urls
