"""OpenAPI generation that matches what the API really sends: envelopes, errors, headers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

ERROR_COMPONENT = "Error"

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "validation_error",
                        "not_authenticated",
                        "permission_denied",
                        "not_found",
                        "method_not_allowed",
                        "not_acceptable",
                        "conflict",
                        "payload_too_large",
                        "unsupported_media_type",
                        "unprocessable",
                        "throttled",
                    ],
                },
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "existing_id": {
                    "type": "string",
                    "format": "uuid",
                    "description": "On a 409 for a unique value already taken (also by a "
                    "concurrent request): the id of the object that holds it.",
                },
            },
            "additionalProperties": True,
        }
    },
}

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `error.fields` names each offending field.",
    "401": "Missing or invalid API key.",
    "403": "Not allowed.",
    "404": "No such object in your organization.",
    "409": "Conflict with the current state: a duplicate (`error.existing_id` names the object "
    "that holds the value), or an idempotent request in flight.",
    "413": "Request body too large.",
    "415": "Unsupported content type.",
    "422": "Idempotency-Key reused with a different request, or an impossible operation.",
    "429": "Rate limit exceeded; see Retry-After.",
}


class BareSerializer(serializers.Serializer):
    """Base of replies the seed shows bare, not under ``data`` (``{"assigned": 3}``)."""

    envelope = False


class SuccessSerializer(BareSerializer):
    success = serializers.BooleanField()


class ArpilotAutoSchema(AutoSchema):
    # extend_schema(request=…, responses=…) on an action takes precedence over these: its
    # generated subclass answers before calling them.
    def get_request_serializer(self):
        inputs = getattr(self.view, "input_serializers", {}) or {}
        action = getattr(self.view, "action", None)
        if action in inputs:
            return inputs[action]
        return super().get_request_serializer()

    def get_response_serializers(self):
        action = getattr(self.view, "action", None)
        if action == "destroy":
            return {"200": SuccessSerializer}
        output = getattr(self.view, "serializer_class", None)
        if action in {"list", "retrieve", "create", "update", "partial_update"} and output:
            return {"201": output} if action == "create" else output
        return super().get_response_serializers()

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if self.method == "POST":
            params.append(
                OpenApiParameter(
                    name="Idempotency-Key",
                    type=str,
                    location=OpenApiParameter.HEADER,
                    required=False,
                    description="Replays of the same key and body return the first response.",
                )
            )
        return params

    def _get_response_for_code(
        self, serializer, status_code, media_types=None, direction="response"
    ):
        result = super()._get_response_for_code(serializer, status_code, media_types, direction)
        inner = serializer.response if isinstance(serializer, OpenApiResponse) else serializer
        wraps = (
            getattr(self.view, "envelope", True)
            and status_code.startswith("2")
            and inner is not None
            and not isinstance(inner, dict)
            and getattr(inner, "envelope", True) is not False
            and not (self._is_list_view(inner) and self._get_paginator())
        )
        if wraps:
            for media in result.get("content", {}).values():
                media["schema"] = {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": media["schema"]},
                }
        return result

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        self.registry.register_on_missing(
            ResolvedComponent(
                name=ERROR_COMPONENT,
                type=ResolvedComponent.SCHEMA,
                schema=_ERROR_SCHEMA,
                object=ERROR_COMPONENT,
            )
        )
        codes = ["400", "401", "403", "404", "429"]
        if self.method in {"POST", "PUT", "PATCH", "DELETE"}:
            codes += ["409", "422"]
        if self.method in {"POST", "PUT", "PATCH"}:
            codes += ["413", "415"]
        ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
        for code in codes:
            responses.setdefault(
                code,
                {
                    "description": _ERROR_DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": ref}},
                },
            )
        return responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "arpilot.api.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "ARPilot API key (arp_…)"}
