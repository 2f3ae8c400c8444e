import re
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arpilot.api.fields import MoneyField
from arpilot.api.schema import BareSerializer
from arpilot.money import MAX_AMOUNT
from dunning import worklist
from dunning.models import CustomerNote, Dispute, Promise, Reminder
from dunning.rendering import render_dispute, render_promise, render_reminder
from dunning.selectors import ACTIVITY_TYPES
from dunning.services import levels_validate
from dunning.services.notes import MAX_BODY

TEMPLATE_HELP = (
    "Django template language. Context: `customer` (`company_name`, `external_id`), "
    "`contact` (`name`, `email`), `invoices` (each `number`, `due_date`, `amount_due`, "
    "`days_overdue`), `totals` (`amount_due`, `count`, `currency`), `organization_name`, "
    "`remittance_instructions`, `level`. No `{% include %}`, `{% extends %}` or `{% load %}`."
)


def _money(**kwargs) -> MoneyField:
    """An amount: sent exactly; in a request, two places."""
    return MoneyField(places=3 if kwargs.get("read_only") else 2, **kwargs)


# --- policy -----------------------------------------------------------------------------------
class LevelSerializer(serializers.Serializer):
    level = serializers.IntegerField(min_value=1, max_value=20, help_text="1 is the first")
    days_after_due = serializers.IntegerField(
        min_value=0, max_value=3650, help_text="Sent this many days after the due date"
    )
    contact_escalation_levels = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=20),
        allow_empty=False,
        max_length=20,
        default=list,
        help_text="Sent to the customer's contacts at these escalation levels (else to the "
        "primary contact); default `[1]`",
    )
    subject = serializers.CharField(max_length=500, help_text=TEMPLATE_HELP)
    body_text = serializers.CharField(max_length=20000, help_text=TEMPLATE_HELP)
    body_html = serializers.CharField(
        max_length=50000, allow_blank=True, default="", help_text=TEMPLATE_HELP + " Autoescaped."
    )
    attach_statement = serializers.BooleanField(
        default=False, help_text="Attach the customer's statement of account (PDF, 90 days)"
    )


LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


@extend_schema_field({"type": "string", "pattern": LOCAL_TIME_PATTERN, "example": "08:00:00"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time with no offset (JSON Schema's ``format: time`` demands one)."""

    def to_internal_value(self, value):
        if isinstance(value, str) and not re.fullmatch(LOCAL_TIME_PATTERN, value):
            self.fail("invalid", format="HH:MM or HH:MM:SS")
        return super().to_internal_value(value)


class PolicySerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="Whether the daily run sends reminders")
    run_at = LocalTimeField(
        help_text="Local time of the daily run, in the organization's time zone "
        "(HH:MM or HH:MM:SS; answered as HH:MM:SS)"
    )
    minimum_overdue = _money(
        min_value=Decimal("0.00"),
        max_value=MAX_AMOUNT,
        help_text="No reminder for a customer whose overdue total is under this",
    )
    remittance_instructions = serializers.CharField(
        max_length=5000, allow_blank=True, default="", help_text="How to pay, for the templates"
    )
    levels = LevelSerializer(many=True, max_length=20, help_text="Ordered by `level`")

    def validate_levels(self, levels):
        levels_validate([dict(level) for level in levels])
        return levels

    def to_representation(self, policy):
        return {
            "enabled": policy.enabled,
            "run_at": policy.run_at.isoformat(timespec="seconds"),
            "minimum_overdue": policy.minimum_overdue,
            "remittance_instructions": policy.remittance_instructions,
            "levels": [
                {
                    "level": level.level,
                    "days_after_due": level.days_after_due,
                    "contact_escalation_levels": list(level.contact_escalation_levels),
                    "subject": level.subject,
                    "body_text": level.body_text,
                    "body_html": level.body_html,
                    "attach_statement": level.attach_statement,
                }
                for level in sorted(policy.levels.all(), key=lambda item: item.level)
            ],
        }


class RunInput(serializers.Serializer):
    dry_run = serializers.BooleanField(
        default=False, help_text="Answer the reminders a run would send, sending nothing"
    )


class RunQueuedSerializer(BareSerializer):
    queued = serializers.BooleanField()


class PlannedInvoiceSerializer(serializers.Serializer):
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField()
    due_date = serializers.DateField()
    amount_due = _money(read_only=True)
    days_overdue = serializers.IntegerField()


class PlannedReminderSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField()
    customer_name = serializers.CharField()
    level = serializers.IntegerField()
    to = serializers.ListField(child=serializers.EmailField())
    total = _money(read_only=True)
    attach_statement = serializers.BooleanField()
    invoices = PlannedInvoiceSerializer(many=True)

    def to_representation(self, plan):
        return plan.as_dict()


# --- reminders --------------------------------------------------------------------------------
class ReminderInvoiceSerializer(serializers.Serializer):
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField()
    amount_due = _money(read_only=True, help_text="Owed when the reminder was decided")
    days_overdue = serializers.IntegerField()


class ReminderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    level = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=Reminder.Status.choices,
        help_text="`queued` until its email's last check; `sent` when it passed it; "
        "`cancelled` when an invoice was paid, disputed or promised meanwhile, or a clerk "
        "cancelled its email; `failed` when its email could not be sent (the mail server "
        "refused it, or every attempt failed). A cancelled or failed reminder releases its "
        "invoices' level: the next run decides afresh",
    )
    to = serializers.ListField(child=serializers.EmailField())
    subject = serializers.CharField()
    total = _money(read_only=True)
    run_date = serializers.DateField(help_text="The organization-local date of the run")
    attach_statement = serializers.BooleanField()
    invoices = ReminderInvoiceSerializer(many=True)
    email_id = serializers.UUIDField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    cancelled_reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    def to_representation(self, reminder):
        return render_reminder(reminder)


# --- promises ---------------------------------------------------------------------------------
class PromiseSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    invoice_ids = serializers.ListField(child=serializers.UUIDField())
    amount = _money(read_only=True)
    promised_date = serializers.DateField()
    contact_id = serializers.UUIDField(allow_null=True)
    note = serializers.CharField()
    status = serializers.ChoiceField(choices=Promise.Status.choices)
    resolved_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, promise):
        return render_promise(promise)


