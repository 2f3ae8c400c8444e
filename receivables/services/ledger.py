"""The chart of accounts, funds and the double-entry AR ledger.

Every money event posts one balanced journal entry (and balanced per fund):

* issue          Dr receivable account (per fund of the lines) / Cr each line's account
* payment        Dr cash / Cr receivable, split across funds in proportion to what each
                 fund still has open on the invoice
* *_reversal     the mirror image of the entry it reverses (``reverses``)

Entries are never changed or deleted: a correction posts a reversal.

Debits and credits are in the organization's base currency. A line about money in another
currency also carries that ``currency`` and its signed ``amount_currency`` (an invoice in
EUR: its receivable and revenue lines; a payment in EUR: its cash line), so the receivable
can be checked per currency in transaction currency too. An invoice in another currency is
booked at its ``exchange_rate`` (base per unit); money received on it relieves the receivable
at that rate, and what the money was worth at the payment's rate besides is a realised
exchange gain or loss (``exchange_account``).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Subquery
from django.db.models.sql import InsertQuery

from arpilot.compiled import CompiledInstances, Slot, organization_slot
from arpilot.currencies import currency_places
from arpilot.db import conflict, unique_or_conflict
from arpilot.errors import Conflict, ValidationFailed
from arpilot.money import CENT, MILL, ZERO
from receivables.models import (
    Account,
    Fund,
    Invoice,
    JournalEntry,
    JournalLine,
    ReceivablesCounter,
)

DEFAULT_ACCOUNTS = (
    (1000, "Cash", Account.Type.ASSET, Account.Role.CASH),
    (1100, "Accounts Receivable", Account.Type.ASSET, Account.Role.RECEIVABLE),
    (4000, "Revenue", Account.Type.INCOME, Account.Role.REVENUE),
)


DEFAULT_FUND_NAME = "General Fund"


@transaction.atomic
def organization_ledger_setup(*, organization) -> None:
    """Seed a new organization's chart of accounts, its General Fund and id counter."""
    for number, name, type_, role in DEFAULT_ACCOUNTS:
        Account.objects.get_or_create(
            organization=organization,
            account_number=number,
            defaults={"name": name, "type": type_, "role": role},
        )
    if not Fund.objects.for_org(organization).filter(is_default=True).exists():
        Fund.objects.create(organization=organization, name=DEFAULT_FUND_NAME, is_default=True)
    ReceivablesCounter.objects.get_or_create(organization=organization)


def default_account(organization, role: str) -> Account:
    """The organization's account for ``role``; seeded on demand for older organizations."""
    account = Account.objects.for_org(organization).filter(role=role).first()
    if account is None:
        organization_ledger_setup(organization=organization)
        account = Account.objects.for_org(organization).get(role=role)
    return account


# Every invoice create reads it: compiled once (``arpilot.compiled``).
_LEDGER_DEFAULTS = CompiledInstances(
    Account,
    lambda organization, roles: (
        Account.objects.for_org(organization)
        .filter(role__any=roles)
        .order_by("pk")
        .annotate(
            default_fund_id=Subquery(_default_fund_of(organization).values("pk")[:1]),
            default_fund_name=Subquery(_default_fund_of(organization).values("name")[:1]),
        )
    ),
    organization_slot(),
    Slot("roles"),
    extra=("default_fund_id", "default_fund_name"),
)


def ledger_defaults(organization, roles) -> tuple[dict[str, Account], Fund]:
    """The organization's accounts for ``roles`` (by role) and its default fund, read in one
    statement (the fund rides along each account row); seeded on demand like the others.

    The fund comes back with what postings and renderings use (id, organization, name)."""
    org_id = getattr(organization, "pk", organization)
    rows = _LEDGER_DEFAULTS.get(organization=org_id, roles=list(roles))
    accounts: dict[str, Account] = {}
    for account in rows:
        accounts.setdefault(account.role, account)
    if set(roles) - set(accounts) or not rows or rows[0].default_fund_id is None:
        organization_ledger_setup(organization=organization)
        return {role: default_account(org_id, role) for role in roles}, default_fund(org_id)
    first = rows[0]
    default = Fund(
        id=first.default_fund_id, organization_id=org_id, name=first.default_fund_name,
        is_default=True,
    )  # fmt: skip
    return accounts, default


