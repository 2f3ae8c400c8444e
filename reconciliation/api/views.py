from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from arpilot.actors import actor_of
from arpilot.api.schema import SuccessSerializer
from arpilot.api.views import ListModelMixin, OrgScopedViewSet, RetrieveModelMixin
from arpilot.errors import NotFound
from reconciliation import selectors, services
from reconciliation.api import serializers as s
from reconciliation.filters import ANY_STATUS, DEFAULT_STATUS, AccountingChangeFilterSet
from reconciliation.models import AccountingChange

CHANGE_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Accounting change UUID"
)


class AccountingChangeViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Accounting changes in `sequence` order: by default the approved ones, waiting to be
    synced to the general ledger."""

    serializer_class = s.AccountingChangeSerializer
    filterset_class = AccountingChangeFilterSet

    def scoped_queryset(self, organization):
        return selectors.change_list(organization=organization)

    @extend_schema(
        summary="List approved changes",
        description="Approved accounting changes (or those of `status`), oldest first "
        "(`sequence` order). An integration pulls them, posts them to its ledger and reports "
        "back with `POST /reconciliation/sync-status`; `sequence_after` resumes a pull.",
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=[*AccountingChange.Status.values, ANY_STATUS],
                default=DEFAULT_STATUS.value,
                description="Filter by status; `approved` when absent, `any` for every status",
            )
        ],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Get accounting change",
        description="One accounting change of any status by its UUID.",
        parameters=[CHANGE_ID],
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Retry a failed change",
        description="A failed change goes back to `approved` with a fresh set of sync "
        "attempts and is queued again. Any other status is a `409`.",
        request=None,
        responses={200: s.AccountingChangeSerializer},
        parameters=[CHANGE_ID],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def retry(self, request, pk=None):
        change = services.change_retry(change=self.get_object())
        return self.respond(change)


BATCH_RESPONSE = {200: s.ChangeBatchResultSerializer}


class ReconciliationViewSet(OrgScopedViewSet):
    """Batch operations on accounting changes: `{"data": {"updated": [...], "skipped":
    [{"id", "reason"}]}}`; ids of other organizations are reported as `unknown id`."""

    serializer_class = s.ChangeBatchResultSerializer
    filter_backends = []

    def scoped_queryset(self, organization):
        return selectors.change_list(organization=organization)

    def _respond(self, result: services.BatchResult) -> Response:
        return Response({"data": result.as_dict()})

    @extend_schema(
        summary="Update sync status",
        description="Mark accounting changes as synced (from `approved` or `failed`) or "
        "failed (from `approved`, keeping `error_message`). The reply lists the ids updated "
        "and those skipped with the reason: `unknown id` or `wrong status: <status>`.",
        request=s.SyncStatusInput,
        responses=BATCH_RESPONSE,
    )
    @action(detail=False, methods=["post"], url_path="sync-status")
    def sync_status(self, request):
        data = self.get_input(s.SyncStatusInput)
        result = services.changes_sync_status(
            organization=self.organization,
            action=data["action"],
            change_ids=data["change_ids"],
            error_message=data.get("error_message", ""),
        )
        return self._respond(result)

    @extend_schema(
        summary="Approve changes",
        description="Approve pending changes (they become available to sync, and get their "
        "`approval_sequence`). Others are skipped: `unknown id`, `wrong status: <status>`, and "
        "with the organization's maker-checker rule on, `maker-checker: …` for a change this "
        "API key made itself.",
        request=s.ChangeIdsInput,
        responses=BATCH_RESPONSE,
    )
    @action(detail=False, methods=["post"])
    def approve(self, request):
        data = self.get_input(s.ChangeIdsInput)
        result = services.changes_approve(
            organization=self.organization,
            change_ids=data["change_ids"],
            decided_by=_decider(request),
        )
        return self._respond(result)

    @extend_schema(
        summary="Reject changes",
        description="Reject pending or failed changes. A rejected change whose money moved has "
        "it reversed in ARPilot: rejecting a `payment_applied` change unapplies that "
        "application of the payment, rejecting an `offline_payment` change reverses the "
        "offline payment (a ledger reversal; the invoice's balance is restored); the change "
        "that reversal records, which offsets it, is rejected too. A `write_off` or "
        "`payment_unapplied` change cannot be rejected alone, nor a `credit_note` or a "
        "dispute's `write_off` (the invoice's balance was lowered in ARPilot: approve it so "
        "the ledger follows), nor a `refund` (the money was paid out of the customer's "
        "credit). Skipped: `unknown id`, "
        "`wrong status: <status>`, `cannot unapply: <why>`, `cannot reverse: <why>`, and the "
        "reasons above.",
        request=s.RejectInput,
        responses=BATCH_RESPONSE,
    )
    @action(detail=False, methods=["post"])
    def reject(self, request):
        data = self.get_input(s.RejectInput)
        result = services.changes_reject(
            organization=self.organization,
            change_ids=data["change_ids"],
            reason=data.get("reason", ""),
            decided_by=_decider(request),
        )
        return self._respond(result)


def _decider(request) -> str:
    actor = actor_of(request._request)
    return actor.name if actor else "api"


class SyncTargetViewSet(OrgScopedViewSet):
    """The organization's accounting push target (one per organization)."""

    serializer_class = s.SyncTargetSerializer
    filter_backends = []

    def scoped_queryset(self, organization):
        from reconciliation.models import SyncTarget

        return SyncTarget.objects.for_org(organization)

    def get_object(self):
        target = selectors.sync_target_get(organization=self.organization)
        if target is None:
            raise NotFound("No sync target is configured.")
        return target

    @extend_schema(
        summary="Get the sync target",
        description="The push target, or `404` when none is configured (integrations then "
        "pull approved changes through `GET /reconciliation/changes`).",
        responses={200: s.SyncTargetSerializer},
    )
    def retrieve(self, request):
        return self.respond(self.get_object())

    @extend_schema(
        summary="Create or update the sync target",
        description="Approved changes are POSTed there in `sequence` order, in batches of up "
        'to 100: `{id, type: "accounting_changes.batch", created_at, data: {organization_id, '
        "changes: [...]}}`, signed like webhooks (Standard Webhooks headers `webhook-id`, "
        "`webhook-timestamp`, `webhook-signature`). A 2xx marks the batch synced; anything "
        "else is retried with backoff (5 attempts over about 45 minutes) and then marks the "
        "changes failed. Creating returns `201` with the signing `secret` (shown once); "
        "updating returns `200` without it. Only the fields sent change.",
        request=s.SyncTargetInput,
        responses={201: s.SyncTargetWithSecretSerializer, 200: s.SyncTargetSerializer},
    )
    def update(self, request):
        data = self.get_input(s.SyncTargetInput)
        target, created = services.sync_target_save(organization=self.organization, **data)
        if created:
            body = s.SyncTargetWithSecretSerializer(target).data
            return Response({"data": body}, status=status.HTTP_201_CREATED)
        return self.respond(target)

    @extend_schema(
        summary="Delete the sync target",
        description="Stop pushing; integrations pull approved changes instead.",
        responses={200: SuccessSerializer},
    )
    def destroy(self, request):
        services.sync_target_delete(target=self.get_object())
        return Response({"success": True})

    @extend_schema(
        summary="Rotate the sync target's secret",
        description="A new signing secret (returned this once); the old one keeps signing "
        "beside it for 24 hours.",
        request=None,
        responses={200: s.SyncTargetWithSecretSerializer},
    )
    def rotate_secret(self, request):
        target = services.sync_target_rotate_secret(target=self.get_object())
        return Response({"data": s.SyncTargetWithSecretSerializer(target).data})
