from django import forms
from django.contrib import admin, messages

from arpilot.admin import OrganizationAdminOnly
from arpilot.outbound import ssrf
from webhooks import services
from webhooks.events import ALL_EVENTS, EVENT_TYPES
from webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if self.instance.pk is None or url != self.instance.url:
            try:
                ssrf.url_check(url)
            except ssrf.UnsafeURL as exc:
                raise forms.ValidationError(str(exc)) from exc
        return url

    def clean_events(self):
        events = self.cleaned_data["events"]
        known = {*EVENT_TYPES, ALL_EVENTS}
        if not isinstance(events, list) or not events or not set(events) <= known:
            raise forms.ValidationError('A list of catalogue event types, or ["*"].')
        return events


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrganizationAdminOnly, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "organization", "is_active", "disabled_reason", "created_at"]
    list_filter = ["is_active", "organization"]
    search_fields = ["url", "description", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = [
        "id",
        "previous_secret_expires_at",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "created_at",
        "updated_at",
    ]
    actions = ["send_test"]

    def has_add_permission(self, request):
        return False  # registered through the API, which checks the URL and makes the secret

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in {"url", "events", "description", "is_active"}
        }
        original = WebhookEndpoint.objects.get(pk=obj.pk)
        services.endpoint_update(endpoint=original, **changes)

    @admin.action(description="Send a webhook.test event")
    def send_test(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_send_test(endpoint=endpoint)
        self.message_user(request, f"Queued {queryset.count()} test event(s).")


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["id", "event_type", "organization", "created_at"]
    list_filter = ["event_type", "organization"]
    search_fields = ["id"]
    list_select_related = ["organization"]
    readonly_fields = ["id", "organization", "event_type", "payload", "created_at", "updated_at"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AttemptInline(admin.TabularInline):
    model = WebhookDeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = [
        "number",
        "status_code",
        "duration_ms",
        "error",
        "response_snippet",
        "created_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrganizationAdminOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "organization"]
    search_fields = ["id", "event__id", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [AttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Redeliver selected deliveries")
    def redeliver(self, request, queryset):
        done = 0
        skipped = queryset.filter(status=WebhookDelivery.Status.PENDING).count()
        for delivery in queryset.exclude(status=WebhookDelivery.Status.PENDING):
            services.delivery_redeliver(delivery=delivery)
            done += 1
        self.message_user(
            request,
            f"Redelivering {done}; {skipped} still pending, left alone.",
            level=messages.INFO,
        )


@admin.register(WebhookDeliveryAttempt)
class WebhookDeliveryAttemptAdmin(admin.ModelAdmin):
    """Read-only: attempts are also shown inline on their delivery."""

    list_display = ["delivery", "number", "status_code", "duration_ms", "error", "created_at"]
    list_filter = ["status_code"]
    search_fields = ["delivery__id", "error"]
    list_select_related = ["delivery"]
    readonly_fields = [f.name for f in WebhookDeliveryAttempt._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
