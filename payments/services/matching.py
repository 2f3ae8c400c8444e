"""Matching runs: rank suggestions for unmatched payments, store them, and auto-apply the
unambiguous ones (the ranking itself is ``payments.matching``: pure Python, no models)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import CharField, Count, IntegerField, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from arpilot.db import execute_with_settings
from arpilot.money import MILL, money_value
from arpilot.queueing import task_send_on_commit
from customers.models import Contact

# payments.tasks imports this package too; both sides only use the other's attributes when
# called, so the cycle is safe at import time.
from payments import lock_objects, tasks
from payments.matching import (
    MatchIndex,
    OpenInvoice,
    PayerHistory,
    PaymentInput,
    decide,
    worth_showing,
)
from payments.matching.parallel import suggest_chunks
from payments.models import MatchSuggestion, PayerCustomerHistory, Payment, PaymentSettings
from payments.selectors import payment_hold_rendering
from payments.services import match_candidates, rules
from payments.services.common import (
    collector_paused,
    copy_json,
    copy_rows,
    organization_currency,
)
from payments.services.money import payment_auto_apply, payment_create
from receivables.models import ExchangeRate, Invoice

MATCH_BATCH = 10_000
# Payments ranked per worker job; their rows come back built, ready to store.
MATCH_CHUNK = 2_000
SUGGESTIONS_KEPT = 5
# POST /payments matches the new payment inline when the organization has at most this many
# open invoices (building the index is then quick); larger books are matched by the task.
MATCH_INLINE_MAX_OPEN_INVOICES = 20_000
# Up to this many payments are matched against only their candidates (read by SQL on
# PostgreSQL: ``match_candidates``) instead of an index of the whole book.
CANDIDATES_MAX_PAYMENTS = 20


@dataclass
class MatchRun:
    payments: int = 0
    suggestions: int = 0
    auto_applied: int = 0
    seconds: dict = field(default_factory=dict)  # per phase: read, index, rank, store, apply


class _Laps:
    """Adds the seconds since the last lap to a phase of ``seconds``."""

    def __init__(self, seconds: dict):
        self.seconds = seconds
        self.clock = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self.clock, 3)
        self.clock = now


def payments_match(
    *,
    organization,
    payment_ids=None,
    today: date | None = None,
    batch_size: int = MATCH_BATCH,
    auto_apply: bool | None = None,
    workers: int | None = None,
    fresh: list[Payment] | None = None,
    options: PaymentSettings | None = None,
    index_key: str | None = None,
) -> MatchRun:
    """Rank suggestions for the organization's unmatched payments (or those of
    ``payment_ids``), store them, and auto-apply the unambiguous ones.

    Open invoices, contacts, payer history and the payments are read once with values()
    queries and indexed; suggestions are computed (in forked workers for large runs) and
    written in batches, each batch its own transaction. Auto-apply needs: the setting on,
    score ≥ threshold and ahead of the next by the margin, a payment younger than the age
    limit, never unapplied by a clerk; each auto-application re-checks the balances under
    its locks.

    ``fresh``: the payments to match were created in the caller's transaction (and are
    ``payment_ids``): nobody else can see them yet, so they are matched as they are in hand
    (not read back), their suggestions are written and applied inside that transaction,
    with no store lock, nothing old to delete and no second lock of the payment rows, and
    each comes back as the API renders it (suggestions and allocations in hand, see
    ``selectors.payment_hold_rendering``). ``options``: the payment settings, when the
    caller read them already. ``index_key``: a chunk of a run spread over workers
    (``match_fanout``): the index of the whole book is built once per process for the run
    and kept for its next chunks.
    """
    org_id = getattr(organization, "pk", organization)
    if options is None:
        options = rules.settings_for_matching(org_id)  # with whether matching rules exist
    currency = organization_currency(organization)  # no query when the object is in hand
    if auto_apply is None:
        auto_apply = options.auto_apply_enabled
    today = today or timezone.localdate()
    run = MatchRun()
    lap = _Laps(run.seconds)
    # Reading, indexing, ranking and storing make millions of long-lived objects with few
    # cycles: the collector stays off meanwhile. Its full collections walked them again and
    # again (a third of the store phase, growing faster than the run), and in forked
    # workers they would copy the pages they touch. Everything big is gone with
    # ``_match_rank_and_store``'s frame before it is switched on again.
    with collector_paused():
        decisions, stored, plan = _match_rank_and_store(
            org_id, payment_ids, options, auto_apply, today, batch_size, workers, run, lap,
            currency, fresh, index_key,
        )  # fmt: skip
    in_hand = {payment.pk: payment for payment in fresh or ()}
    rules.customers_assign(org_id, plan, in_hand)  # assign_customer rules (none: no query)
    for payment in in_hand.values():
        if payment.status != Payment.Status.UNMATCHED:  # applied by its advice: read it back
            continue
        payment_hold_rendering(payment, suggestions=stored.get(payment.pk, []), allocations=[])
    run.auto_applied = _auto_apply(organization, decisions, in_hand, plan)
    lap("apply")
    return run


def _auto_apply(organization, decisions: list, in_hand: dict, plan=None) -> int:
    """Apply the decided suggestions (each re-checked under its locks); how many were."""
    applied = 0
    for pk, suggestion in decisions:
        if payment_auto_apply(
            organization=organization,
            payment_id=pk,
            payment=in_hand.get(pk),
            invoice_ids=list(suggestion.invoice_ids),
            amount=suggestion.amount,
        ):
            applied += 1
            rules.after_auto_apply(organization, plan, pk, in_hand.get(pk))  # write_off rules
    return applied


def _match_rank_and_store(
    org_id, payment_ids, options, auto_apply, today, batch_size, workers, run, lap, currency,
    fresh, index_key=None,
) -> tuple[list, dict]:  # fmt: skip
    """Read, index, rank and store; return the (payment id, suggestion) to auto-apply and,
    for ``fresh`` payments, their stored suggestions by payment id."""
    if fresh is not None:
        payments, unapplied_before = _fresh_inputs(fresh), set()
    else:
        payments, unapplied_before = _match_inputs(org_id, payment_ids)
    run.payments = len(payments)
    if not payments:
        return [], {}, None
    # Matching rules are evaluated before scoring (payments.services.rules).
    plan = rules.plan_for(org_id, payments, options=options, base_currency=currency)
    if len(payments) <= CANDIDATES_MAX_PAYMENTS and match_candidates.usable():
        index, numbers = _candidate_index(org_id, payments, options, lap, currency, plan)
    else:
        index, numbers = _run_index(org_id, options, lap, currency, payments, index_key)
    if plan is not None:
        plan.index(index.invoices)
    copy = connection.vendor == "postgresql"
    finish = _ChunkRows(
        org_id=org_id,
        payments=payments,
        numbers=numbers,
        # Fresh payments keep their rows (the reply shows them); the writer turns them
        # into COPY text itself.
        as_copy_text=copy and fresh is None,
        stamp=timezone.now().isoformat(),
        decide_options=options if auto_apply else None,
        today=today,
        unapplied_before=unapplied_before,
        rules=plan,
    )
    writer = _SuggestionWriter(org_id, payments, batch_size, copy, fresh is not None)
    # Stored in transactions of ``batch_size`` payments while the workers rank the next.
    chunk_size = min(batch_size, MATCH_CHUNK)
    chunks = suggest_chunks(
        index,
        payments,
        limit=SUGGESTIONS_KEPT,
        workers=workers,
        chunk_size=chunk_size,
        finish=finish,
    )
    decisions: list = []
    start = 0
    for rows, count, chunk_decisions in chunks:
        lap("rank")
        end = min(start + chunk_size, len(payments))
        writer.add(start, end, rows)
        decisions += chunk_decisions
        run.suggestions += count
        start = end
        lap("store")
    return decisions, writer.kept, plan


def _fresh_inputs(fresh: list[Payment]) -> list[PaymentInput]:
    """The just-created payments as matching reads them (unmatched, never unapplied)."""
    return [
        PaymentInput(
            id=payment.pk,
            amount=payment.amount,
            payment_date=payment.payment_date,
            payer_name=payment.payer_name,
            reference=payment.payer_reference,
            notes=payment.notes,
            currency=payment.currency or None,
            payer_account=payment.payer_account or None,
        )
        for payment in sorted(fresh, key=lambda payment: payment.pk)
        if payment.status == Payment.Status.UNMATCHED
    ]


# --- reading ----------------------------------------------------------------------------------


def _match_inputs(org_id: int, payment_ids) -> tuple[list[PaymentInput], set]:
    """The unmatched payments to match (all, or those of ``payment_ids``), and which of
    them a clerk once unapplied."""
    candidates = Payment.objects.for_org(org_id).unmatched().order_by("pk")
    if payment_ids is not None:
        candidates = candidates.filter(pk__in=list(payment_ids))
    payments = []
    unapplied_before = set()
    for pk, amount, paid_on, payer, reference, notes, currency, unapplied, account in (
        candidates.values_list(
            "pk", "amount", "payment_date", "payer_name", "payer_reference", "notes",
            "currency", "unapplied_by_clerk", "payer_account",
        )
    ):  # fmt: skip
        payments.append(
            PaymentInput(
                id=pk,
                amount=amount,
                payment_date=paid_on,
                payer_name=payer,
                reference=reference,
                notes=notes,
                currency=currency or None,
                payer_account=account or None,
            )
        )
        if unapplied:
            unapplied_before.add(pk)
    return payments, unapplied_before


def _currencies_of(payments: list[PaymentInput]) -> set[str]:
    return {payment.currency for payment in payments if payment.currency}


def _match_index(
    org_id: int, options, lap, base_currency: str, currencies: set[str]
) -> tuple[MatchIndex, dict]:
    """The organization's open invoices and payer history, indexed; invoice numbers by id.

    Each payment is matched to invoices of its own currency; to invoices of another only
    when the organization has rates for both (``_rates``, read for the invoices' currencies
    and the payments' ``currencies``; never auto-applied)."""
    contacts, history = _contacts_and_payer_history(org_id)
    invoices = _open_invoices(org_id, contacts)
    lap("read")
    return _indexed(org_id, invoices, history, options, lap, base_currency, currencies)


# The index of the run a worker process is matching chunks of (``index_key``): one entry,
# replaced by the next run's, dropped when no chunk came for RUN_INDEX_IDLE_SECONDS.
_run_indexes: dict[tuple[int, str], tuple[MatchIndex, dict, frozenset, float]] = {}
RUN_INDEX_IDLE_SECONDS = 300.0


def _run_index(
    org_id: int, options, lap, base_currency: str, payments: list[PaymentInput], index_key
) -> tuple[MatchIndex, dict]:
    """``_match_index``, or for a chunk of a run (``index_key``) the one this process built
    for the run: rebuilt only when a payment of this chunk is in a currency the chunks that
    built it had none of (the rates it holds are read for the payments' currencies)."""
    if index_key is None:
        return _match_index(org_id, options, lap, base_currency, _currencies_of(payments))
    now = time.monotonic()
    for key, entry in list(_run_indexes.items()):
        if key != (org_id, index_key) or now - entry[3] > RUN_INDEX_IDLE_SECONDS:
            del _run_indexes[key]
    currencies = frozenset(p.currency for p in payments if p.currency not in (None, base_currency))
    cached = _run_indexes.get((org_id, index_key))
    if cached is not None and currencies <= cached[2]:
        _run_indexes[org_id, index_key] = (*cached[:3], now)
        return cached[0], cached[1]
    _run_indexes.pop((org_id, index_key), None)  # free it before the next is built
    # Rates for every currency the run's payments are in, not only this chunk's.
    currencies |= {
        code.upper()
        for code in Payment.objects.for_org(org_id)
        .unmatched()
        .exclude(currency__in=["", base_currency])
        .values_list("currency", flat=True)
        .distinct()
    }
    index, numbers = _match_index(org_id, options, lap, base_currency, set(currencies))
    _run_indexes[org_id, index_key] = (index, numbers, frozenset(currencies), now)
    return index, numbers


def _candidate_index(
    org_id: int, payments: list[PaymentInput], options, lap, base_currency: str, plan=None
) -> tuple[MatchIndex, dict]:
    """As ``_match_index``, over only the open invoices these few payments can match (and
    those their matching rules point to)."""
    invoices, history = match_candidates.candidate_book(
        org_id, payments, short_pay_absolute=options.write_off_tolerance
    )
    invoices += rules.missing_invoices(org_id, plan, invoices)
    lap("read")
    return _indexed(
        org_id, invoices, history, options, lap, base_currency, _currencies_of(payments)
    )


def _indexed(org_id, invoices, history, options, lap, base_currency, currencies: set[str]):
    numbers = {invoice.id: invoice.invoice_number for invoice in invoices}
    index = MatchIndex.build(
        invoices,
        history,
        short_pay_absolute=options.write_off_tolerance,
        currency=base_currency,
        rates=_rates(org_id, base_currency, invoices, currencies),
    )
    lap("index")
    return index, numbers


def _rates(org_id: int, base: str, invoices, currencies: set[str]) -> dict | None:
    """The latest rate of each currency (base per unit; the base is 1), read only when an
    invoice or a payment (``currencies``) is in another currency than the base."""
    foreign = {invoice.currency for invoice in invoices if invoice.currency not in (None, base)}
    foreign |= {code for code in currencies if code != base}
    if not foreign:
        return None
    rates = {base: Decimal(1)}
    for code, rate in (
        ExchangeRate.objects.for_org(org_id)
        .filter(currency__in=sorted(foreign))
        .order_by("currency", "-date")
        .distinct("currency")
        .values_list("currency", "rate")
        if connection.vendor == "postgresql"
        else _latest_rates_portable(org_id, foreign)
    ):
        rates[code] = rate
    return rates


def _latest_rates_portable(org_id: int, currencies: set) -> list:
    latest = {}
    for code, rate in (
        ExchangeRate.objects.for_org(org_id)
        .filter(currency__in=sorted(currencies))
        .order_by("currency", "date")
        .values_list("currency", "rate")
    ):
        latest[code] = rate
    return list(latest.items())


def _open_invoices(organization, contacts: dict) -> list[OpenInvoice]:
    """The open invoices with something due; ``contacts``: names by customer id."""
    rows = list(
        Invoice.objects.for_org(organization)
        .open()
        .filter(amount_due__gt=0)
        .order_by()
        .values_list(
            "id",
            "invoice_number",
            "customer_id",
            "customer__company_name",
            "customer__external_id",
            "amount_due",
            "issue_date",
            "due_date",
            "currency",
        )
    )
    return match_candidates.open_invoices_from_rows(rows, contacts)


_CONTACT, _HISTORY = "c", "h"


def _kind(value: str) -> Value:
    return Value(value, output_field=CharField())


def _contacts_and_payer_history(organization) -> tuple[dict, PayerHistory]:
    """Contact names by customer id, and the payer history: one statement (``UNION ALL``
    of the two tables as (kind, customer id, name or payer key, count))."""
    contacts = (
        Contact.objects.for_org(organization)
        .order_by()
        .values_list(_kind(_CONTACT), "customer_id", "contact_name", Value(0, IntegerField()))
    )
    history_rows = (
        PayerCustomerHistory.objects.for_org(organization)
        .order_by()
        .values_list(_kind(_HISTORY), "customer_id", "payer_key", "count")
    )
    names: dict = {}
    history = PayerHistory()
    for row_kind, customer_id, text, count in contacts.union(history_rows, all=True):
        if row_kind == _CONTACT:
            names.setdefault(customer_id, []).append(text)
        else:
            history.counts.setdefault(text, Counter())[customer_id] += count
    return names, history


# --- ranked chunks into rows ------------------------------------------------------------------


@dataclass
class _ChunkRows:
    """``finish`` of ``suggest_chunks``: a chunk's rows to store (as COPY text on
    PostgreSQL), their count, and its auto-apply decisions; runs in the ranking worker."""

    org_id: int
    payments: list
    numbers: dict
    as_copy_text: bool
    stamp: str
    decide_options: object | None  # the payment settings; None: no auto-apply
    today: date
    unapplied_before: set
    rules: object | None = None  # the run's matching rules (rules.RulePlan); None: none hit

    def __call__(self, start: int, end: int, ranked: list) -> tuple:
        rows, decisions = [], []
        numbers = self.numbers
        for payment, suggestions in zip(self.payments[start:end], ranked, strict=True):
            hit = self.rules.hits.get(payment.id) if self.rules is not None else None
            ranked_by_engine = suggestions  # what the auto-apply policy decides on
            suggestions = worth_showing(suggestions)  # what is stored
            if hit is not None:
                suggestions = self.rules.adjust(payment, suggestions)
            for rank, suggestion in enumerate(suggestions, start=1):
                rows.append(
                    (
                        payment.id,
                        rank,
                        [str(pk) for pk in suggestion.invoice_ids],
                        [numbers[pk] for pk in suggestion.invoice_ids],
                        suggestion.amount,
                        min(max(float(suggestion.score), 0.0), 1.0),
                        list(suggestion.reasons),
                    )
                )
            if self.decide_options is not None and ranked_by_engine:
                decision = self._decide(payment, ranked_by_engine)
                # A rule never makes auto-apply what the policy refuses (RuleHit.allows).
                if decision.apply and (hit is None or hit.allows(decision.suggestion, suggestions)):
                    decisions.append((payment.id, decision.suggestion))
        count = len(rows)
        if self.as_copy_text:
            return _suggestion_lines(self.org_id, rows, self.stamp), count, decisions
        return rows, count, decisions

    def _decide(self, payment: PaymentInput, suggestions):
        options = self.decide_options
        return decide(
            payment,
            suggestions,
            threshold=float(options.auto_apply_threshold),
            margin=float(options.auto_apply_margin),
            max_age_days=options.auto_apply_max_age_days,
            today=self.today,
            previously_unapplied=payment.id in self.unapplied_before,
        )


# --- storing ----------------------------------------------------------------------------------


class _SuggestionWriter:
    """Collects ranked chunks and stores them a batch (``batch_size`` payments, or the last
    chunk) at a time, each batch its own transaction under the matching store lock; payments
    ``fresh`` in the caller's transaction are stored in it (no lock, nothing to replace)."""

    def __init__(self, org_id: int, payments: list, batch_size: int, copy: bool, fresh: bool):
        self.org_id = org_id
        self.payments = payments
        self.batch_size = batch_size
        self.copy = copy
        self.fresh = fresh
        self.pending: list = []  # chunks ranked and not yet stored: (start, end, rows or text)
        self.kept: dict = {}  # fresh payments' suggestions as stored, by payment id

    def add(self, start: int, end: int, rows) -> None:
        self.pending.append((start, end, rows))
        if end - self.pending[0][0] >= self.batch_size or end == len(self.payments):
            self.store()

    def store(self) -> None:
        pending = self.pending
        ids = [payment.id for start, end, _ in pending for payment in self.payments[start:end]]
        replace = not self.fresh
        with transaction.atomic(savepoint=not self.fresh):
            if replace:
                lock_objects.matching_store_lock(self.org_id)
            if self.copy and not self.fresh:
                text = "".join(rows for *_, rows in pending)
                _suggestions_store(self.org_id, ids, copy_text=text, replace=replace)
            else:
                rows = [row for *_, rows in pending for row in rows]
                stamp = timezone.now()
                _suggestions_store(self.org_id, ids, rows, replace=replace, stamp=stamp)
                if self.fresh:
                    self._keep(rows, stamp)
        pending.clear()

    def _keep(self, rows: list[tuple], stamp) -> None:
        """The stored rows as the reply shows them (amounts to the mill, as the column
        stores them), by payment, in rank order."""
        for payment_id, rank, invoice_ids, numbers, amount, score, reasons in rows:
            self.kept.setdefault(payment_id, []).append(
                MatchSuggestion(
                    organization_id=self.org_id,
                    payment_id=payment_id,
                    rank=rank,
                    invoice_ids=invoice_ids,
                    invoice_numbers=numbers,
                    amount=money_value(amount.quantize(MILL, rounding=ROUND_HALF_UP)),
                    score=score,
                    reasons=reasons,
                    created_at=stamp,
                )
            )


def _uuid_array(ids: list[str]) -> str:
    return '["' + '", "'.join(ids) + '"]' if ids else "[]"


_SUGGESTION_COLUMNS = (
    "organization_id",
    "payment_id",
    "rank",
    "invoice_ids",
    "invoice_numbers",
    "amount",
    "score",
    "reasons",
    "created_at",
)


def _suggestion_lines(organization_id: int, rows: list[tuple], stamp: str) -> str:
    """Suggestion rows as COPY text, in ``_SUGGESTION_COLUMNS`` order."""
    # Invoice ids are UUID strings: their JSON array needs no encoder.
    return "".join(
        f"{organization_id}\t{payment_id}\t{rank}\t{_uuid_array(invoice_ids)}\t"
        f"{copy_json(numbers)}\t{amount}\t{score!r}\t{copy_json(reasons)}\t{stamp}\n"
        for payment_id, rank, invoice_ids, numbers, amount, score, reasons in rows
    )


# A batch's old suggestions, looked up per payment through the (payment, rank) index, whatever
# the planner believes of the table. It knows nothing of a table this very run is filling (never
# analyzed: autovacuum off or behind), guessed thousands of rows per payment and hashed the ids
# against a sequential scan of every stored suggestion, once per batch: a run's deletes grew
# with the square of the book (1M payments: 110M rows read, 80 s of the database's CPU).
_PLANNED_BY_INDEX = {"enable_seqscan": "off", "enable_hashjoin": "off", "enable_mergejoin": "off"}
_SUGGESTIONS_DELETE = (
    f"DELETE FROM {MatchSuggestion._meta.db_table} "  # noqa: S608
    "WHERE payment_id IN (SELECT unnest(%s::uuid[]))"
)


def _suggestions_store(
    organization_id: int,
    payment_ids: list,
    rows: list[tuple] = (),
    *,
    copy_text: str = "",
    replace: bool = True,
    stamp=None,
) -> None:
    """Replace the suggestions of ``payment_ids`` with ``rows``, or on PostgreSQL with
    ``copy_text`` (rows as ``_suggestion_lines`` writes them) by COPY. ``replace=False``:
    the payments have none yet (created in this transaction)."""
    if connection.vendor == "postgresql":
        if not replace:
            payment_ids = []
        if payment_ids:
            with connection.cursor() as cursor:
                execute_with_settings(
                    cursor, _SUGGESTIONS_DELETE, [list(payment_ids)], _PLANNED_BY_INDEX
                )
        if rows:
            copy_text += _suggestion_lines(
                organization_id, rows, (stamp or timezone.now()).isoformat()
            )
        if copy_text:
            copy_rows(MatchSuggestion._meta.db_table, _SUGGESTION_COLUMNS, [copy_text])
        return
    if replace:
        MatchSuggestion.objects.filter(payment_id__in=payment_ids).delete()
    MatchSuggestion.objects.bulk_create(
        MatchSuggestion(
            organization_id=organization_id,
            payment_id=payment_id,
            rank=rank,
            invoice_ids=invoice_ids,
            invoice_numbers=numbers,
            amount=amount,
            score=score,
            reasons=reasons,
        )
        for payment_id, rank, invoice_ids, numbers, amount, score, reasons in rows
    )


@transaction.atomic
def payment_record(*, organization, **fields) -> Payment:
    """Record one received payment (``payment_create``) and match it, in one transaction:
    for a small book its suggestions are stored and an unambiguous one applied before the
    commit, so the caller's reply shows ``auto_applied``; a large book is matched by the
    task after the commit."""
    payment = payment_create(organization=organization, **fields)
    payments_match_soon(organization=organization, payment_ids=[payment.pk], fresh=[payment])
    return payment


def _settings_and_open_count(org_id: int) -> tuple[PaymentSettings | None, int]:
    """The organization's payment settings (None before their first use) and how many open
    invoices it has: one statement, the count riding along the settings row."""
    open_count = (
        Invoice.objects.for_org(org_id)
        .open()
        .order_by()
        .values("organization_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    found = (
        PaymentSettings.objects.filter(organization_id=org_id)
        .annotate(
            open_invoices=Coalesce(Subquery(open_count), Value(0)),
            has_match_rules=rules.has_rules_annotation(org_id),
        )
        .first()
    )
    if found is None:
        return None, Invoice.objects.for_org(org_id).open().count()
    return found, found.open_invoices


def payments_match_soon(
    *, organization, payment_ids: list, fresh: list[Payment] | None = None
) -> None:
    """Match just-created payments: inline for a small book, else by the task after commit.
    ``fresh``: they were created in the caller's open transaction (see ``payments_match``)."""
    org_id = getattr(organization, "pk", organization)
    if len(payment_ids) <= CANDIDATES_MAX_PAYMENTS and match_candidates.usable():
        # Matching reads only the payments' candidates: inline whatever the book's size.
        payments_match(organization=organization, payment_ids=payment_ids, fresh=fresh)
        return
    options, open_count = _settings_and_open_count(org_id)
    if open_count <= MATCH_INLINE_MAX_OPEN_INVOICES:
        payments_match(
            organization=organization,
            payment_ids=payment_ids,
            fresh=fresh,
            options=options or rules.settings_for_matching(org_id),
        )
        return
    ids = [str(pk) for pk in payment_ids]
    task_send_on_commit(tasks.payments_match_task, args=[org_id], kwargs={"payment_ids": ids})
