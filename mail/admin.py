from django.contrib import admin, messages

from arpilot.admin import ReadOnlyInline
from arpilot.errors import Conflict
from mail import services
from mail.models import OutboundEmail, OutboundEmailAttachment


class AttachmentInline(ReadOnlyInline):
    model = OutboundEmailAttachment
    fields = ["position", "filename", "mimetype", "size"]
    readonly_fields = fields


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """Read-only: emails are written by ``mail.services.email_queue``; the actions are a
    clerk's decisions about one that did not simply go out."""

    list_display = [
        "created_at",
        "kind",
        "subject",
        "recipients",
        "status",
        "attempt_count",
        "sent_at",
        "organization",
    ]
    list_filter = ["status", "kind", "organization"]
    search_fields = ["id", "message_id", "subject", "to", "kind"]
    list_select_related = ["organization"]
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]
    date_hierarchy = "created_at"
    inlines = [AttachmentInline]
    actions = ["resend", "mark_sent", "cancel"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body_text", "body_html")

    @admin.display(description="To")
    def recipients(self, email):
        return ", ".join(email.to)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, service, done: str) -> None:
        count, refused = 0, []
        for email in queryset:
            try:
                service(email=email)
            except Conflict as exc:
                refused.append(exc.message)
            else:
                count += 1
        self.message_user(request, f"{done}: {count}.", level=messages.INFO)
        for message in sorted(set(refused)):
            self.message_user(request, message, level=messages.WARNING)

    @admin.action(description="Send again (unconfirmed, failed or cancelled)")
    def resend(self, request, queryset):
        self._decide(request, queryset, services.email_resend, "Queued again")

    @admin.action(description="Mark as sent (unconfirmed ones the recipient got)")
    def mark_sent(self, request, queryset):
        self._decide(request, queryset, services.email_mark_sent, "Marked sent")

    @admin.action(description="Cancel (queued or unconfirmed)")
    def cancel(self, request, queryset):
        self._decide(request, queryset, services.email_cancel, "Cancelled")