class PromiseCreateInput(serializers.Serializer):
    customer_id = serializers.UUIDField()
    invoice_ids = serializers.ListField(
        child=serializers.UUIDField(),
        allow_empty=False,
        max_length=500,
        help_text="Open invoices of the customer; dunning pauses for them until the date",
    )
    amount = _money(min_value=Decimal("0.01"), max_value=MAX_AMOUNT)
    promised_date = serializers.DateField(help_text="Today or later (organization time zone)")
    contact_id = serializers.UUIDField(required=False, allow_null=True)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class PromiseUpdateInput(serializers.Serializer):
    amount = _money(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, required=False)
    promised_date = serializers.DateField(required=False)
    contact_id = serializers.UUIDField(required=False, allow_null=True)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    status = serializers.ChoiceField(
        choices=[Promise.Status.CANCELLED], required=False, help_text="`cancelled` only"
    )


# --- disputes ---------------------------------------------------------------------------------
class DisputeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    invoice_id = serializers.UUIDField()
    reason_code = serializers.CharField()
    reason = serializers.CharField()
    note = serializers.CharField()
    status = serializers.ChoiceField(choices=Dispute.Status.choices)
    resolution = serializers.ChoiceField(choices=Dispute.Resolution.choices, allow_null=True)
    resolution_note = serializers.CharField()
    resolution_amount = _money(
        read_only=True,
        allow_null=True,
        help_text="What a `credit_note` or `write_off` took off the invoice's balance; null "
        "otherwise",
    )
    journal_entry_id = serializers.UUIDField(
        allow_null=True, help_text="The ledger entry of a `credit_note` or `write_off`"
    )
    accounting_change_id = serializers.UUIDField(
        allow_null=True,
        help_text="The accounting change it recorded (`credit_note` or `write_off`, pending "
        "approval)",
    )
    resolved_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, dispute):
        return render_dispute(dispute)


