import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from arpilot.api.views import (
    ListModelMixin,
    OrgScopedViewSet,
    RetrieveModelMixin,
)
from arpilot.errors import NotFound
from webhooks import selectors, services
from webhooks.api import serializers as s
from webhooks.events import ALL_EVENTS
from webhooks.filters import DeliveryFilterSet


class WebhookEndpointViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Webhook endpoints of the caller's organization, their deliveries and secrets."""

    schema_docs = {
        "list": ("List webhook endpoints", ""),
        "create": (
            "Create a webhook endpoint",
            "The reply carries the signing secret, shown this once.",
        ),
        "retrieve": ("Get a webhook endpoint", ""),
        "update": ("Update a webhook endpoint", ""),
        "partial_update": ("Update a webhook endpoint", "Only the fields sent change."),
        "destroy": ("Delete a webhook endpoint", "Stop sending events to this endpoint."),
        "test": ("Send a test event", ""),
        "rotate_secret": ("Rotate the signing secret", ""),
        "deliveries": ("List deliveries", ""),
        "redeliver": ("Redeliver", ""),
    }

    serializer_class = s.EndpointSerializer
    input_serializers = {
        "create": s.EndpointCreateInput,
        "update": s.EndpointUpdateInput,
        "partial_update": s.EndpointUpdateInput,
    }

    def scoped_queryset(self, organization):
        return selectors.endpoint_list(organization=organization)

    @extend_schema(responses={201: s.EndpointWithSecretSerializer})
    def create(self, request):
        data = self.get_input()
        endpoint = services.endpoint_create(
            organization=self.organization,
            url=data["url"],
            events=data.get("events", [ALL_EVENTS]),
            description=data.get("description", ""),
            is_active=data.get("is_active", True),
        )
        return self._respond_with_secret(endpoint, status=201)

    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        data = self.get_input(partial=True)
        endpoint = services.endpoint_update(endpoint=endpoint, **data)
        return self.respond(endpoint)

    @extend_schema(description="Same as PATCH: only the fields sent change.")
    def update(self, request, pk=None):
        return self.partial_update(request, pk)

    def destroy(self, request, pk=None):
        services.endpoint_delete(endpoint=self.get_object())
        return Response({"success": True})

    @extend_schema(request=None, responses={200: s.QueuedSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Queue a `webhook.test` event to this endpoint."""
        services.endpoint_send_test(endpoint=self.get_object())
        return Response({"queued": True})

    @extend_schema(request=None, responses={200: s.EndpointWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """Replace the signing secret; the old one keeps signing beside it for 24 hours."""
        endpoint = services.endpoint_rotate_secret(endpoint=self.get_object())
        return self._respond_with_secret(endpoint)

    @extend_schema(
        responses={200: s.DeliverySerializer(many=True)},
        parameters=[
            OpenApiParameter(
                "status",
                enum=["pending", "succeeded", "failed"],
                description="pending (waiting for its next attempt), succeeded or failed",
            )
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        """This endpoint's deliveries, newest first, each with its attempts."""
        endpoint = self.get_object()
        queryset = selectors.delivery_list(organization=self.organization, endpoint_id=endpoint.pk)
        filterset = DeliveryFilterSet(request.query_params, queryset=queryset)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        data = s.DeliverySerializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(request=None, responses={200: s.DeliverySerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_id>[^/]+)/redeliver",
    )
    def redeliver(self, request, pk=None, delivery_id=None):
        """Send a succeeded or failed delivery again (same `webhook-id`, fresh attempts)."""
        endpoint = self.get_object()
        delivery = self._delivery(endpoint, delivery_id)
        delivery = services.delivery_redeliver(delivery=delivery)
        return Response({"data": s.DeliverySerializer(self._delivery(endpoint, delivery.pk)).data})

    def _delivery(self, endpoint, delivery_id):
        try:
            delivery_id = uuid.UUID(str(delivery_id))
        except ValueError:
            raise NotFound("Not found.") from None
        queryset = selectors.delivery_list(organization=self.organization, endpoint_id=endpoint.pk)
        delivery = queryset.filter(pk=delivery_id).first()
        if delivery is None:
            raise NotFound("Not found.")
        return delivery

    def _respond_with_secret(self, endpoint, status=200):
        data = s.EndpointWithSecretSerializer(endpoint).data
        return Response({"data": data}, status=status)
