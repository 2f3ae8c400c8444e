"""Money in the clerk pages, formatted by Babel: each amount in its own currency.

Invoices are in the organization's currency; a payment is in its own (``Payment.currency``,
the organization's when empty). ``{% money value %}`` uses the organization's currency,
``{% money value currency %}`` (and the ``money_in`` filter) the one given.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol
from django import template
from django.utils.html import format_html

from arpilot.money import CENT

register = template.Library()

MINUS = "\u2212"  # a true minus sign, the width of a digit
LOCALE = "en_US"  # one locale for now
DEFAULT_CURRENCY = "USD"


@lru_cache(maxsize=8)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


@lru_cache(maxsize=256)
def _currency_style(currency: str, locale: str) -> tuple[Decimal, str, str]:
    """(the currency's smallest unit, Babel's symbol, the symbol shown instead).

    A symbol with letters in it ("CA$", "CHF", "SEK", an unknown code) is shown as the ISO
    code and a space ("CAD 1.00", "CHF 1.00"): clearer to a clerk than "CA$1.00"."""
    digits = get_currency_precision(currency)
    symbol = get_currency_symbol(currency, locale=_locale(locale))
    shown = f"{currency} " if any(ch.isalpha() and ch.isascii() for ch in symbol) else symbol
    return Decimal(1).scaleb(-digits), symbol, shown


def format_money(value, currency: str = DEFAULT_CURRENCY, locale: str = LOCALE) -> str:
    """``1234.5`` in USD → ``$1,234.50``; EUR → ``€1,234.50``; negative → ``-$12.00`` (with a true
    minus sign); JPY ``1235`` → ``¥1,235`` (the currency's own decimals when the amount has
    no fraction beyond them, else two: ``¥1,234.50``); BHD ``12.345`` → ``BHD 12.345``;
    letter symbols → ``CAD 1.00``."""
    if value is None or value == "":
        return "—"
    currency = (currency or DEFAULT_CURRENCY).strip().upper() or DEFAULT_CURRENCY
    unit, symbol, shown = _currency_style(currency, locale)
    try:
        amount = Decimal(str(value)).quantize(min(unit, CENT), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    own_digits = unit <= CENT or amount == amount.quantize(unit)
    text = format_currency(
        abs(amount), currency, locale=_locale(locale), currency_digits=own_digits
    )
    if shown != symbol:
        text = text.replace(symbol, shown, 1)
    return f"{MINUS}{text}" if amount < 0 else text


def _currency(context, currency=None) -> str:
    if currency:
        return currency
    request = context.get("request")
    organization = getattr(request, "organization", None)
    return getattr(organization, "currency", None) or DEFAULT_CURRENCY


def _span(text: str):
    css = "money negative" if text.startswith(MINUS) else "money"
    return format_html('<span class="{}">{}</span>', css, text)


@register.simple_tag(takes_context=True)
def money(context, value, currency=None):
    """``{% money invoice.amount_due %}`` in the organization's currency;
    ``{% money payment.amount payment.currency %}`` in the payment's (the organization's
    when empty)."""
    return _span(format_money(value, _currency(context, currency)))


@register.simple_tag(takes_context=True)
def money_text(context, value, currency=None):
    """The same, as plain text (for attributes and labels)."""
    return format_money(value, _currency(context, currency))


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
    lists; the view passes the currency once)."""
    return _span(format_money(value, currency or DEFAULT_CURRENCY))


@register.filter
def money_text_in(value, currency):
    return format_money(value, currency or DEFAULT_CURRENCY)
