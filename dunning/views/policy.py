"""The dunning policy editor, the dry run and the run on demand, and the reminders list.

The editor posts one plain form (no JavaScript needed): its buttons save, add a level,
remove one, move one up or down (the levels are then numbered by position), or preview one
level's email. Everything but saving re-renders the page with what was typed, so nothing is
lost; ``static/js/dunning_policy.js`` does adding, removing and moving in place instead.
Saving validates with the API's ``PolicySerializer`` and writes with ``policy_update``, the
same checks and the same service as ``PUT /api/v1/collections/policy``; an error lands next
to its field, in its level.

Who may change it: every member of the organization, as over the API, where any API key of
the organization may replace the policy and run dunning (keys carry no role).
``policy_editable`` is the one place to change that.
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from arpilot.api.exceptions import flatten_errors
from arpilot.errors import ValidationFailed
from arpilot.money import ZERO
from arpilot.queueing import task_send
from arpilot.workspace import paginate, workspace_view
from customers.models import Contact, Customer
from dunning import selectors, services, tasks
from dunning.api.serializers import PolicySerializer
from dunning.filters import ReminderFilterSet
from dunning.models import DunningLevel, Reminder
from dunning.services import run as dunning_runs
from dunning.services.defaults import default_levels
from dunning.services.templating import TEMPLATE_FIELDS, template_error

LEVEL_FIELDS = (
    "level",
    "days_after_due",
    "contact_escalation_levels",
    "subject",
    "body_text",
    "body_html",
    "attach_statement",
)
POLICY_FIELDS = ("enabled", "run_at", "minimum_overdue", "remittance_instructions")
MAX_ROWS = 40  # the API takes 20 levels; a form with more is refused with the API's words
_KEY = re.compile(r"[0-9]{1,4}")
_WHOLE = re.compile(r"[0-9]{1,9}")

# What a template may use (``dunning.services.run``'s context), shown beside the bodies.
PLACEHOLDERS = [
    ("{{ customer.company_name }}", "the customer's name"),
    ("{{ customer.external_id }}", "its id in your books"),
    ("{{ contact.name }}", "the first recipient's name"),
    ("{{ contact.email }}", "and email"),
    ("{% for invoice in invoices %}…{% endfor %}", "the invoices at this level"),
    ("{{ invoice.number }}", "each invoice's number"),
    ("{{ invoice.due_date }}", "due date"),
    ("{{ invoice.amount_due }}", "amount due"),
    ("{{ invoice.days_overdue }}", "days overdue"),
    ("{{ totals.amount_due }}", "the total due"),
    ("{{ totals.count }}", "how many invoices"),
    ("{{ totals.currency }}", "the currency"),
    ("{{ remittance_instructions }}", "the remittance instructions (above)"),
    ("{{ organization_name }}", "your organization"),
    ("{{ level }}", "this level's number"),
]

# Shown in the HTML preview frame before the email's own HTML: nothing is fetched but
# images (scripts do not run anyway: the frame is sandboxed). As the outbox's preview.
PREVIEW_POLICY = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src data: https:; style-src 'unsafe-inline'\">"
)

REMINDER_BADGES = {
    Reminder.Status.QUEUED: "queued",
    Reminder.Status.SENT: "succeeded",
    Reminder.Status.FAILED: "failed",
    Reminder.Status.CANCELLED: "void",
}


def policy_editable(request) -> bool:
    """Whether the signed-in member may change the policy and run dunning: every member,
    mirroring the API (``HasOrganization``: any key of the organization, keys have no role).
    Were it kept for admins, ``arpilot.workspace.is_admin(request)`` goes here."""
    return request.membership is not None


# --- the editor's form ------------------------------------------------------------------------


@dataclass
class LevelRow:
    """One level as the form shows it: its row key, the values as typed, its errors."""

    key: str
    values: dict
    errors: dict = field(default_factory=dict)
    preview: dict | None = None

    @property
    def prefix(self) -> str:
        return f"L{self.key}-"

    @property
    def error_count(self) -> int:
        return sum(len(messages) for messages in self.errors.values())


@dataclass
class PolicyForm:
    values: dict
    rows: list[LevelRow]
    errors: dict = field(default_factory=dict)  # policy fields, and "levels" for the list

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(row.errors for row in self.rows)

    def next_key(self) -> str:
        return str(max((int(row.key) for row in self.rows), default=-1) + 1)


def _level_values(level: DunningLevel) -> dict:
    return {
        "level": str(level.level),
        "days_after_due": str(level.days_after_due),
        "contact_escalation_levels": ", ".join(str(n) for n in level.contact_escalation_levels),
        "subject": level.subject,
        "body_text": level.body_text,
        "body_html": level.body_html,
        "attach_statement": level.attach_statement,
    }


def _form_from_policy(policy) -> PolicyForm:
    values = {
        "enabled": policy.enabled,
        "run_at": policy.run_at.strftime("%H:%M"),
        "minimum_overdue": str(policy.minimum_overdue),
        "remittance_instructions": policy.remittance_instructions,
    }
    rows = [
        LevelRow(str(index), _level_values(level))
        for index, level in enumerate(policy.levels.all())
    ]
    return PolicyForm(values, rows)


def _form_from_post(post) -> PolicyForm:
    values = {
        "enabled": post.get("enabled") == "on",
        "run_at": post.get("run_at", "").strip(),
        "minimum_overdue": post.get("minimum_overdue", "").strip(),
        "remittance_instructions": post.get("remittance_instructions", ""),
    }
    rows, seen = [], set()
    for key in post.getlist("rows")[:MAX_ROWS]:
        if not _KEY.fullmatch(key) or key in seen:
            continue
        seen.add(key)
        prefix = f"L{key}-"
        row_values = {
            name: post.get(prefix + name, "") for name in LEVEL_FIELDS if name != "attach_statement"
        }
        for name in ("level", "days_after_due", "contact_escalation_levels"):
            row_values[name] = row_values[name].strip()
        row_values["attach_statement"] = post.get(prefix + "attach_statement") == "on"
        rows.append(LevelRow(key, row_values))
    return PolicyForm(values, rows)


def _escalation_levels(text: str) -> list[str]:
    """``"1, 2"`` → ``["1", "2"]`` (the serializer says what is not a number)."""
    return [part for part in re.split(r"[\s,;]+", text) if part]


def _serializer_data(form: PolicyForm) -> dict:
    return {
        **form.values,
        "levels": [
            {
                **{name: row.values[name] for name in LEVEL_FIELDS},
                "contact_escalation_levels": _escalation_levels(
                    row.values["contact_escalation_levels"]
                ),
            }
            for row in form.rows
        ],
    }


def _errors_place(form: PolicyForm, fields: dict) -> None:
    """Errors named as the API names them (``run_at``, ``levels.2.subject``,
    ``levels.2.contact_escalation_levels.0``) next to their field in the form."""
    for name, problems in fields.items():
        parts = name.split(".")
        if parts[0] == "levels" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(form.rows):
                target = parts[2] if len(parts) > 2 and parts[2] in LEVEL_FIELDS else "row"
                form.rows[index].errors.setdefault(target, []).extend(problems)
                continue
        target = parts[0] if parts[0] in (*POLICY_FIELDS, "levels") else "levels"
        form.errors.setdefault(target, []).extend(problems)


def _renumber(form: PolicyForm) -> None:
    for position, row in enumerate(form.rows, start=1):
        row.values["level"] = str(position)


def _new_row(form: PolicyForm) -> LevelRow:
    """A level after the last one: its templates copied, two weeks later, numbered next."""
    last = form.rows[-1].values if form.rows else None
    if last is None:
        return LevelRow(form.next_key(), _level_values(DunningLevel(**default_levels()[0])))
    numbers = [
        int(row.values["level"]) for row in form.rows if _WHOLE.fullmatch(row.values["level"])
    ]
    days = [
        int(row.values["days_after_due"])
        for row in form.rows
        if _WHOLE.fullmatch(row.values["days_after_due"])
    ]
    values = {
        **last,
        "level": str(max(numbers, default=0) + 1),
        "days_after_due": str(max(days, default=0) + 14),
        "attach_statement": False,
    }
    return LevelRow(form.next_key(), values)


def _form_save(request, form: PolicyForm) -> bool:
    """Validate as the API does and save with its service; False with the errors placed."""
    serializer = PolicySerializer(data=_serializer_data(form))
    try:
        if not serializer.is_valid():
            _errors_place(form, flatten_errors(serializer.errors))
            return False
        data = serializer.validated_data
        services.policy_update(
            organization=request.organization,
            enabled=data["enabled"],
            run_at=data["run_at"],
            minimum_overdue=data["minimum_overdue"],
            remittance_instructions=data["remittance_instructions"],
            levels=[dict(level) for level in data["levels"]],
        )
    except ValidationFailed as exc:  # the levels' own checks (numbering, days, templates)
        _errors_place(form, exc.fields or {"levels": [exc.message]})
        return False
    return True


# --- a level's preview ------------------------------------------------------------------------


def _int_or(text: str, default: int, maximum: int = 3650) -> int:
    """A typed whole number for the preview (which renders what is typed, valid or not)."""
    return min(int(text), maximum) if _WHOLE.fullmatch(text) else default


def _level_preview(organization, policy, form: PolicyForm, row: LevelRow) -> dict:
    """The email ``row`` (as typed) would send a real customer with overdue invoices today:
    one that reached its days, else any with overdue invoices; rendered as a run renders it.
    ``{"error": …}`` when a template does not compile, ``{"customer": None}`` without one."""
    problems = {
        name: problem
        for name in TEMPLATE_FIELDS
        if (problem := template_error(name, row.values[name]))
    }
    if problems:
        row.errors.update({name: [problem] for name, problem in problems.items()})
        return {"error": "Correct the template errors to preview this level."}
    level = DunningLevel(
        organization_id=organization.pk,
        level=_int_or(row.values["level"], 1),
        days_after_due=_int_or(row.values["days_after_due"], 0),
        contact_escalation_levels=[
            int(part)
            for part in _escalation_levels(row.values["contact_escalation_levels"])
            if _WHOLE.fullmatch(part)
        ]
        or [1],
        subject=row.values["subject"],
        body_text=row.values["body_text"],
        body_html=row.values["body_html"],
        attach_statement=row.values["attach_statement"],
    )
    today = services.organization_today(organization)
    overdue = dunning_runs.dunnable_invoices(organization, today).order_by(
        "due_date", "invoice_number", "id"
    )
    reached = overdue.filter(due_date__lte=today - timedelta(days=level.days_after_due))
    first = reached.select_related("customer").first()
    invoices = reached
    if first is None:
        first = overdue.select_related("customer").first()
        invoices = overdue
    if first is None:
        return {"customer": None}
    customer = first.customer
    lines = [
        dunning_runs.PlannedLine(invoice, (today - invoice.due_date).days)
        for invoice in invoices.filter(customer=customer)
    ]
    contacts = list(Contact.objects.for_org(organization).filter(customer=customer))
    recipients = dunning_runs.level_recipients(contacts, level)
    plan = dunning_runs.PlannedReminder(
        customer, level, recipients or [Contact(contact_name="", email="")], lines
    )
    # The remittance instructions as typed, like the level; rendered as a run renders it.
    policy.remittance_instructions = form.values["remittance_instructions"]
    try:
        subject, body_text, body_html = dunning_runs.ReminderTemplates().render(
            organization, policy, plan
        )
    except Exception as exc:  # a stored template is the clerk's code: say, never a 500
        return {"error": f"This level's templates failed to render: {exc}"}
    return {
        "customer": customer,
        "reached": invoices is reached,
        "to": [contact.email for contact in recipients],
        "subject": subject,
        "body_text": body_text,
        "html_preview": PREVIEW_POLICY + body_html if body_html else "",
        "invoice_count": len(lines),
        "total": plan.total,
    }


# --- the pages --------------------------------------------------------------------------------


def _apply_op(op: str, form: PolicyForm) -> LevelRow | None:
    """Do an editing button's work on the form; the row to preview for ``preview:<key>``."""
    action, _, key = op.partition(":")
    index = next((i for i, row in enumerate(form.rows) if row.key == key), None)
    if action == "add":
        form.rows.append(_new_row(form))
    elif action == "renumber":
        _renumber(form)
    elif index is None:
        return None
    elif action == "remove":
        del form.rows[index]
    elif action in ("up", "down"):
        other = index - 1 if action == "up" else index + 1
        if 0 <= other < len(form.rows):
            form.rows[index], form.rows[other] = form.rows[other], form.rows[index]
            _renumber(form)
    elif action == "preview":
        return form.rows[index]
    return None