class DisputeOpenInput(serializers.Serializer):
    reason_code = serializers.SlugField(
        max_length=50,
        help_text="A code of the organization's list (default: pricing, damaged_goods, "
        "not_received, duplicate, other)",
    )
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class DisputeResolveInput(serializers.Serializer):
    resolution = serializers.ChoiceField(
        choices=Dispute.Resolution.choices,
        help_text="`withdrawn` is recorded only; `credit_note` (a credit against revenue) and "
        "`write_off` (bad debt) take `amount` off the invoice's balance with a ledger entry "
        "and a pending accounting change",
    )
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    amount = _money(
        required=False,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        help_text="`credit_note` and `write_off` only: how much (default: all the invoice "
        "owes; at most that)",
    )


# --- the worklist, a customer's activity and notes -------------------------------------------
class WorklistRowSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField()
    customer_name = serializers.CharField()
    overdue_total = _money(
        read_only=True,
        help_text="Owed on its overdue, undisputed invoices, in the organization's base "
        "currency (each at the rate it was booked at; one in another currency with no rate "
        "counts nothing)",
    )
    overdue_weighted = _money(
        read_only=True,
        help_text="Sum of amount due (in base) * days overdue / 30 of those invoices",
    )
    oldest_days_overdue = serializers.IntegerField()
    broken_promises = serializers.IntegerField(help_text="Broken in the last 90 days")
    days_since_last_contact = serializers.IntegerField(
        allow_null=True, help_text="Since its latest note, call or sent reminder; null if never"
    )
    reminders_sent = serializers.IntegerField(help_text="Sent in the last 90 days")
    open_promise = serializers.BooleanField(
        help_text="An open promise covers some of its overdue invoices"
    )
    priority = serializers.FloatField(help_text="Higher first (see the operation's formula)")
    priority_reasons = serializers.ListField(
        child=serializers.CharField(), help_text="What drove the priority, in words"
    )

    def to_representation(self, row):
        return {
            "customer_id": str(row.pk),
            "customer_name": row.company_name,
            "overdue_total": worklist.overdue_total(row),
            "overdue_weighted": worklist.weighted(row),
            "oldest_days_overdue": row.oldest_days_overdue,
            "broken_promises": row.broken_promises,
            "days_since_last_contact": row.days_since_last_contact,
            "reminders_sent": row.reminders_sent,
            "open_promise": bool(row.open_promise),
            "priority": round(float(row.priority), 1),
            "priority_reasons": worklist.priority_reasons(row),
        }


class WorklistQuery(serializers.Serializer):
    min_overdue = _money(
        required=False,
        min_value=Decimal("0.00"),
        max_value=MAX_AMOUNT,
        help_text="Only customers owing at least this overdue",
    )
    tag_id = serializers.UUIDField(required=False, help_text="Only customers with this tag")


class ActivityItemSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=[(kind, kind) for kind in ACTIVITY_TYPES])
    at = serializers.DateTimeField()
    summary = serializers.CharField()
    ids = serializers.DictField(
        child=serializers.UUIDField(allow_null=True),
        help_text="The records behind it: `note_id`, `contact_id`, `reminder_id`, "
        "`promise_id`, `dispute_id`, `invoice_id`, `payment_id`, `allocation_id`, "
        "`email_id` (a statement's email in the outbox)",
    )

    def to_representation(self, item):
        return {
            "type": item.type,
            "at": serializers.DateTimeField().to_representation(item.at),
            "summary": item.summary,
            "ids": item.ids,
        }


class NoteSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=CustomerNote.Kind.choices)
    body = serializers.CharField()
    contact_id = serializers.UUIDField(allow_null=True)
    created_by = serializers.CharField(help_text='The actor: "user:<id>" or "api_key:<prefix>"')
    created_by_name = serializers.CharField()
    created_at = serializers.DateTimeField()

    def to_representation(self, note):
        return {
            "id": str(note.pk),
            "customer_id": str(note.customer_id),
            "kind": note.kind,
            "body": note.body,
            "contact_id": str(note.contact_id) if note.contact_id else None,
            "created_by": note.created_by,
            "created_by_name": note.created_by_name,
            "created_at": serializers.DateTimeField().to_representation(note.created_at),
        }


class NoteCreateInput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=CustomerNote.Kind.choices, help_text="`note`, or `call` for a logged call"
    )
    body = serializers.CharField(max_length=MAX_BODY)
    contact_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="One of the customer's contacts"
    )
