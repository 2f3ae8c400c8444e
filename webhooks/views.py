"""Clerk pages of webhooks: endpoints, registering one (secret shown once), deliveries."""

from django import forms
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
from webhooks.events import ALL_EVENTS, EVENT_TYPES
from webhooks.filters import DeliveryFilterSet
from webhooks.models import WebhookDelivery, WebhookEndpoint

NEW_SECRET_KEY = "arpilot_webhook_new_secret"


class EndpointForm(forms.Form):
    url = forms.URLField(label="Endpoint URL", max_length=2000, assume_scheme="https")
    description = forms.CharField(label="Description", max_length=500, required=False)
    all_events = forms.BooleanField(label="Every event type", required=False, initial=True)
    events = forms.MultipleChoiceField(
        label="Or only these event types",
        choices=[(name, name) for name in EVENT_TYPES if name != "webhook.test"],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def clean(self):
        data = super().clean()
        if not data.get("all_events") and not data.get("events"):
            raise forms.ValidationError("Choose every event type or at least one.")
        return data

    def chosen_events(self) -> list[str]:
        if self.cleaned_data["all_events"]:
            return [ALL_EVENTS]
        return list(self.cleaned_data["events"])


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
            for field, errors in (exc.fields or {}).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
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
    return render(
        request,
        "webhooks/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "new_secret": new_secret,
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