def _default_fund_of(organization):
    return Fund.objects.filter(organization_id=organization, is_default=True).order_by("pk")


def default_fund(organization) -> Fund:
    fund = Fund.objects.for_org(organization).filter(is_default=True).first()
    if fund is None:
        organization_ledger_setup(organization=organization)
        fund = Fund.objects.for_org(organization).get(is_default=True)
    return fund


def _account_number_holder(organization, number: int, exclude_pk=None):
    qs = Account.objects.for_org(organization).filter(account_number=number)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.values_list("pk", flat=True).first()


def _account_number_conflict(organization, number: int, exclude_pk=None):
    """The 409 for a taken account number (``existing_id`` names the holder), or None."""
    existing = _account_number_holder(organization, number, exclude_pk)
    if existing is None:
        return None
    return conflict(
        f"Account number {number} already exists.",
        field="account_number",
        existing_id=existing,
        detail="An account with this number already exists.",
    )


@transaction.atomic
def account_create(*, organization, account_number: int, name: str, type: str) -> Account:
    clash = _account_number_conflict(organization, account_number)
    if clash is not None:
        raise clash
    with unique_or_conflict(
        lambda: _account_number_holder(organization, account_number),
        f"Account number {account_number} already exists.",
        field="account_number",
        detail="An account with this number already exists.",
    ):
        return Account.objects.create(
            organization=organization, account_number=account_number, name=name, type=type
        )


@transaction.atomic
def account_update(*, account: Account, **changes) -> Account:
    number = changes.get("account_number")
    if number is not None and number != account.account_number:
        clash = _account_number_conflict(account.organization_id, number, exclude_pk=account.pk)
        if clash is not None:
            raise clash
    new_type = changes.get("type")
    if new_type and new_type != account.type and account.role is not None:
        raise ValidationFailed(
            f"The type of the default {account.get_role_display().lower()} account is fixed.",
            fields={"type": ["Cannot change the type of a default account."]},
        )
    for name, value in changes.items():
        setattr(account, name, value)
    with unique_or_conflict(
        lambda: _account_number_holder(
            account.organization_id, account.account_number, exclude_pk=account.pk
        ),
        f"Account number {account.account_number} already exists.",
        field="account_number",
        detail="An account with this number already exists.",
    ):
        account.save()
    return account


