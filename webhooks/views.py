"""Clerk pages of webhooks: endpoints, registering, changing, pausing and deleting one,
its secret (shown once, when registered or rotated), deliveries and their last response."""

import re
from http import HTTPStatus

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from arpilot.errors import Conflict, ValidationFailed
from arpilot.workspace import (
    admin_required,
    is_admin,
    is_htmx,
    org_object_or_404,
    paginate,
    workspace_view,
)
from webhooks import selectors, services
from webhooks.filters import DeliveryFilterSet
from webhooks.forms import EndpointForm
from webhooks.models import WebhookDelivery, WebhookEndpoint

NEW_SECRET_KEY = "arpilot_webhook_new_secret"


def _add_service_errors(form, exc: ValidationFailed) -> None:
    for field, errors in (exc.fields or {}).items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


# What went wrong on the way, in words: (pattern in the recorded error, what the admin reads).
_TRANSPORT_WORDS = (
    (r"Connection refused|ConnectionRefused", "The server refused the connection."),
    (
        r"Name or service not known|NameResolution|getaddrinfo|nodename nor servname"
        r"|Temporary failure in name resolution|No address associated",
        "The host name could not be found.",
    ),
    (
        r"SSLError|CERTIFICATE_VERIFY_FAILED|certificate",
        "The server's TLS certificate was refused.",
    ),
    (r"Timed out|timed out|Timeout", "No response in time."),
    (
        r"RemoteDisconnected|Connection aborted|Connection reset|ConnectionReset",
        "The server closed the connection without answering.",
    ),
    (r"TooManyRedirects", "Too many redirects."),
)
_EXCEPTION_TEXT = re.compile(r"^[A-Za-z_.]*(Error|Exception)\b|Errno|HTTPConnectionPool")


def response_in_words(status_code, error: str) -> str:
    """The last response of a delivery as an admin reads it: the HTTP status with its
    reason, or what went wrong on the way, never a Python exception's text."""
    if status_code:
        try:
            phrase = HTTPStatus(status_code).phrase
        except ValueError:
            phrase = ""
        shown = f"HTTP {status_code} {phrase}".strip()
        if 200 <= status_code < 300:
            return f"{shown}: delivered."
        if 300 <= status_code < 400:
            return f"{shown}: a redirect, which is not followed."
        if 400 <= status_code < 500:
            return f"{shown}: the endpoint refused the event."
        return f"{shown}: the endpoint failed."
    error = (error or "").strip()
    if not error:
        return ""
    if error.startswith(("Endpoint disabled: ", "Refused")):  # already in words
        return error
    if error.startswith("Timed out after"):
        return "No response in time: " + error[0].lower() + error[1:]
    for pattern, words in _TRANSPORT_WORDS:
        if re.search(pattern, error):
            return words
    if _EXCEPTION_TEXT.search(error):
        return "The request failed before any response came back."
    return error


def _describe_responses(deliveries) -> None:
    for delivery in deliveries:
        delivery.response_words = response_in_words(delivery.last_status_code, delivery.last_error)


@workspace_view
def endpoint_list(request):
    """The organization's endpoints and, for its admins, a form to register another."""
    if request.method == "POST":
        admin_required(request)
    form = EndpointForm(request.POST or None) if is_admin(request) else None
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(
                organization=request.organization,
                url=form.cleaned_data["url"],
                events=form.chosen_events(),
                description=form.cleaned_data["description"],
            )
        except ValidationFailed as exc:
            _add_service_errors(form, exc)
        else:
            request.session[NEW_SECRET_KEY] = {"id": str(endpoint.pk), "secret": endpoint.secret}
            return redirect("webhooks:detail", pk=endpoint.pk)
    endpoints = selectors.endpoint_list(organization=request.organization)
    return render(
        request,
        "webhooks/endpoint_list.html",
        {"endpoints": endpoints, "form": form},
        status=400 if form is not None and form.errors else 200,
    )


