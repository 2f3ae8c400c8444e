"""The base every API viewset stands on: organization scoping, envelopes, idempotency."""

import uuid

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from rest_framework import status as http_status
from rest_framework import viewsets
from rest_framework.response import Response

from arpilot.api import idempotency
from arpilot.errors import NotFound


class OrgScopedAPIMixin:
    """Idempotency-Key handling for POST and replay of stored responses.

    The claim on a key ends with the response: stored for replay, or released after a 5xx
    or any exception (also one that escapes DRF and becomes Django's 500), so a retry runs.
    """

    _idempotency_record = None

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            # Still set here only when no response was finalized: an exception escaped.
            self._idempotency_release()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency_record = None
        if request.method == "POST":
            key = request.headers.get(idempotency.HEADER)
            if key:
                self._idempotency_record = idempotency.begin(request, key)

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.Replay):
            return Response(exc.body, status=exc.status, headers={"Idempotent-Replayed": "true"})
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = self._idempotency_record
        if record is not None:
            idempotency.finish(record, response)
            self._idempotency_record = None
        return response

    def _idempotency_release(self) -> None:
        record = self._idempotency_record
        if record is not None:
            self._idempotency_record = None
            idempotency.release(record)

    @property
    def organization(self):
        return self.request.organization


class OrgScopedViewSet(OrgScopedAPIMixin, viewsets.GenericViewSet):
    """A viewset whose queryset is always scoped to the caller's organization.

    Subclasses implement ``scoped_queryset(organization)`` returning ``Model.objects.for_org(
    organization)…`` (usually a selector). Defining ``queryset`` or ``get_queryset`` is a
    TypeError at import time, and a ``scoped_queryset`` that skips ``for_org`` fails every
    request with ImproperlyConfigured: forgetting the scope is loud, never a leak.
    """

    serializer_class = None  # the output serializer
    input_serializers: dict = {}  # action -> input serializer class
    lookup_value_regex = "[^/]+"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__ or cls.__dict__.get("queryset") is not None:
            raise TypeError(f"{cls.__name__}: implement scoped_queryset(), not queryset")

    def scoped_queryset(self, organization):
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.scoped_queryset(None).none()
        organization = self.request.organization
        queryset = self.scoped_queryset(organization)
        if getattr(queryset, "_scoped_org_id", None) != organization.pk:
            raise ImproperlyConfigured(
                f"{type(self).__name__}.scoped_queryset() did not scope by organization"
            )
        return queryset

    def get_object(self):
        """The object by id within the organization; list filters do not apply here."""
        lookup = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            uuid.UUID(str(lookup))
        except ValueError:
            raise NotFound("Not found.") from None
        try:
            obj = self.get_queryset().get(**{self.lookup_field: lookup})
        except ObjectDoesNotExist:
            raise NotFound("Not found.") from None
        self.check_object_permissions(self.request, obj)
        return obj

    def get_url_pk(self) -> uuid.UUID:
        """The id in the URL, for a write whose service locks the row and answers 404 itself
        when it is not the organization's (no query here; a malformed id is a 404 too)."""
        lookup = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            return uuid.UUID(str(lookup))
        except ValueError:
            raise NotFound("Not found.") from None

    def get_object_pk(self):
        """The id of the object in the URL, checked to be the organization's (404 otherwise)
        with one light query: for writes whose service locks and reads the row itself."""
        lookup = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            uuid.UUID(str(lookup))
        except ValueError:
            raise NotFound("Not found.") from None
        found = (
            self.get_queryset()
            .filter(**{self.lookup_field: lookup})
            .values_list("pk", flat=True)
            .first()
        )
        if found is None:
            raise NotFound("Not found.")
        return found

    def get_serializer_class(self):
        return self.input_serializers.get(self.action, self.serializer_class)

    def get_input(self, serializer_class=None, *, partial: bool = False, instance=None) -> dict:
        """Validate the request body with the action's input serializer."""
        serializer_class = serializer_class or self.get_serializer_class()
        serializer = serializer_class(
            instance=instance,
            data=self.request.data,
            partial=partial,
            context=self.get_serializer_context(),
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["organization"] = self.request.organization
        return context

    def respond(self, instance, status: int = http_status.HTTP_200_OK) -> Response:
        """``{"data": …}`` with the output serializer."""
        data = self.serializer_class(instance, context=self.get_serializer_context()).data
        return Response({"data": data}, status=status)

    def respond_list(self, queryset) -> Response:
        page = self.paginate_queryset(queryset)
        data = self.serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def reload(self, instance):
        """The instance as the detail selector reads it (joins included)."""
        return self.get_queryset().get(pk=instance.pk)


class ListModelMixin:
    def list(self, request, *args, **kwargs):
        return self.respond_list(self.filter_queryset(self.get_queryset()))


class RetrieveModelMixin:
    def retrieve(self, request, *args, **kwargs):
        return self.respond(self.get_object())


class DestroyModelMixin:
    def destroy(self, request, *args, **kwargs):
        self.perform_destroy(self.get_object())
        return Response({"success": True}, status=http_status.HTTP_200_OK)
