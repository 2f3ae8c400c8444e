"""An invoice's lines and the ledger entries that issue it (posted, and reversed)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone

from arpilot.errors import ValidationFailed
from arpilot.money import ZERO
from receivables.models import Account, Fund, Invoice, InvoiceLine, JournalEntry
from receivables.services.ledger import (
    Posting,
    base_currency,
    currency_unit,
    ledger_post,
    ledger_reverse,
    to_base,
)


@dataclass
class LineSpec:
    """A line as the caller asks for it (accounts and funds already resolved)."""

    amount: Decimal
    account: Account
    fund: Fund
    note: str = ""
    id: int | None = None


def _lines_total(lines: list[LineSpec]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def _validate_lines(lines: list[LineSpec], ar_account: Account, field_name: str) -> None:
    if not lines:
        raise ValidationFailed(
            "An invoice needs at least one line.", fields={field_name: ["At least one line."]}
        )
    for index, line in enumerate(lines):
        if line.amount <= 0:
            raise ValidationFailed(
                "Line amounts must be greater than zero.",
                fields={f"{field_name}.{index}.amount": ["Must be greater than zero."]},
            )
        if line.account.pk == ar_account.pk:
            raise ValidationFailed(
                "A line cannot post to the invoice's receivable account.",
                fields={f"{field_name}.{index}.account": ["This is the receivable account."]},
            )


def _validate_ar_account(account: Account, field_name: str = "ar_account") -> None:
    if account.type != Account.Type.ASSET:
        raise ValidationFailed(
            f"Account {account.account_number} is not an asset account.",
            fields={field_name: ["The receivable account must be an asset account."]},
        )


def _lines_in_base(invoice: Invoice, lines: list[InvoiceLine]) -> list[Decimal]:
    """Each line's amount in the base currency at the invoice's rate: each converted, and
    the total's rounding difference on the largest line, so the receivable is exactly
    ``to_base(invoice.amount)``."""
    rate = invoice.exchange_rate
    if rate is None:
        return [line.amount for line in lines]
    unit = currency_unit(base_currency(invoice.organization))
    converted = [to_base(line.amount, rate, unit) for line in lines]
    difference = to_base(sum((line.amount for line in lines), ZERO), rate, unit) - sum(
        converted, ZERO
    )
    if difference and converted:
        largest = max(range(len(lines)), key=lambda index: (lines[index].amount, -index))
        converted[largest] += difference
    return converted


def _issue_postings(invoice: Invoice, lines: list[InvoiceLine]) -> list[Posting]:
    """Dr receivable per fund / Cr each line's account; in base at the invoice's rate, with
    the invoice's currency and amounts on every line when it is not the base currency."""
    foreign = invoice.currency if invoice.exchange_rate is not None else ""
    receivable: dict[int, Decimal] = defaultdict(Decimal)
    receivable_foreign: dict[int, Decimal] = defaultdict(Decimal)
    funds: dict[int, Fund] = {}
    postings = []
    for line, base in zip(lines, _lines_in_base(invoice, lines), strict=True):
        receivable[line.fund.pk] += base
        receivable_foreign[line.fund.pk] += line.amount
        funds[line.fund.pk] = line.fund
        postings.append(
            Posting(
                account=line.account,
                fund=line.fund,
                credit=base,
                currency=foreign,
                amount_currency=-line.amount if foreign else None,
            )
        )
    debits = [
        Posting(
            account=invoice.ar_account,
            fund=funds[fund_id],
            debit=amount,
            currency=foreign,
            amount_currency=receivable_foreign[fund_id] if foreign else None,
        )
        for fund_id, amount in receivable.items()
    ]
    return debits + postings


def _post_issue(invoice: Invoice, lines: list[InvoiceLine], entry_date: date) -> JournalEntry:
    return ledger_post(
        organization=invoice.organization_id,
        date=entry_date,
        kind=JournalEntry.Kind.ISSUE,
        lines=_issue_postings(invoice, lines),
        memo=f"Invoice {invoice.invoice_number} issued",
        source="invoice",
        invoice=invoice,
    )


def _active_issue_entry(invoice: Invoice) -> JournalEntry | None:
    return (
        JournalEntry.objects.filter(
            invoice=invoice, kind=JournalEntry.Kind.ISSUE, reversed_by__isnull=True
        )
        .order_by("-created_at")
        .first()
    )


def _reverse_issue(invoice: Invoice, memo: str) -> JournalEntry | None:
    entry = _active_issue_entry(invoice)
    if entry is None:
        return None
    return ledger_reverse(entry=entry, date=timezone.localdate(), memo=memo, source="invoice")


def _save_lines(invoice: Invoice, specs: list[LineSpec], *, new: bool = False) -> list[InvoiceLine]:
    """Replace the invoice's lines with ``specs``, reusing existing rows (and their ids);
    a ``new`` invoice's lines are inserted in one statement."""
    if new:
        claimed = sorted(spec.id for spec in specs if spec.id is not None)
        if claimed:
            raise ValidationFailed(
                f"Line {claimed[0]} is not a line of this invoice.",
                fields={"lines": [f"Unknown line id {claimed[0]}."]},
            )
        return InvoiceLine.objects.bulk_create(
            InvoiceLine(
                organization_id=invoice.organization_id,
                invoice=invoice,
                position=position,
                amount=spec.amount,
                note=spec.note,
                account=spec.account,
                fund=spec.fund,
            )
            for position, spec in enumerate(specs)
        )
    existing = list(invoice.lines.order_by("position", "id"))
    by_id = {line.id: line for line in existing}
    claimed = {spec.id for spec in specs if spec.id is not None}
    unknown = claimed - by_id.keys()
    if unknown:
        raise ValidationFailed(
            f"Line {sorted(unknown)[0]} is not a line of this invoice.",
            fields={"lines": [f"Unknown line id {sorted(unknown)[0]}."]},
        )
    spare = [line for line in existing if line.id not in claimed]
    saved = []
    for position, spec in enumerate(specs):
        line = by_id[spec.id] if spec.id is not None else (spare.pop(0) if spare else None)
        if line is None:
            line = InvoiceLine(organization_id=invoice.organization_id, invoice=invoice)
        line.position = position
        line.amount = spec.amount
        line.note = spec.note
        line.account = spec.account
        line.fund = spec.fund
        line.save()
        saved.append(line)
    if spare:
        InvoiceLine.objects.filter(pk__in=[line.pk for line in spare]).delete()
    return saved