@workspace_view
def endpoint_detail(request, pk):
    """An endpoint and its deliveries (filter by status), newest first."""
    organization = request.organization
    endpoint = org_object_or_404(selectors.endpoint_list(organization=organization), pk=pk)
    new_secret = None
    pending_secret = request.session.get(NEW_SECRET_KEY)
    if pending_secret and pending_secret.get("id") == str(endpoint.pk):
        new_secret = request.session.pop(NEW_SECRET_KEY)["secret"]
    filterset = DeliveryFilterSet(
        request.GET,
        queryset=selectors.delivery_list(organization=organization, endpoint_id=endpoint.pk),
    )
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = paginate(request, queryset)
    _describe_responses(page.object_list)
    return render(
        request,
        "webhooks/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "new_secret": new_secret,
            "rotated": pending_secret.get("rotated", False) if new_secret else False,
            "page_obj": page,
            "deliveries": page.object_list,
            "statuses": WebhookDelivery.Status.choices,
        },
    )


@require_POST
@workspace_view
def endpoint_send_test(request, pk):
    endpoint = org_object_or_404(WebhookEndpoint.objects.for_org(request.organization), pk=pk)
    admin_required(request)
    services.endpoint_send_test(endpoint=endpoint)
    messages.success(request, "Test event queued.")
    return redirect("webhooks:detail", pk=endpoint.pk)


@require_POST
@workspace_view
def delivery_redeliver(request, pk, delivery_id):
    """Send a finished delivery again; htmx swaps its row."""
    organization = request.organization
    endpoint = org_object_or_404(WebhookEndpoint.objects.for_org(organization), pk=pk)
    queryset = selectors.delivery_list(organization=organization, endpoint_id=endpoint.pk)
    delivery = org_object_or_404(queryset, pk=delivery_id)
    admin_required(request)
    error = None
    try:
        services.delivery_redeliver(delivery=delivery)
    except Conflict as exc:
        error = exc.message
    if is_htmx(request):
        delivery = queryset.get(pk=delivery.pk)
        _describe_responses([delivery])
        return render(
            request,
            "webhooks/delivery_row.html",
            {"endpoint": endpoint, "delivery": delivery, "error": error, "changed": not error},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Delivery queued again.")
    return redirect("webhooks:detail", pk=endpoint.pk)


def _admin_endpoint(request, pk):
    """The organization's endpoint ``pk`` (404 otherwise), for an admin only (403)."""
    endpoint = org_object_or_404(WebhookEndpoint.objects.for_org(request.organization), pk=pk)
    admin_required(request)
    return endpoint


@workspace_view
def endpoint_edit(request, pk):
    """Change an endpoint's URL, description and events (admins only)."""
    endpoint = _admin_endpoint(request, pk)
    form = EndpointForm.for_endpoint(endpoint, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                endpoint=endpoint,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                events=form.chosen_events(),
            )
        except ValidationFailed as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("webhooks:detail", pk=endpoint.pk)
    return render(
        request,
        "webhooks/endpoint_edit.html",
        {"endpoint": endpoint, "form": form},
        status=400 if form.errors else 200,
    )


@require_POST
@workspace_view
def endpoint_active(request, pk):
    """Pause sending to an endpoint (its events wait) or resume it (what waited is sent)."""
    endpoint = _admin_endpoint(request, pk)
    active = request.POST.get("active") == "1"
    services.endpoint_update(endpoint=endpoint, is_active=active)
    messages.success(
        request,
        "Endpoint enabled: waiting events are sent now."
        if active
        else "Endpoint disabled: new events wait until it is enabled again.",
    )
    return redirect("webhooks:detail", pk=endpoint.pk)


@workspace_view
def endpoint_delete(request, pk):
    """Ask, then delete an endpoint with its deliveries (admins only)."""
    endpoint = _admin_endpoint(request, pk)
    if request.method == "POST":
        url = endpoint.url
        services.endpoint_delete(endpoint=endpoint)
        messages.success(request, f"Endpoint {url} deleted.")
        return redirect("webhooks:list")
    return render(
        request,
        "webhooks/endpoint_delete.html",
        {"endpoint": endpoint, "delivery_count": endpoint.deliveries.count()},
    )


@require_POST
@workspace_view
def endpoint_rotate_secret(request, pk):
    """A new signing secret, shown once; the old one keeps signing beside it for a while."""
    endpoint = services.endpoint_rotate_secret(endpoint=_admin_endpoint(request, pk))
    request.session[NEW_SECRET_KEY] = {
        "id": str(endpoint.pk),
        "secret": endpoint.secret,
        "rotated": True,
    }
    return redirect("webhooks:detail", pk=endpoint.pk)