@require_http_methods(["GET", "POST"])
@workspace_view
def policy(request):
    """The policy: run time, minimum, remittance instructions and the ordered levels."""
    organization = request.organization
    saved = services.policy_get_or_seed(organization=organization)
    editable = policy_editable(request)
    status = 200
    op = request.POST.get("op", "save") if request.method == "POST" else ""
    if request.method == "POST":
        form = _form_from_post(request.POST)
        preview_row = _apply_op(op, form)
        if preview_row is not None:
            preview_row.preview = _level_preview(organization, saved, form, preview_row)
        elif op == "save":
            if not editable:
                raise PermissionDenied("Only an admin of this organization may do this.")
            if _form_save(request, form):
                messages.success(request, "Dunning policy saved.")
                return redirect("collections:policy")
            status = 400
    else:
        form = _form_from_policy(saved)
    blank = LevelRow("__KEY__", _new_row(PolicyForm(form.values, list(form.rows))).values)
    return render(
        request,
        "dunning/policy.html",
        {
            "form": form,
            "editable": editable,
            "unsaved": request.method == "POST" and op != "save",
            "level_template": blank,
            "placeholders": PLACEHOLDERS,
            "time_zone": organization.timezone,
            "max_levels": PolicySerializer().fields["levels"].max_length,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@workspace_view
def run(request):
    """Today's dry run (the reminders a run would queue now) and running it now."""
    organization = request.organization
    if request.method == "POST":
        if not policy_editable(request):
            raise PermissionDenied("Only an admin of this organization may do this.")
        queued = task_send(tasks.run_task, args=[organization.pk], later="run it again")
        if queued:
            messages.success(
                request,
                "Dunning run queued: its reminders are listed under Reminders as it queues "
                "them, and each goes out from the outbox.",
            )
        else:
            messages.error(
                request, "The run could not be queued (the task queue is away): try again."
            )
        return redirect("collections:run")
    policy = services.policy_get_or_seed(organization=organization)
    plans = services.dunning_plan(organization=organization)
    return render(
        request,
        "dunning/run.html",
        {
            "policy": policy,
            "plans": plans,
            "today": services.organization_today(organization),
            "time_zone": organization.timezone,
            "total": sum((plan.total for plan in plans), ZERO),
            "editable": policy_editable(request),
        },
    )


@workspace_view
def reminder_list(request):
    """Reminders the runs queued, newest first, by status, level and customer."""
    organization = request.organization
    reminders = selectors.reminder_list(organization=organization).select_related("customer")
    name = request.GET.get("customer", "").strip()
    if name:
        reminders = reminders.filter(customer__company_name__icontains=name)
    filterset = ReminderFilterSet(request.GET, queryset=reminders)
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = paginate(request, queryset)
    rows = list(page.object_list)
    for reminder in rows:
        reminder.badge = REMINDER_BADGES.get(reminder.status, reminder.status)
    customer = None
    customer_id = request.GET.get("customer_id", "")
    if customer_id and filterset.is_valid() and filterset.form.cleaned_data.get("customer_id"):
        customer = (
            Customer.objects.for_org(organization)
            .filter(pk=filterset.form.cleaned_data["customer_id"])
            .only("id", "company_name")
            .first()
        )
    levels = list(
        Reminder.objects.for_org(organization)
        .order_by("level")
        .values_list("level", flat=True)
        .distinct()
    )
    return render(
        request,
        "dunning/reminder_list.html",
        {
            "page_obj": page,
            "reminders": rows,
            "filterset": filterset,
            "statuses": Reminder.Status.choices,
            "levels": levels,
            "customer": customer,
            "currency": organization.currency,
        },
    )


# Included by dunning/urls.py (namespace "collections").
routes = [
    path("policy/", policy, name="policy"),
    path("run/", run, name="run"),
    path("reminders/", reminder_list, name="reminders"),
]
