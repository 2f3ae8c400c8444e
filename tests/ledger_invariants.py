"""The ledger's invariants, checked from the rows (a hypothesis state machine calls
``check_ledger`` after every step; plain tests call it after theirs):

1. every journal entry balances, in total and within every fund (base currency);
2. the receivable (base currency) is the sum of the open items at their booked rates: each
   issued invoice's ``amount_due`` times its ``exchange_rate`` (1 for the base currency),
   rounded half up to the base currency's unit — as the ledger posts it — and this holds per
   invoice too;
3. the receivable per currency, in transaction currency (``JournalLine.amount_currency``),
   is what the invoices of that currency still owe (the base currency: its lines without a
   currency).

Posted credit notes (``credits``) are open items too, negative: what they have not been
applied yet (``amount_remaining``) at their booked rate. ``per_invoice=True`` also checks
each invoice's own receivable lines against its open item (a stronger check for tests of
invoices and payments alone: a credit note moves no ledger money between the two).

Sums are taken in Python: SQLite aggregates decimals as floats.
"""

from collections import defaultdict
from decimal import Decimal

from receivables.models import Account, Invoice, JournalLine
from receivables.services.ledger import base_currency, currency_unit, to_base

ZERO = Decimal("0.00")


def _entries_balance(organization) -> list[str]:
    totals: dict = defaultdict(Decimal)
    per_fund: dict = defaultdict(Decimal)
    for entry_id, fund_id, debit, credit in JournalLine.objects.filter(
        organization=organization
    ).values_list("entry_id", "fund_id", "debit", "credit"):
        totals[entry_id] += debit - credit
        per_fund[entry_id, fund_id] += debit - credit
    problems = [f"entry {key} is off by {value}" for key, value in totals.items() if value]
    problems += [
        f"entry {entry} is off by {value} in fund {fund}"
        for (entry, fund), value in per_fund.items()
        if value
    ]
    return problems


def _receivable_account_ids(organization) -> set:
    used = set(Invoice.objects.for_org(organization).values_list("ar_account_id", flat=True))
    default = set(
        Account.objects.for_org(organization)
        .filter(role=Account.Role.RECEIVABLE)
        .values_list("pk", flat=True)
    )
    return used | default


def _open_items(organization) -> list[tuple]:
    """(id, number, currency, rate, amount_due) of every invoice; nothing open unless
    issued."""
    rows = Invoice.objects.for_org(organization).values_list(
        "pk", "invoice_number", "currency", "exchange_rate", "amount_due", "status"
    )
    return [
        (pk, number, currency, rate, due if status in Invoice.ISSUED_STATUSES else ZERO)
        for pk, number, currency, rate, due, status in rows
    ]


def _credit_notes(organization) -> list[tuple]:
    """(currency, rate, remaining) of every posted credit note (none without the app)."""
    try:
        from credits.models import CreditNote
    except ImportError:  # pragma: no cover - the credits app is part of the project
        return []
    if not any(field.name == "amount_remaining" for field in CreditNote._meta.get_fields()):
        return []
    return list(
        CreditNote.objects.filter(organization=organization, status="posted").values_list(
            "currency", "exchange_rate", "amount_remaining"
        )
    )


def ledger_problems(organization, *, per_invoice: bool = False) -> list[str]:
    """What is wrong with the organization's ledger (empty when every invariant holds)."""
    problems = _entries_balance(organization)
    unit = currency_unit(base_currency(organization))
    accounts = _receivable_account_ids(organization)
    lines = list(
        JournalLine.objects.filter(organization=organization, account_id__in=accounts).values_list(
            "entry__invoice_id", "debit", "credit", "currency", "amount_currency"
        )
    )
    base_by_invoice: dict = defaultdict(Decimal)
    by_currency: dict = defaultdict(Decimal)
    for invoice_id, debit, credit, currency, amount_currency in lines:
        base_by_invoice[invoice_id] += debit - credit
        by_currency[currency] += (debit - credit) if not currency else amount_currency

    expected_total = ZERO
    expected_by_currency: dict = defaultdict(Decimal)
    for pk, number, currency, rate, due in _open_items(organization):
        expected = to_base(due, rate, unit)
        expected_total += expected
        expected_by_currency[currency if rate is not None else ""] += due
        posted = base_by_invoice.pop(pk, ZERO)
        if per_invoice and posted != expected:
            problems.append(
                f"invoice {number}: receivable {posted} in base, open item {expected} "
                f"({due} {currency} at {rate or 1}); difference {posted - expected}"
            )
    for currency, rate, remaining in _credit_notes(organization):
        expected_total -= to_base(remaining, rate, unit)
        expected_by_currency[currency if rate is not None else ""] -= remaining
    total = sum((debit - credit for _, debit, credit, _, _ in lines), ZERO)
    if total != expected_total:
        problems.append(
            f"receivable {total} in base, open items {expected_total}; "
            f"difference {total - expected_total}"
        )
    for currency in sorted(set(by_currency) | set(expected_by_currency)):
        posted, expected = by_currency[currency], expected_by_currency[currency]
        if posted != expected:
            problems.append(
                f"receivable in {currency or 'the base currency'}: {posted} posted, "
                f"{expected} open; difference {posted - expected}"
            )
    return problems


def check_ledger(organization, *, per_invoice: bool = False) -> None:
    """Raise AssertionError naming every difference when an invariant does not hold."""
    problems = ledger_problems(organization, per_invoice=per_invoice)
    if problems:
        raise AssertionError("Ledger invariants broken:\n" + "\n".join(problems))