def _fund_name_holder(organization, name: str, exclude_pk=None):
    """The id of the fund named ``name`` (case-insensitively), or None."""
    qs = Fund.objects.for_org(organization).filter(name__iexact=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.values_list("pk", flat=True).first()


def _fund_name_guard(organization, name: str, exclude_pk=None):
    """Check first (a friendly 409), then the write inside: the Lower(name) constraint turns a
    concurrent duplicate into the same 409."""
    message = f"A fund named {name!r} already exists."
    detail = "A fund with this name already exists."
    existing = _fund_name_holder(organization, name, exclude_pk)
    if existing is not None:
        raise conflict(message, field="name", existing_id=existing, detail=detail)
    return unique_or_conflict(
        lambda: _fund_name_holder(organization, name, exclude_pk),
        message,
        field="name",
        detail=detail,
    )


@transaction.atomic
def fund_create(*, organization, name: str) -> Fund:
    with _fund_name_guard(organization, name):
        return Fund.objects.create(organization=organization, name=name)


@transaction.atomic
def fund_update(*, fund: Fund, name: str | None = None) -> Fund:
    if name is not None and name != fund.name:
        with _fund_name_guard(fund.organization_id, name, exclude_pk=fund.pk):
            fund.name = name
            fund.save(update_fields=["name", "updated_at"])
    return fund


EXCHANGE_ACCOUNT_NUMBER = 7900
EXCHANGE_ACCOUNT_NAME = "Realised exchange gain/loss"


def exchange_account(organization) -> Account:
    """The income account realised exchange differences post to (7900 "Realised exchange
    gain/loss": a gain is a credit, a loss a debit); created once per organization, like the
    adjustments' accounts."""
    from receivables.services.adjustments import adjustment_account  # adjustments imports us

    return adjustment_account(
        organization, EXCHANGE_ACCOUNT_NUMBER, EXCHANGE_ACCOUNT_NAME, Account.Type.INCOME
    )


def currency_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` ARPilot keeps (JPY 1, USD 0.01, BHD 0.001)."""
    places = currency_places(currency) if currency else 2
    return Decimal(1).scaleb(-places)


def base_currency(organization) -> str:
    """The organization's base currency (upper-case ISO 4217)."""
    return (getattr(organization, "currency", None) or "USD").upper()


def to_base(amount: Decimal, rate: Decimal | None, unit: Decimal = CENT) -> Decimal:
    """``amount`` at ``rate`` (base per unit; None: 1), rounded half up to ``unit``."""
    if rate is None:
        return amount
    return (amount * rate).quantize(unit, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Posting:
    """One line to post: ``debit`` or ``credit`` in the base currency; ``currency`` and
    ``amount_currency`` (signed: debit positive) when the line is about money in another
    currency (left out: base money, as every caller posted before currencies)."""

    account: Account
    fund: Fund
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    currency: str = ""
    amount_currency: Decimal | None = None


def ledger_post(
    *,
    organization,
    date: date,
    kind: str,
    lines: list[Posting],
    memo: str = "",
    source: str = "",
    invoice: Invoice | None = None,
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Write one journal entry; it must balance in total and within every fund."""
    org_id = getattr(organization, "pk", organization)
    if len(lines) < 2:
        raise ValueError("A journal entry needs at least two lines.")
    per_fund: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        debit, credit = line.debit, line.credit
        if debit.quantize(MILL) != debit or credit.quantize(MILL) != credit:
            raise ValueError("Ledger amounts have at most three decimal places.")
        _check_currency_side(line)
        if line.account.organization_id != org_id or line.fund.organization_id != org_id:
            raise ValueError("Ledger lines must use the entry's organization's accounts.")
        per_fund[line.fund.pk] += debit - credit
    unbalanced = {fund: amount for fund, amount in per_fund.items() if amount != 0}
    if unbalanced:
        raise ValueError(f"Journal entry does not balance per fund: {unbalanced}")
    # Checked above, written below with no savepoint of its own inside a caller's
    # transaction: nothing recovers from a failure half-way through an entry, so the
    # caller's transaction fails whole (and two statements are saved per entry).
    with transaction.atomic(savepoint=False):
        return _entry_write(org_id, date, kind, lines, memo, source, invoice, reverses)


def _check_currency_side(line: Posting) -> None:
    """A line is a positive debit or a positive credit (in base), its transaction amount
    (when it has a currency) on the same side; or, in a currency, a transaction amount alone
    (what a rate rounds to no base money)."""
    debit, credit, foreign = line.debit, line.credit, line.amount_currency
    if bool(line.currency) != (foreign is not None):
        raise ValueError("A ledger line has both a currency and an amount in it, or neither.")
    if foreign is not None and foreign.quantize(currency_unit(line.currency)) != foreign:
        raise ValueError(f"{line.currency} amounts have {currency_places(line.currency)} places.")
    if debit > 0 and credit == 0:
        ok = foreign is None or foreign >= 0
    elif credit > 0 and debit == 0:
        ok = foreign is None or foreign <= 0
    else:
        ok = debit == 0 and credit == 0 and bool(foreign)
    if not ok:
        raise ValueError("Each ledger line is a positive debit or a positive credit.")


def _entry_write(org_id, date, kind, lines, memo, source, invoice, reverses) -> JournalEntry:
    entry = JournalEntry(
        organization_id=org_id,
        date=date,
        kind=kind,
        memo=memo[:500],
        source=source,
        invoice=invoice,
        reverses=reverses,
    )
    posted = [
        JournalLine(
            organization_id=org_id,
            entry=entry,
            account=line.account,
            fund=line.fund,
            debit=line.debit,
            credit=line.credit,
            currency=line.currency,
            amount_currency=line.amount_currency,
        )
        for line in lines
    ]
    if connection.vendor == "postgresql":
        _entry_insert_with_lines(entry, posted)
    else:
        entry.save(force_insert=True)
        posted = JournalLine.objects.bulk_create(posted)
    entry.posted_lines = posted  # kept: receivers describe the entry without reading it back
    return entry


def _insert_sql(objs: list, returning=()) -> tuple[str, tuple]:
    """Django's own INSERT of ``objs`` (one model; defaults and ``auto_now`` filled in as
    ``save``/``bulk_create`` fill them), optionally ``RETURNING`` some columns."""
    meta = objs[0]._meta
    fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
    query = InsertQuery(type(objs[0]))
    query.insert_values(fields, objs)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = list(returning)
    [(sql, params)] = compiler.as_sql()
    return sql, tuple(params)


def _entry_insert_with_lines(entry: JournalEntry, lines: list[JournalLine]) -> None:
    """PostgreSQL: the entry and its lines in one statement (the entry's INSERT in a ``WITH``;
    the lines' foreign key to it is checked at commit), the lines' ids returned."""
    entry_sql, entry_params = _insert_sql([entry])
    lines_sql, lines_params = _insert_sql(lines, returning=[JournalLine._meta.pk])
    with connection.cursor() as cursor:
        cursor.execute(f"WITH entry AS ({entry_sql}) {lines_sql}", entry_params + lines_params)
        ids = [row[0] for row in cursor.fetchall()]
    for obj in (entry, *lines):
        obj._state.adding = False
        obj._state.db = connection.alias
    for line, pk in zip(lines, ids, strict=True):
        line.pk = pk


REVERSAL_KIND = {
    JournalEntry.Kind.ISSUE: JournalEntry.Kind.ISSUE_REVERSAL,
    JournalEntry.Kind.PAYMENT: JournalEntry.Kind.PAYMENT_REVERSAL,
}


def mirror_postings(lines) -> list[Posting]:
    """The postings that undo ``lines`` (journal lines): each on the other side."""
    return [
        Posting(
            account=line.account,
            fund=line.fund,
            debit=line.credit,
            credit=line.debit,
            currency=line.currency,
            amount_currency=None if line.amount_currency is None else -line.amount_currency,
        )
        for line in lines
    ]


def ledger_reverse(
    *,
    entry: JournalEntry,
    date: date,
    memo: str = "",
    source: str = "",
    lines: list | None = None,
    extra: list[Posting] = (),
) -> JournalEntry:
    """Post the mirror image of ``entry`` (each entry is reversed at most once). ``lines``:
    its journal lines, when the caller has read them (with accounts and funds); ``extra``:
    postings added to the reversal (a rounding difference of a foreign receivable), which
    must balance on their own."""
    if entry.kind not in REVERSAL_KIND:
        raise ValueError(f"A {entry.kind} entry cannot be reversed.")
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise Conflict("This ledger entry has already been reversed.")
    if lines is None:
        lines = entry.lines.select_related("account", "fund")
    lines = mirror_postings(lines) + list(extra)
    return ledger_post(
        organization=entry.organization_id,
        date=date,
        kind=REVERSAL_KIND[entry.kind],
        lines=lines,
        memo=memo or f"Reversal of: {entry.memo}",
        source=source,
        invoice=entry.invoice,
        reverses=entry,
    )


def _allocate(amount: Decimal, weights: dict, unit: Decimal = CENT) -> dict:
    """Split ``amount`` in proportion to positive ``weights`` to the ``unit`` (the currency's
    smallest amount: ``currency_unit``; largest remainder)."""
    positive = {key: weight for key, weight in weights.items() if weight > 0}
    total = sum(positive.values(), ZERO)
    if total <= 0:
        raise ValueError("Nothing to allocate against.")
    cents = int(amount / unit)
    shares = {}
    remainders = []
    for key, weight in positive.items():
        exact = Decimal(cents) * weight / total
        whole = int(exact)
        shares[key] = whole
        remainders.append((exact - whole, str(key), key))
    left = cents - sum(shares.values())
    for _, _, key in sorted(remainders, reverse=True)[:left]:
        shares[key] += 1
    return {key: Decimal(share) * unit for key, share in shares.items() if share}
