"""OpenAPI generation that matches what the API really sends: envelopes, errors, headers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, append_meta, get_doc
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

ERROR_COMPONENT = "Error"
CONFLICT_COMPONENT = "ConflictError"

_ERROR_CODES = [
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
    "server_error",
]


def _error_schema(description: str, **extra_properties) -> dict:
    return {
        "type": "object",
        "description": description,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": _ERROR_CODES},
                    "message": {"type": "string", "description": "Readable explanation"},
                    "fields": {
                        "type": "object",
                        "description": "On a 400: the messages of each offending field, by "
                        'its path (e.g. `"contacts.0.email"`)',
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                    **extra_properties,
                },
                "additionalProperties": True,
            }
        },
    }


_ERROR_SCHEMA = _error_schema("An error reply.")
_CONFLICT_SCHEMA = _error_schema(
    "A 409 reply: `code` is `conflict`.",
    existing_id={
        "type": "string",
        "description": "When a unique value is already taken (also by a concurrent request): "
        "the id of the object that holds it, as a string (a UUID; a fund's integer id for "
        "funds). Absent for other conflicts (an idempotent "
        "request still in flight, or a state that forbids the change).",
    },
)

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
    "405": "Method not allowed on this path.",
    "406": "The Accept header asks for a media type the API cannot produce "
    "(it answers `application/json`).",
    "429": "Rate limit exceeded; retry after the number of seconds in `Retry-After`.",
    "500": "Unexpected server error (`error.code` is `server_error`); safe to retry with the "
    "same `Idempotency-Key`.",
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before the next request.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier request with "
        "the same `Idempotency-Key` and body (a replay); absent otherwise.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}

# --- money --------------------------------------------------------------------------------------
# Every DecimalField of the API with two or three places is money. Responses send JSON
# numbers; requests take a JSON number or a numeric string. No ``multipleOf: 0.01``:
# JSON-schema validators check it with floats and refuse exact values such as 0.07.
# Three places: an amount checked against its currency's own places (BHD three, USD two,
# JPY none); responses send every amount exactly, with up to three places.
MONEY_NOTE = "a decimal with two places"
MONEY_NOTE_CURRENCY = (
    "a decimal with the currency's places: two, none in JPY, three in BHD, KWD and the like"
)
MONEY_NOTE_OUT = "a decimal: two places, none in JPY, three in BHD, KWD and the like"
MONEY_STRING_PATTERN = r"^-?\d{1,12}(\.\d{1,2})?$"
MONEY_STRING_PATTERN_UNSIGNED = r"^\d{1,12}(\.\d{1,2})?$"
MONEY_STRING_PATTERN_3 = r"^-?\d{1,12}(\.\d{1,3})?$"
MONEY_STRING_PATTERN_3_UNSIGNED = r"^\d{1,12}(\.\d{1,3})?$"


def _is_money(field) -> bool:
    return (
        isinstance(field, serializers.DecimalField)
        and field.decimal_places in (2, 3)
        and field.max_digits in (14, 15)
    )


def money_schema(field, direction: str) -> dict:
    number = {"type": "number", "format": "decimal"}
    if field.min_value is not None:
        number["minimum"] = float(field.min_value)
    if field.max_value is not None:
        number["maximum"] = float(field.max_value)
    if direction != "request":
        return number
    unsigned = field.min_value is not None and field.min_value >= 0
    if field.decimal_places == 3:
        pattern = MONEY_STRING_PATTERN_3_UNSIGNED if unsigned else MONEY_STRING_PATTERN_3
    else:
        pattern = MONEY_STRING_PATTERN_UNSIGNED if unsigned else MONEY_STRING_PATTERN
    string = {
        "type": "string",
        "pattern": pattern,
        "description": 'A numeric string, e.g. "1234.50"',
    }
    return {"oneOf": [{**number, "description": "A JSON number, e.g. 1234.5"}, string]}


def money_description(help_text: str | None, direction: str, places: int = 2) -> str:
    if direction != "request":
        note = MONEY_NOTE_OUT
    else:
        note = MONEY_NOTE_CURRENCY if places == 3 else MONEY_NOTE
    if direction == "request":
        note += ', as a JSON number or a numeric string ("1234.50")'
    if help_text:
        return f"{help_text.rstrip('.')} ({note})."
    return note[0].upper() + note[1:] + "."


class BareSerializer(serializers.Serializer):
    # Replies the seed shows bare, not under ``data`` (``{"assigned": 3}``). No docstring on
    # purpose: drf-spectacular would publish it as the description of every subclass.

    envelope = False


class SuccessSerializer(BareSerializer):
    success = serializers.BooleanField()


def _own_doc(cls) -> str:
    """The docstring of ``cls`` or of a base defined in an app's API module, never the one of
    the shared base viewsets in ``arpilot.api`` (a note for developers)."""
    for klass in cls.__mro__:
        if klass.__module__.startswith(("arpilot.api.", "rest_framework.", "django.")):
            return ""
        if klass.__dict__.get("__doc__"):
            return get_doc(klass)
    return ""


class ArpilotAutoSchema(AutoSchema):
    # A viewset documents its operations with ``schema_docs = {action: (summary, description)}``
    # (description may be ""); extend_schema(summary=…, description=…) still wins.
    def _docs(self) -> tuple[str, str]:
        docs = getattr(self.view, "schema_docs", {}) or {}
        return docs.get(getattr(self.view, "action", None), ("", ""))

    def get_description(self):
        described = self._docs()[1]
        if described:
            return described
        action = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        return get_doc(action) or _own_doc(self.view.__class__)

    def get_summary(self):
        return self._docs()[0] or super().get_summary()

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if _is_money(field):
            meta = dict(self._get_serializer_field_meta(field, direction))
            meta["description"] = money_description(
                meta.get("description"), direction, field.decimal_places
            )
            if "nullable" in meta and direction == "request":
                # keep a ``type`` beside ``nullable``: a nullable string-or-number
                meta.pop("nullable")
                schema = money_schema(field, direction)
                schema["oneOf"] = [{**branch, "nullable": True} for branch in schema["oneOf"]]
                return append_meta(schema, meta)
            return append_meta(money_schema(field, direction), meta)
        return super()._map_serializer_field(field, direction, bypass_extensions)

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
        self.registry.register_on_missing(
            ResolvedComponent(
                name=CONFLICT_COMPONENT,
                type=ResolvedComponent.SCHEMA,
                schema=_CONFLICT_SCHEMA,
                object=CONFLICT_COMPONENT,
            )
        )
        codes = ["400", "401", "403", "404", "405", "406", "429", "500"]
        if self.method in {"POST", "PUT", "PATCH", "DELETE"}:
            codes += ["409", "422"]
        if self.method in {"POST", "PUT", "PATCH"}:
            codes += ["413", "415"]
        for code in sorted(codes):
            name = CONFLICT_COMPONENT if code == "409" else ERROR_COMPONENT
            responses.setdefault(
                code,
                {
                    "description": _ERROR_DESCRIPTIONS[code],
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                    },
                },
            )
        # Answered by the web server in front before the API sees the request, in its own
        # format (gunicorn: a request line over 4,094 bytes); so no body is promised.
        responses.setdefault(
            "414",
            {
                "description": "URI too long: the web server refuses a request line over its "
                "limit (4,094 bytes with gunicorn's defaults) with a body of its own. Send "
                "fewer or shorter query parameters."
            },
        )
        responses["429"].setdefault("headers", {}).update(_RETRY_AFTER)
        if self.method == "POST":
            # A replay answers with the stored response, whatever its status (but a 5xx).
            for code, response in responses.items():
                if not str(code).startswith("5"):
                    response.setdefault("headers", {}).update(_REPLAYED)
        return responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "arpilot.api.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "ARPilot API key (arp_…)"}


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def postprocess_nullable_types(result, generator, request, public):
    """Give ``nullable`` a ``type`` beside it (OpenAPI 3.0 ignores ``nullable`` without one):
    a nullable enum is ``oneOf: [SomeEnum, NullEnum]``, typed as SomeEnum is."""
    schemas = result.get("components", {}).get("schemas", {})

    def type_of(branch):
        if "$ref" in branch:
            branch = schemas.get(branch["$ref"].rsplit("/", 1)[-1], {})
        if branch.get("enum") == [None]:
            return None
        return branch.get("type", "?")

    for node in _walk(result.get("paths", {})), _walk(schemas):
        for schema in node:
            if schema.get("nullable") is True and "type" not in schema:
                branches = schema.get("oneOf") or schema.get("allOf") or []
                types = {type_of(b) for b in branches if isinstance(b, dict)} - {None}
                if len(types) == 1 and "?" not in types:
                    schema["type"] = types.pop()
    return result
