"""Money in the clerk pages: the organization's currency, two decimals, grouped thousands."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils.html import format_html

register = template.Library()

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CHF": "CHF "}
CENT = Decimal("0.01")
MINUS = "\u2212"  # a true minus sign, the width of a digit


def format_money(value, currency: str = "USD") -> str:
    """``1234.5`` in USD → ``$1,234.50``; negative → ``-$12.00`` (with a minus sign); other codes → ``CAD 1.00``."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    prefix = SYMBOLS.get(currency, f"{currency} ")
    sign = MINUS if amount < 0 else ""
    return f"{sign}{prefix}{abs(amount):,.2f}"


def _currency(context) -> str:
    request = context.get("request")
    organization = getattr(request, "organization", None)
    return getattr(organization, "currency", None) or "USD"


@register.simple_tag(takes_context=True)
def money(context, value):
    """``{% money invoice.amount_due %}`` in the current organization's currency."""
    text = format_money(value, _currency(context))
    css = "money negative" if text.startswith(MINUS) else "money"
    return format_html('<span class="{}">{}</span>', css, text)


@register.simple_tag(takes_context=True)
def money_text(context, value):
    """The same, as plain text (for attributes and labels)."""
    return format_money(value, _currency(context))


@register.filter
def percent_of(value, total):
    """Share of ``total`` as a percentage 0 to 100 (for bar widths)."""
    try:
        total = Decimal(str(total))
        if total <= 0:
            return 0
        return int((Decimal(str(value)) / total * 100).quantize(Decimal("1")))
    except (InvalidOperation, ValueError, TypeError):
        return 0


@register.filter
def days_past(due_date, today):
    """Whole days ``due_date`` lies before ``today`` (0 when not yet due)."""
    try:
        return max((today - due_date).days, 0)
    except TypeError:
        return 0


@register.filter(is_safe=True)
def money_in(value, currency):
    """``{{ amount|money_in:currency }}``: the ``money`` tag as a filter (cheaper in long
    lists; the view passes the organization's currency once)."""
    text = format_money(value, currency or "USD")
    css = "money negative" if text.startswith(MINUS) else "money"
    return format_html('<span class="{}">{}</span>', css, text)


@register.filter
def money_text_in(value, currency):
    return format_money(value, currency or "USD")
