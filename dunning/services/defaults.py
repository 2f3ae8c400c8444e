"""What a new organization starts with: a four-level policy and the dispute reason codes."""

from decimal import Decimal

DEFAULT_REASONS = [
    ("pricing", "Pricing"),
    ("damaged_goods", "Damaged goods"),
    ("not_received", "Not received"),
    ("duplicate", "Duplicate"),
    ("other", "Other"),
]

DEFAULT_MINIMUM_OVERDUE = Decimal("10.00")
DEFAULT_REMITTANCE = "Please pay by bank transfer, quoting the invoice numbers."

_ITEMS_TEXT = (
    "{% for invoice in invoices %}"
    "- {{ invoice.number }}: {{ invoice.amount_due }} {{ totals.currency }}, due "
    "{{ invoice.due_date }} ({{ invoice.days_overdue }} days overdue)\n"
    "{% endfor %}"
    "\nTotal overdue: {{ totals.amount_due }} {{ totals.currency }}\n\n"
    "{{ remittance_instructions }}\n\n{{ organization_name }}\n"
)
_ITEMS_HTML = (
    "<table><tr><th>Invoice</th><th>Due</th><th>Days overdue</th><th>Amount due</th></tr>"
    "{% for invoice in invoices %}<tr><td>{{ invoice.number }}</td>"
    "<td>{{ invoice.due_date }}</td><td>{{ invoice.days_overdue }}</td>"
    "<td>{{ invoice.amount_due }} {{ totals.currency }}</td></tr>{% endfor %}</table>"
    "<p><strong>Total overdue: {{ totals.amount_due }} {{ totals.currency }}</strong></p>"
    "<p>{{ remittance_instructions|linebreaksbr }}</p><p>{{ organization_name }}</p>"
)
_GREETING = "Dear {{ contact.name|default:customer.company_name }},"

_LEVELS = [
    (1, 3, [1], "Friendly reminder", "a friendly reminder that", False),
    (2, 14, [1], "Second notice", "our second notice:", False),
    (3, 30, [1, 2], "Final notice", "our final notice before we escalate:", True),
    (4, 45, [2, 3], "Escalation", "escalated to you, as these remain unpaid:", True),
]


def default_levels() -> list[dict]:
    """Friendly, firm, final, escalate."""
    levels = []
    for level, days, contacts, title, words, attach in _LEVELS:
        opening = f"This is {words} the following invoices are past due."
        levels.append(
            {
                "level": level,
                "days_after_due": days,
                "contact_escalation_levels": contacts,
                "subject": f"{title}: overdue invoices from {{{{ organization_name }}}}",
                "body_text": f"{_GREETING}\n\n{opening}\n\n{_ITEMS_TEXT}",
                "body_html": f"<p>{_GREETING}</p><p>{opening}</p>{_ITEMS_HTML}",
                "attach_statement": attach,
            }
        )
    return levels
