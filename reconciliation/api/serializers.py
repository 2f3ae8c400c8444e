from rest_framework import serializers

from arpilot.api.fields import money_out
from reconciliation.models import AccountingChange, SyncTarget
from reconciliation.payloads import PAYLOAD_KEYS_HELP
from reconciliation.rendering import render_change

MAX_IDS = 1000


def nullable_text(**kwargs) -> serializers.CharField:
    return serializers.CharField(read_only=True, allow_null=True, **kwargs)


# --- output -----------------------------------------------------------------------------


class ChangeLedgerLineSerializer(serializers.Serializer):
    account_number = serializers.IntegerField(read_only=True)
    account_name = serializers.CharField(read_only=True)
    account_type = serializers.CharField(read_only=True, help_text="asset, liability, equity…")
    fund_id = serializers.IntegerField(read_only=True)
    fund_name = serializers.CharField(read_only=True)
    debit = money_out()
    credit = money_out()


class ChangePayloadSerializer(serializers.Serializer):
    date = serializers.CharField(read_only=True, help_text="Posting date (YYYY-MM-DD)")
    currency = serializers.CharField(read_only=True)
    memo = serializers.CharField(read_only=True)
    invoice_id = nullable_text()
    invoice_number = nullable_text()
    customer_id = nullable_text()
    customer_name = nullable_text()
    customer_external_id = nullable_text()
    payment_id = nullable_text()
    payment_reference = nullable_text()
    payment_date = nullable_text(help_text="YYYY-MM-DD")
    payer_name = nullable_text()
    journal_entry_ids = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="The ARPilot ledger entries"
    )
    lines = ChangeLedgerLineSerializer(
        many=True, read_only=True, help_text="Balanced debit and credit lines"
    )


class AccountingChangeSerializer(serializers.Serializer):
    """An accounting change: one money event on its way to the general ledger."""

    id = serializers.UUIDField(read_only=True)
    sequence = serializers.IntegerField(
        read_only=True,
        help_text="Increases with each change of the organization, in creation order (gaps "
        "possible)",
    )
    approval_sequence = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Increases with each approval of the organization (null until approved): "
        "sync in this order, and resume a pull with `sequence_after` set to the largest one "
        "seen",
    )
    change_type = serializers.ChoiceField(
        choices=AccountingChange.ChangeType.choices, read_only=True
    )
    status = serializers.ChoiceField(
        choices=AccountingChange.Status.choices,
        read_only=True,
        help_text="pending → approved → synced or failed; or rejected",
    )
    amount = money_out()
    invoice_id = serializers.UUIDField(read_only=True, allow_null=True)
    customer_id = serializers.UUIDField(read_only=True, allow_null=True)
    payment_id = serializers.UUIDField(read_only=True, allow_null=True)
    payload = ChangePayloadSerializer(read_only=True, help_text=PAYLOAD_KEYS_HELP)
    approved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    synced_at = serializers.DateTimeField(read_only=True, allow_null=True)
    failed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    rejected_at = serializers.DateTimeField(read_only=True, allow_null=True)
    rejection_reason = serializers.CharField(read_only=True)
    caused_by = serializers.CharField(
        read_only=True, help_text="Who made the change (a user or API key); empty for ARPilot"
    )
    decided_by = serializers.CharField(read_only=True, help_text="Who approved or rejected it")
    error_message = serializers.CharField(
        read_only=True, help_text="Why the last sync attempt failed"
    )
    attempts = serializers.IntegerField(read_only=True, help_text="Sync attempts made")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance):
        return render_change(instance)


class ChangeSkippedSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    reason = serializers.CharField(
        read_only=True,
        help_text="`unknown id` (no such change in your organization), `wrong status: <status>` "
        "(e.g. `wrong status: pending`), or `cannot unapply: <why>` (reject only)",
    )


class ChangeBatchResultSerializer(serializers.Serializer):
    """Which changes were updated, and which were skipped and why (in request order)."""

    updated = serializers.ListField(child=serializers.UUIDField(), read_only=True)
    skipped = ChangeSkippedSerializer(many=True, read_only=True)


class SyncTargetSerializer(serializers.ModelSerializer):
    last_success_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_failure_at = serializers.DateTimeField(read_only=True, allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="After a rotation, the old secret also signs until then (24 hours)",
    )

    class Meta:
        model = SyncTarget
        fields = [
            "id",
            "url",
            "enabled",
            "last_success_at",
            "last_failure_at",
            "last_error",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SyncTargetWithSecretSerializer(SyncTargetSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="Signing secret (`whsec_…`), shown only on create and rotate-secret",
    )

    class Meta(SyncTargetSerializer.Meta):
        fields = [*SyncTargetSerializer.Meta.fields, "secret"]
        read_only_fields = fields


# --- input ------------------------------------------------------------------------------


class ChangeIdsInput(serializers.Serializer):
    change_ids = serializers.ListField(
        child=serializers.UUIDField(),
        allow_empty=False,
        max_length=MAX_IDS,
        help_text=f"Accounting change UUIDs (1 to {MAX_IDS})",
    )


class RejectInput(ChangeIdsInput):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Why (kept on the change)"
    )


class SyncStatusInput(ChangeIdsInput):
    action = serializers.ChoiceField(
        choices=[("mark_synced", "mark_synced"), ("mark_failed", "mark_failed")],
        help_text="`mark_synced` (from approved or failed) or `mark_failed` (from approved)",
    )
    error_message = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Error description, kept on the changes with mark_failed",
    )


class SyncTargetInput(serializers.Serializer):
    url = serializers.CharField(
        max_length=2000,
        required=False,
        help_text="HTTPS URL resolving to a public address; required when none is configured",
    )
    enabled = serializers.BooleanField(
        required=False, help_text="Pause (false) or resume (true) pushing"
    )
