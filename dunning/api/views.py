import math

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from arpilot.api.pagination import (
    DEFAULT_PER_PAGE,
    MAX_PAGE,
    MAX_PER_PAGE,
    positive_int_param,
)
from arpilot.api.views import ListModelMixin, OrgScopedViewSet, RetrieveModelMixin
from arpilot.queueing import task_send
from customers.models import Customer
from dunning import selectors, services, tasks, worklist
from dunning.api import serializers as s
from dunning.filters import PromiseFilterSet, ReminderFilterSet
from dunning.models import DunningPolicy
from receivables.models import Invoice


class CollectionsViewSet(OrgScopedViewSet):
    """The organization's dunning policy and its run (one policy per organization)."""

    serializer_class = s.PolicySerializer
    filter_backends = []
    pagination_class = None  # one policy; a dry run answers every planned reminder

    def scoped_queryset(self, organization):
        return DunningPolicy.objects.for_org(organization)

    def get_object(self):
        """The organization's policy (the route has no id; OPTIONS asks for it too)."""
        return services.policy_get_or_seed(organization=self.organization)

    @extend_schema(
        summary="Get the dunning policy",
        description="Each organization starts with four levels (friendly, firm, final, "
        "escalate); templates use the Django template language.",
        responses={200: s.PolicySerializer},
    )
    def policy_get(self, request):
        return self.respond(services.policy_get_or_seed(organization=self.organization))

    @extend_schema(
        summary="Replace the dunning policy",
        description="Every field is required; `levels` replaces the levels. A template that "
        "does not compile is a 400 naming it (`levels.0.body_html`).",
        request=s.PolicySerializer,
        responses={200: s.PolicySerializer},
    )
    def policy_put(self, request):
        data = self.get_input(s.PolicySerializer)
        policy = services.policy_update(
            organization=self.organization,
            enabled=data["enabled"],
            run_at=data["run_at"],
            minimum_overdue=data["minimum_overdue"],
            remittance_instructions=data["remittance_instructions"],
            levels=[dict(level) for level in data["levels"]],
        )
        return self.respond(policy)

    @extend_schema(
        summary="Run dunning now",
        description="With `dry_run`, answers `{data: [...]}`: the reminders a run would "
        "queue now, sending nothing. Otherwise queues the run and answers `{queued: true}` "
        "(202). A run sends each invoice a level once, so running twice sends nothing twice.",
        request=s.RunInput,
        responses={200: s.PlannedReminderSerializer(many=True), 202: s.RunQueuedSerializer},
    )
    def run(self, request):
        data = self.get_input(s.RunInput)
        if data["dry_run"]:
            plans = services.dunning_plan(organization=self.organization)
            return Response({"data": [plan.as_dict() for plan in plans]})
        queued = task_send(tasks.run_task, args=[self.organization.pk], later="run it again")
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)


class ReminderViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Reminders the dunning runs queued, newest first."""

    schema_docs = {
        "list": ("List reminders", "Newest first."),
        "retrieve": ("Get a reminder", ""),
    }
    serializer_class = s.ReminderSerializer
    filterset_class = ReminderFilterSet

    def scoped_queryset(self, organization):
        return selectors.reminder_list(organization=organization)


class PromiseViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Promises to pay: their invoices are out of dunning until the promised date."""

    schema_docs = {
        "list": ("List promises to pay", "Newest first."),
        "retrieve": ("Get a promise to pay", ""),
        "create": (
            "Record a promise to pay",
            "Dunning pauses for `invoice_ids` until `promised_date`. Kept once the invoices "
            "owe `amount` less than when it was made; broken the day after `promised_date` "
            "(organization time zone) otherwise, and dunning resumes (`promise.broken`).",
        ),
        "partial_update": (
            "Change or cancel a promise to pay",
            "Only an open promise changes; `status` may only be set to `cancelled`.",
        ),
    }
    serializer_class = s.PromiseSerializer
    input_serializers = {"create": s.PromiseCreateInput, "partial_update": s.PromiseUpdateInput}
    filterset_class = PromiseFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scoped_queryset(self, organization):
        return selectors.promise_list(organization=organization)

    @extend_schema(responses={201: s.PromiseSerializer})
    def create(self, request):
        data = self.get_input()
        promise = services.promise_create(organization=self.organization, **data)
        return self.respond(self.reload(promise), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        data = self.get_input(partial=True)
        promise = services.promise_update(
            organization=self.organization, promise_id=self.get_url_pk(), **data
        )
        return self.respond(self.reload(promise))


class DisputeViewSet(OrgScopedViewSet):
    """An invoice's dispute (served under ``/invoices/{id}/dispute``)."""

    serializer_class = s.DisputeSerializer
    filter_backends = []

    def scoped_queryset(self, organization):
        return Invoice.objects.for_org(organization)

    @extend_schema(
        summary="Dispute an invoice",
        description="The invoice leaves dunning until the dispute is resolved. One open "
        "dispute per invoice (a second is a 409); only an open invoice is disputed.",
        request=s.DisputeOpenInput,
        responses={201: s.DisputeSerializer},
    )
    def open(self, request, pk=None):
        data = self.get_input(s.DisputeOpenInput)
        dispute = services.dispute_open(
            organization=self.organization, invoice_id=self.get_url_pk(), **data
        )
        return self.respond(self._reload(dispute), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Resolve an invoice's dispute",
        description="`withdrawn`, `credit_note` or `write_off`, recorded with the note; the "
        "invoice returns to dunning if still owed. `credit_note` (Dr 4900 Sales credits / "
        "Cr receivable) and `write_off` (Dr 6950 write-offs / Cr receivable) take `amount` "
        "(default: all the invoice owes) off its balance (it is paid when nothing is left) "
        "and record a pending accounting change (`credit_note` or `write_off`) for approval; "
        "the dispute shows `resolution_amount`, `journal_entry_id` and "
        "`accounting_change_id`. 400 naming `amount` when it is not above zero, exceeds "
        "what the invoice owes, or comes with `withdrawn`; 409 without an open dispute.",
        request=s.DisputeResolveInput,
        responses={200: s.DisputeSerializer},
    )
    def resolve(self, request, pk=None):
        data = self.get_input(s.DisputeResolveInput)
        dispute = services.dispute_resolve(
            organization=self.organization, invoice_id=self.get_url_pk(), **data
        )
        return self.respond(self._reload(dispute))

    def _reload(self, dispute):
        return selectors.dispute_list(organization=self.organization).get(pk=dispute.pk)


class WorklistViewSet(OrgScopedViewSet):
    """The collector's worklist: customers with overdue money, by priority."""

    serializer_class = s.WorklistRowSerializer
    filter_backends = []

    def scoped_queryset(self, organization):
        return Customer.objects.for_org(organization)

    @extend_schema(
        summary="The collector's worklist",
        description="One row per customer with overdue money, highest `priority` first (then "
        "`overdue_total`, then customer id), with the figures behind it and "
        "`priority_reasons` in words. " + worklist.FORMULA,
        parameters=[s.WorklistQuery],
        responses={200: s.WorklistRowSerializer(many=True)},
    )
    def worklist(self, request):
        query = s.WorklistQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.worklist(
            organization=self.organization,
            today=services.organization_today(self.organization),
            now=timezone.now(),
            min_overdue=query.validated_data.get("min_overdue"),
            tag_id=query.validated_data.get("tag_id"),
        )
        return self.respond_list(rows)


class CustomerActivityViewSet(OrgScopedViewSet):
    """A customer's collections timeline and its notes (under ``/customers/{id}/``)."""

    serializer_class = s.ActivityItemSerializer
    filter_backends = []

    def scoped_queryset(self, organization):
        return Customer.objects.for_org(organization)

    @extend_schema(
        summary="A customer's activity timeline",
        description="Newest first: notes and calls, reminders (at `sent_at`, else when "
        "queued), promises (made, kept, broken, cancelled), disputes (opened, resolved) and "
        "payments applied to its invoices, and statements emailed (`statement_sent`: those "
        "the mail server took, at when they were queued; `ids.email_id`). Only the "
        f"newest {selectors.ACTIVITY_MAX_WINDOW} items are paged through (a 400 naming "
        "`page` past them). 404 for a customer of another organization.",
        parameters=[
            OpenApiParameter("page", int, description="Page number (1 is the newest)"),
            OpenApiParameter("per_page", int, description="Items a page (default 25, max 100)"),
        ],
        responses={200: s.ActivityItemSerializer(many=True)},
    )
    def activity(self, request, pk=None):
        customer_id = self.get_object_pk()
        page = positive_int_param(request, "page", 1, MAX_PAGE)
        per_page = positive_int_param(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
        items, total = selectors.activity_page(
            organization=self.organization, customer_id=customer_id, page=page, per_page=per_page
        )
        data = s.ActivityItemSerializer(items, many=True).data
        return Response(
            {
                "data": data,
                "pagination": {
                    "page": page,
                    "per_page": per_page,
                    "total": total,
                    "total_pages": math.ceil(total / per_page) if total else 0,
                },
            }
        )

    @extend_schema(
        summary="Add a note or log a call",
        description="`kind` is `note` or `call`; `contact_id`, if given, is one of the "
        "customer's contacts (400 naming it otherwise). Recorded with the caller as "
        "`created_by`. 404 for a customer of another organization.",
        request=s.NoteCreateInput,
        responses={201: s.NoteSerializer},
    )
    def note(self, request, pk=None):
        customer_id = self.get_url_pk()
        data = self.get_input(s.NoteCreateInput)
        note = services.note_create(organization=self.organization, customer_id=customer_id, **data)
        body = s.NoteSerializer(note).data
        return Response({"data": body}, status=status.HTTP_201_CREATED)
