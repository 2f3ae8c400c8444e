from rest_framework import serializers

from arpilot.api.schema import BareSerializer
from webhooks.events import ALL_EVENTS, EVENT_TYPES, catalogue_markdown
from webhooks.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint

EVENTS_HELP = (
    'Event types to subscribe to, or `["*"]` for every type (the default). The catalogue:\n\n'
    + catalogue_markdown()
    + "\n\nEach delivery is a POST of `{id, type, created_at, data}` signed per Standard "
    "Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature` headers)."
)


# --- output -----------------------------------------------------------------------------------
class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField(), help_text=EVENTS_HELP)
    disabled_at = serializers.DateTimeField(
        allow_null=True, help_text="When ARPilot disabled the endpoint (410, or failing 5 days)"
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "is_active",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        help_text="Signing secret (`whsec_…`), shown only on create and rotate-secret"
    )
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="After a rotation, the old secret also signs until then (24 hours)",
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret", "previous_secret_expires_at"]
        read_only_fields = fields


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDeliveryAttempt
        fields = ["number", "status_code", "duration_ms", "error", "response_snippet", "created_at"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    endpoint_id = serializers.UUIDField(read_only=True)
    event_id = serializers.UUIDField(read_only=True)
    event_type = serializers.CharField(source="event.event_type", read_only=True)
    payload = serializers.JSONField(source="event.payload", read_only=True)
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint_id",
            "event_id",
            "event_type",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "payload",
            "attempts",
        ]
        read_only_fields = fields


class QueuedSerializer(BareSerializer):
    queued = serializers.BooleanField()


# --- input ------------------------------------------------------------------------------------
class EventsField(serializers.ListField):
    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", EVENTS_HELP)
        super().__init__(
            child=serializers.ChoiceField(choices=[*EVENT_TYPES, ALL_EVENTS]),
            allow_empty=False,
            max_length=len(EVENT_TYPES) + 1,
            **kwargs,
        )

    def to_internal_value(self, data):
        events = list(dict.fromkeys(super().to_internal_value(data)))
        if ALL_EVENTS in events and len(events) > 1:
            raise serializers.ValidationError('"*" subscribes to every event; send it alone.')
        return events


class EndpointCreateInput(serializers.Serializer):
    url = serializers.CharField(
        max_length=2000, help_text="HTTPS URL; must resolve to a public address"
    )
    events = EventsField(required=False)
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Internal label"
    )
    is_active = serializers.BooleanField(required=False, help_text="Pause or resume delivery")


class EndpointUpdateInput(EndpointCreateInput):
    url = serializers.CharField(
        max_length=2000, required=False, help_text="HTTPS URL; must resolve to a public address"
    )
