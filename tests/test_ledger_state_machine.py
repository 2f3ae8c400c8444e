"""The ledger's invariants under any mix of the money features (issue #14, "Proof").

A hypothesis state machine, one fresh organization per example (its base currency drawn,
USD most often), whose rules call the services with drawn amounts, currencies and rates:
invoices in the base and foreign currencies (booked at a rate given or the table's), rate
table changes, voids, offline payments and their reversals, payments in any currency applied
whole or spread (at a rate given or the table's), unapplied, written off, short pays turned
into deductions, deductions opened and resolved every way, customer credit applied and
refunded, credit notes created, posted, applied, unapplied and voided.

A refusal (400 ``ValidationFailed`` or 409 ``Conflict``) is expected now and then; a refused
step must change nothing. Anything else raised (an IntegrityError, a KeyError, a ValueError:
what would be a 500) fails the test. After every step:

* the ledger's invariants (``tests/ledger_invariants.check_ledger``): every entry balances,
  in total and per fund; the receivable is the open items at their booked rates in the base
  currency, and per currency in transaction currency;
* each invoice no credit note ever touched holds its own open item on its receivable lines
  (a credit note moves receivable to receivable on no invoice's lines);
* every invoice's ``amount_due`` is its amount less what the active payment allocations
  settled (in its currency, with their write-offs), the unreversed offline payments, the
  active credit-note allocations and the deductions' money-moving resolutions, and its
  status is the one the money and the dates give;
* every payment's applied and written-off amounts are its active allocations', its refunds
  are its ``refunded_amount``, and applied + refunded is at most its amount;
* every posted credit note's ``amount_remaining`` is its amount less its active allocations
  (a draft or void one has nothing remaining or applied); at most one open deduction per
  invoice.

Bugs the machine found are pinned by plain tests at the end of the file (failing until the
services are fixed); ``KNOWN_BUGS`` says how the machine steers around each meanwhile.

Sums are taken in Python: SQLite aggregates decimals as floats.
"""

import itertools
import os
import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from arpilot import services as org_services
from arpilot.errors import Conflict, ValidationFailed
from credits.models import CreditNote, CreditNoteAllocation, CreditNoteLine, Deduction
from credits.services import DEFAULT_REASONS, deduction_open, deduction_resolve
from credits.services import credit_notes as notes
from payments import services as payments
from payments.models import CreditRefund, Payment, PaymentAllocation
from payments.services import credit
from receivables import services as receivables
from receivables.models import (
    Account,
    ExchangeRate,
    Invoice,
    InvoiceOfflinePayment,
    JournalEntry,
    JournalLine,
)
from receivables.services.ledger import currency_unit, to_base
from receivables.services.state import derive_status
from reconciliation.models import AccountingChange
from tests.factories import CustomerFactory
from tests.ledger_invariants import check_ledger, ledger_problems

# Bugs of the services this machine found (each shown by a plain test at the end of this
# file, which fails until it is fixed). The machine steers around them, so that it keeps
# finding others: take a bug out of this set once it is fixed.
# Bugs the machine found, fixed since (each pinned by a plain test at the end of this file);
# a name here makes the machine steer around that bug again while it is being fixed.
KNOWN_BUGS: set[str] = set()
BASE_TOTAL = re.compile(r"receivable -?[0-9.]+ in base, open items ")

ZERO = Decimal("0")
CURRENCIES = ("USD", "EUR", "JPY")
LONG_AGO = date(2000, 1, 1)
REASONS = tuple(code for code, _, _ in DEFAULT_REASONS)
_organizations = itertools.count()

# An amount as a count of the currency's units (cents, yen): small ones (where rounding
# shows) as often as ordinary ones.
units = st.one_of(st.integers(1, 30), st.integers(1, 50_000))
# An amount against what is open: a percentage of it (at least one unit), or one time in
# five an amount of its own (which may well be too much: a refusal).
portions = st.tuples(st.integers(0, 4), st.integers(1, 100), units).map(
    lambda drawn: ("units", drawn[2]) if drawn[0] == 0 else ("share", drawn[1])
)
customers = st.integers(0, 1)
currencies = st.sampled_from(CURRENCIES)
# Which invoice (an index into the candidates: the open invoices a step may use), and now
# and then any invoice at all (a void or paid one, another customer's or currency's).
picks = st.integers(0, 30)
strays = st.integers(0, 9).map(lambda n: n == 0)


def _rate(numbers: st.SearchStrategy) -> st.SearchStrategy:
    return numbers.map(lambda n: Decimal(n).scaleb(-6))


# A rate of the table, or an invoice's or a credit note's booked rate (base per unit of the
# currency), as millionths of the least rate at which one unit of the currency is worth
# something in the base currency (``_least_rate``): up to four times it (see ``_rate``).
rate_levels = st.one_of(
    st.sampled_from([1_340_000, 2_200_000, 3_000_000]),  # about JPY, EUR, and USD in yen
    st.integers(1, 4_000_000),
)
# The invoice's currency per unit of the payment's (sent with an apply; None: the table's).
cross_rates = st.one_of(st.none(), _rate(st.integers(1, 200_000_000)))
rate_days = st.sampled_from(["long_ago", "yesterday", "today"])
SEEDED_LEVELS = {"USD": 1_800_000, "EUR": 2_200_000, "JPY": 1_340_000}
resolutions = st.sampled_from([*Deduction.Resolution.values, "bogus"])
reasons = st.sampled_from([*REASONS, "bogus"])


def _amount(count: int, currency: str) -> Decimal:
    return Decimal(count) * currency_unit(currency)


def _sum(values) -> Decimal:
    return sum(values, ZERO)


def _least_rate(base: str, currency: str) -> Decimal:
    """The rate at which the currency's unit is worth half the base currency's (rounded
    half up: one unit of it)."""
    return currency_unit(base) / 2 / currency_unit(currency)


def _portion(portion: tuple, open_amount: Decimal, currency: str) -> Decimal:
    kind, number = portion
    unit = currency_unit(currency)
    if kind == "units" or open_amount <= 0:
        return Decimal(number) * unit
    return max((open_amount * number / 100).quantize(unit, rounding=ROUND_DOWN), unit)


class LedgerBooks(RuleBasedStateMachine):
    payments = Bundle("payments")
    credit_notes = Bundle("credit_notes")

    # --- setup ----------------------------------------------------------------------------

    @initialize(
        base=st.sampled_from(["USD", "USD", "EUR", "JPY"]),
        auto_apply=st.booleans(),
        seed_rates=st.sampled_from([True, True, True, False]),
        opening=st.lists(st.tuples(customers, currencies, units), min_size=1, max_size=3),
    )
    def books(self, base, auto_apply, seed_rates, opening):
        self.org = org_services.organization_create(
            name=f"Ledger machine {next(_organizations)}", currency=base
        )
        self.base = base
        self.customers = [CustomerFactory(organization=self.org) for _ in range(2)]
        self.today = timezone.localdate()
        if auto_apply:
            row = payments.payment_settings_get(organization=self.org)
            row.auto_apply_credit = True
            row.save()
        if seed_rates:
            for currency, level in SEEDED_LEVELS.items():
                if currency != base:
                    receivables.exchange_rate_set(
                        organization=self.org,
                        currency=currency,
                        date=LONG_AGO,
                        rate=self._rate(currency, level),
                    )
        self.refusals = 0
        for customer, currency, count in opening:
            self.new_invoice(customer, currency, count, rate=None, overdue=False)

    def _currency(self, currency: str) -> str:
        return (currency or self.base).upper()

    def _rate(self, currency: str, level: int | None) -> Decimal | None:
        """The rate of ``level`` (see ``rate_levels``) for the currency; None for None."""
        if level is None:
            return None
        factor = Decimal(level).scaleb(-6)
        if "worthless_balance" in KNOWN_BUGS:  # not below the least rate: from 1 to 4 times
            factor = 1 + factor * 3 / 4
        rate = _least_rate(self.base, currency) * factor
        return rate.quantize(Decimal(1).scaleb(-10), rounding=ROUND_UP).normalize()

    def _foreign(self, which: int) -> str:
        return [currency for currency in CURRENCIES if currency != self.base][which]

    def _invoice(self, pick: int, stray: bool, candidates=None) -> Invoice | None:
        """The ``pick``-th of ``candidates`` (default: the open invoices), or of all the
        organization's invoices when ``stray``; None when there is none."""
        everything = Invoice.objects.for_org(self.org)
        if candidates is None:
            candidates = everything.filter(status__in=Invoice.OPEN_STATUSES)
        found = list((everything if stray else candidates).order_by("aplos_id"))
        return found[pick % len(found)] if found else None

    # --- invoices and rates -----------------------------------------------------------------

    @rule(
        customer=customers,
        currency=currencies,
        count=units,
        rate=st.none() | rate_levels,
        overdue=st.booleans(),
    )
    def new_invoice(self, customer, currency, count, rate, overdue):
        issue = self.today - timedelta(days=40) if overdue else self.today
        self._attempt(
            receivables.invoice_create,
            organization=self.org,
            customer=self.customers[customer],
            invoice_number=None,
            amount=_amount(count, currency),
            currency=currency,
            exchange_rate=None if currency == self.base else self._rate(currency, rate),
            issue_date=issue,
            due_date=issue + timedelta(days=30),
        )

    @rule(pick=picks, really=st.integers(0, 2).map(lambda n: n == 0))
    def void_invoice(self, pick, really):
        """Void an invoice (any: void, paid and open ones alike), now and then: voiding every
        fresh invoice would leave little to apply money to."""
        invoice = self._invoice(pick, stray=True) if really else None
        if invoice is not None:
            self._attempt(receivables.invoice_void, invoice=invoice)

    @rule(foreign=st.integers(0, 1), day=rate_days, rate=rate_levels)
    def set_rate(self, foreign, day, rate):
        currency = self._foreign(foreign)
        on = {
            "long_ago": LONG_AGO,
            "yesterday": self.today - timedelta(days=1),
            "today": self.today,
        }[day]
        self._attempt(
            receivables.exchange_rate_set, organization=self.org, currency=currency, date=on,
            rate=self._rate(currency, rate),
        )  # fmt: skip

    @rule(pick=picks, stray=strays, portion=portions)
    def offline_payment(self, pick, stray, portion):
        invoice = self._invoice(pick, stray)
        if invoice is None:
            return
        self._attempt(
            receivables.invoice_record_offline_payment,
            invoice=invoice,
            amount=_portion(portion, invoice.amount_due, invoice.currency),
        )

    @rule(which=st.integers(0, 9))
    def reverse_offline_payment(self, which):
        offline = list(
            InvoiceOfflinePayment.objects.for_org(self.org)
            .order_by("created_at", "id")
            .values_list("pk", "invoice_id")
        )
        if not offline:
            return
        pk, invoice_id = offline[which % len(offline)]
        self._attempt(
            receivables.invoice_offline_payment_reverse,
            invoice=Invoice.objects.get(pk=invoice_id),
            offline_payment_id=pk,
            reason="Recorded by mistake",
            reversed_by="machine",
        )

    # --- payments ---------------------------------------------------------------------------

    @rule(target=payments, currency=currencies, count=units, customer=st.none() | customers)
    def new_payment(self, currency, count, customer):
        payment = self._attempt(
            payments.payment_create,
            in_transaction=True,
            organization=self.org,
            amount=_amount(count, currency),
            currency=currency,
            payment_date=self.today - timedelta(days=1),
            payer_name="Machine payer",
        )
        if payment is None:
            return multiple()
        if customer is not None:
            self._attempt(
                credit.payment_customer_assign,
                organization=self.org,
                payment_id=payment.pk,
                customer_id=self.customers[customer].pk,
            )
        return payment.pk

    @rule(payment=payments, customer=st.none() | customers)
    def assign_payment(self, payment, customer):
        self._attempt(
            credit.payment_customer_assign,
            organization=self.org,
            payment_id=payment,
            customer_id=None if customer is None else self.customers[customer].pk,
        )

    @rule(payment=payments, pick=picks, stray=strays, rate=cross_rates)
    def apply_whole(self, payment, pick, stray, rate):
        invoice = self._invoice(pick, stray)
        if invoice is None:
            return
        self._attempt(
            payments.payment_update,
            organization=self.org,
            payment_id=payment,
            invoice_id=invoice.pk,
            exchange_rate=rate,
        )

    @rule(
        payment=payments,
        spread=st.lists(st.tuples(picks, strays, portions, cross_rates), max_size=3),
        write_off=st.integers(0, 3).map(lambda n: n == 0),
    )
    def spread(self, payment, spread, write_off):
        """Set the payment's whole spread: each share a portion of the payment (what the
        invoice owes at most, in the same currency)."""
        row = Payment.objects.get(pk=payment)
        currency = self._currency(row.currency)
        allocations = []
        for pick, stray, portion, rate in spread:
            invoice = self._invoice(pick, stray)
            if invoice is None:
                continue
            reach = row.amount / len(spread)
            if invoice.currency == currency:
                reach = min(reach, invoice.amount_due)
            item = {"invoice_id": invoice.pk, "amount": _portion(portion, reach, currency)}
            if rate is not None:
                item["exchange_rate"] = rate
            allocations.append(item)
        self._attempt(
            payments.payment_update,
            organization=self.org,
            payment_id=payment,
            allocations=allocations,
            write_off_short_payment=write_off,
        )

    @rule(payment=payments, which=st.integers(0, 5))
    def unapply_one(self, payment, which):
        applied = list(
            PaymentAllocation.objects.filter(payment_id=payment, unapplied_at__isnull=True)
            .order_by("created_at", "id")
            .values_list("invoice_id", flat=True)
        )
        if applied:
            self._attempt(
                payments.payment_unapply,
                organization=self.org,
                payment_id=payment,
                invoice_id=applied[which % len(applied)],
                by_clerk=True,
            )

    @rule(payment=payments)
    def unapply_all(self, payment):
        self._attempt(
            payments.payment_update, organization=self.org, payment_id=payment, invoice_id=None
        )

    @rule(payment=payments)
    def write_off_short(self, payment):
        self._attempt(
            payments.payment_update,
            organization=self.org,
            payment_id=payment,
            write_off_short_payment=True,
        )

    @rule(payment=payments, reason=reasons)
    def short_pay_to_deduction(self, payment, reason):
        self._attempt(
            payments.payment_deduct_short,
            organization=self.org,
            payment_id=payment,
            reason_code=reason,
        )

    @rule(
        payment=payments,
        customer=customers,
        pick=picks,
        stray=strays,
        portion=st.none() | portions,
    )
    def apply_credit(self, payment, customer, pick, stray, portion):
        row = Payment.objects.get(pk=payment)
        customer = self._credit_customer(row, customer, stray)
        invoice = self._invoice(
            pick,
            stray,
            Invoice.objects.for_org(self.org)
            .open()
            .filter(customer=self.customers[customer], currency=self._currency(row.currency)),
        )
        if invoice is None:
            return
        self._attempt(
            credit.credit_apply,
            organization=self.org,
            customer_id=self.customers[customer].pk,
            payment_id=payment,
            invoice_id=invoice.pk,
            amount=None
            if portion is None
            else _portion(portion, row.unapplied_amount, self._currency(row.currency)),
        )

    @rule(payment=payments, customer=customers, stray=strays, portion=portions)
    def refund_credit(self, payment, customer, stray, portion):
        row = Payment.objects.get(pk=payment)
        customer = self._credit_customer(row, customer, stray)
        self._attempt(
            credit.credit_refund,
            organization=self.org,
            customer_id=self.customers[customer].pk,
            payment_id=payment,
            amount=_portion(portion, row.unapplied_amount, self._currency(row.currency)),
        )

    def _credit_customer(self, payment: Payment, drawn: int, stray: bool) -> int:
        """Whose credit the payment is: its customer's, else that of the invoices it is
        applied to (else, or when ``stray``, the one drawn)."""
        customer_id = payment.customer_id
        if customer_id is None:
            customer_id = (
                PaymentAllocation.objects.filter(payment=payment, unapplied_at__isnull=True)
                .values_list("invoice__customer_id", flat=True)
                .first()
            )
        mine = [customer.pk for customer in self.customers]
        return drawn if stray or customer_id not in mine else mine.index(customer_id)

    @rule(
        target=payments,
        pick=picks,
        portion=portions,
        then=st.sampled_from(["deduct", "write_off", "nothing"]),
        reason=reasons,
    )
    def short_pay(self, pick, portion, then, reason):
        """The customer pays part of an open invoice in its currency; the rest is written off,
        turned into a deduction, or left open."""
        invoice = self._invoice(pick, stray=False)
        if invoice is None:
            return multiple()
        payment = self._attempt(
            payments.payment_create,
            in_transaction=True,
            organization=self.org,
            amount=_portion(portion, invoice.amount_due, invoice.currency),
            currency=invoice.currency,
            payment_date=self.today - timedelta(days=1),
            payer_name="Machine short payer",
        )
        if payment is None:
            return multiple()
        self._attempt(
            payments.payment_update,
            organization=self.org,
            payment_id=payment.pk,
            invoice_id=invoice.pk,
        )
        if then == "deduct":
            self.short_pay_to_deduction(payment.pk, reason)
        elif then == "write_off":
            self.write_off_short(payment.pk)
        return payment.pk

    # --- deductions -------------------------------------------------------------------------

    @rule(pick=picks, stray=strays, portion=portions, reason=reasons)
    def open_deduction(self, pick, stray, portion, reason):
        invoice = self._invoice(pick, stray)
        if invoice is None:
            return
        self._attempt(
            deduction_open,
            organization=self.org,
            invoice_id=invoice.pk,
            amount=_portion(portion, invoice.amount_due, invoice.currency),
            reason_code=reason,
        )

    @rule(which=st.integers(0, 9), resolution=resolutions)
    def resolve_deduction(self, which, resolution):
        found = list(
            Deduction.objects.for_org(self.org)
            .order_by("status", "created_at", "id")  # the open ones first
            .values_list("pk", flat=True)
        )
        if not found:
            return
        resolved = self._attempt(
            deduction_resolve,
            organization=self.org,
            deduction_id=found[which % len(found)],
            resolution=resolution,
        )
        if resolved is not None and resolved.rebill_invoice_id is not None:
            rebill = Invoice.objects.get(pk=resolved.rebill_invoice_id)
            assert rebill.amount == resolved.resolution_amount
            assert rebill.customer_id == resolved.customer_id
            # Its currency: see test_a_rebill_is_billed_in_the_currency_of_the_deduction.

    # --- credit notes -----------------------------------------------------------------------

    @rule(
        target=credit_notes,
        mode=st.sampled_from(["like", "against", "any"]),
        pick=picks,
        customer=customers,
        currency=currencies,
        count=units,
        rate=st.none() | rate_levels,
        post=st.booleans(),
    )
    def new_credit_note(self, mode, pick, customer, currency, count, rate, post):
        """A note like an open invoice (its customer and currency), against one, or for any
        customer and currency."""
        invoice = None if mode == "any" else self._invoice(pick, stray=False)
        if invoice is not None:
            customer = self.customers.index(invoice.customer)
            currency = invoice.currency
        note = self._attempt(
            notes.credit_note_create,
            organization=self.org,
            customer=self.customers[customer],
            currency=currency,
            amount=_amount(count, currency),
            exchange_rate=None if currency == self.base else self._rate(currency, rate),
            invoice_id=invoice.pk if invoice is not None and mode == "against" else None,
            status="posted" if post else "draft",
        )
        return multiple() if note is None else note.pk

    @rule(note=credit_notes, which=st.integers(0, 5))
    def post_credit_note(self, note, which):
        """Post a draft (the note drawn when there is none: a posted or void one, refused)."""
        drafts = list(
            CreditNote.objects.for_org(self.org)
            .filter(status=CreditNote.Status.DRAFT)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)
        )
        chosen = drafts[which % len(drafts)] if drafts else note
        self._attempt(notes.credit_note_post, organization=self.org, credit_note_id=chosen)

    @rule(
        note=credit_notes,
        allocations=st.lists(st.tuples(picks, strays, portions), min_size=1, max_size=3),
    )
    def apply_credit_note(self, note, allocations):
        """Apply the note to open invoices of its customer and currency (now and then any):
        each a portion of what the invoice owes and of the note's share."""
        row = CreditNote.objects.get(pk=note)
        candidates = Invoice.objects.for_org(self.org).filter(
            pk__in=[invoice.pk for invoice in notes.open_invoices_for(row)]
        )
        items = []
        for pick, stray, portion in allocations:
            invoice = self._invoice(pick, stray, candidates)
            listed = {item["invoice_id"] for item in items}
            if invoice is not None and (stray or invoice.pk not in listed):
                reach = min(invoice.amount_due, row.amount_remaining / len(allocations))
                amount = _portion(portion, reach, row.currency)
                items.append({"invoice_id": invoice.pk, "amount": amount})
        if items:
            self._attempt(
                notes.credit_note_apply, organization=self.org, credit_note_id=note,
                allocations=items,
            )  # fmt: skip

    @rule(note=credit_notes, which=st.lists(st.integers(0, 5), min_size=1, max_size=2))
    def unapply_credit_note(self, note, which):
        allocations = list(
            CreditNoteAllocation.objects.for_org(self.org)
            .filter(credit_note_id=note)
            .order_by("unapplied_at", "created_at", "id")  # the applied ones first
            .values_list("pk", flat=True)
        )
        if not allocations:
            return
        chosen = list(dict.fromkeys(allocations[index % len(allocations)] for index in which))
        self._attempt(
            notes.credit_note_unapply,
            organization=self.org,
            credit_note_id=note,
            allocation_ids=chosen,
        )

    @rule(note=credit_notes)
    def void_credit_note(self, note):
        self._attempt(notes.credit_note_void, organization=self.org, credit_note_id=note)

    # --- refusals change nothing --------------------------------------------------------------

    def _attempt(self, function, *, in_transaction: bool = False, **kwargs):
        """Run a service; a refusal (400 or 409) must leave everything as it was (each one
        is atomic on its own: nothing is wrapped around it here, so a write left behind by
        a refused call would show). ``in_transaction``: a service that runs inside its
        caller's transaction (``atomic(savepoint=False)``) gets one, as a request gives it.
        Anything else raised propagates: it would be a 500."""
        before = self._snapshot()
        try:
            if not in_transaction:
                return function(**kwargs)
            with transaction.atomic():
                return function(**kwargs)
        except (ValidationFailed, Conflict):
            self.refusals += 1
            assert self._snapshot() == before, f"{function.__name__} was refused but moved"
            return None

    def _snapshot(self):
        org = self.org
        return (
            sorted(Invoice.objects.for_org(org).values_list("pk", "amount_due", "status")),
            sorted(
                Payment.objects.for_org(org).values_list(
                    "pk",
                    "applied_amount",
                    "written_off_amount",
                    "refunded_amount",
                    "status",
                    "customer_id",
                )
            ),
            sorted(
                PaymentAllocation.objects.for_org(org).values_list(
                    "pk", "unapplied_at", "write_off_amount"
                )
            ),
            sorted(CreditNote.objects.for_org(org).values_list("pk", "status", "amount_remaining")),
            sorted(CreditNoteAllocation.objects.for_org(org).values_list("pk", "unapplied_at")),
            sorted(Deduction.objects.for_org(org).values_list("pk", "status")),
            sorted(InvoiceOfflinePayment.objects.for_org(org).values_list("pk", "reversed_at")),
            sorted(ExchangeRate.objects.for_org(org).values_list("currency", "date", "rate")),
            CreditRefund.objects.for_org(org).count(),
            JournalEntry.objects.filter(organization=org).count(),
            JournalLine.objects.filter(organization=org).count(),
            AccountingChange.objects.filter(organization=org).count(),
        )

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def ledger_holds(self):
        """``check_ledger``; the receivable's base total within the rounding a foreign credit
        note's allocations leave behind, while that bug stands (see ``KNOWN_BUGS``)."""
        if not hasattr(self, "org"):
            return
        problems = ledger_problems(self.org)
        slack = self._credit_note_rounding_slack()
        if slack:
            problems = [problem for problem in problems if not BASE_TOTAL.match(problem)]
            difference = self._base_total_difference()
            assert abs(difference) <= slack, (
                f"receivable in base off the open items by {difference}: more than the "
                f"{slack} foreign credit-note allocations may round"
            )
        assert not problems, "Ledger invariants broken:\n" + "\n".join(problems)

    def _credit_note_rounding_slack(self) -> Decimal:
        """How far (base) the allocations of foreign credit notes may have moved the
        receivable off the open items: a base unit on each side (invoice, note) of every
        apply and of every unapply. Zero once the bug is fixed."""
        if "credit_note_rounding" not in KNOWN_BUGS:
            return ZERO
        foreign = CreditNoteAllocation.objects.for_org(self.org).filter(
            credit_note__exchange_rate__isnull=False
        )
        events = sum(1 if unapplied is None else 2 for unapplied in foreign.values_list(
            "unapplied_at", flat=True
        ))  # fmt: skip
        return 2 * events * currency_unit(self.base)

    def _base_total_difference(self) -> Decimal:
        """The receivable (base) less the open items at their booked rates."""
        unit = currency_unit(self.base)
        accounts = set(
            Invoice.objects.for_org(self.org).values_list("ar_account_id", flat=True)
        ) | set(
            Account.objects.for_org(self.org)
            .filter(role=Account.Role.RECEIVABLE)
            .values_list("pk", flat=True)
        )
        posted = _sum(
            debit - credit_
            for debit, credit_ in JournalLine.objects.filter(
                organization=self.org, account_id__in=accounts
            ).values_list("debit", "credit")
        )
        invoices = _sum(
            to_base(due, rate, unit)
            for due, rate in Invoice.objects.for_org(self.org)
            .filter(status__in=Invoice.ISSUED_STATUSES)
            .values_list("amount_due", "exchange_rate")
        )
        credit_notes = _sum(
            to_base(remaining, rate, unit)
            for remaining, rate in CreditNote.objects.for_org(self.org)
            .filter(status=CreditNote.Status.POSTED)
            .values_list("amount_remaining", "exchange_rate")
        )
        return posted - (invoices - credit_notes)

    @invariant()
    def untouched_invoices_hold_their_open_item(self):
        """An invoice no credit note was ever applied to carries its open item on its own
        receivable lines: in base at its booked rate, and in its currency."""
        if not hasattr(self, "org"):
            return
        touched = set(
            CreditNoteAllocation.objects.for_org(self.org).values_list("invoice_id", flat=True)
        )
        base, foreign = defaultdict(Decimal), defaultdict(Decimal)
        invoices = {
            pk: (ar_account_id, rate, due if status in Invoice.ISSUED_STATUSES else ZERO)
            for pk, ar_account_id, rate, due, status in Invoice.objects.for_org(
                self.org
            ).values_list("pk", "ar_account_id", "exchange_rate", "amount_due", "status")
        }
        for invoice_id, account_id, debit, credit_, amount_currency in JournalLine.objects.filter(
            organization=self.org, entry__invoice__isnull=False
        ).values_list("entry__invoice_id", "account_id", "debit", "credit", "amount_currency"):
            if account_id == invoices[invoice_id][0]:
                base[invoice_id] += debit - credit_
                foreign[invoice_id] += amount_currency or ZERO
        unit = currency_unit(self.base)
        for pk, (_, rate, due) in invoices.items():
            if pk in touched:
                continue
            assert base[pk] == to_base(due, rate, unit), (pk, base[pk], due, rate)
            if rate is not None:
                assert foreign[pk] == due, (pk, foreign[pk], due)

    @invariant()
    def invoices_owe_what_nothing_settled(self):
        if not hasattr(self, "org"):
            return
        settled = defaultdict(Decimal)
        for invoice_id, amount, invoice_amount, write_off in (
            PaymentAllocation.objects.for_org(self.org)
            .filter(unapplied_at__isnull=True)
            .values_list("invoice_id", "amount", "invoice_amount", "write_off_amount")
        ):
            settled[invoice_id] += (amount if invoice_amount is None else invoice_amount) + (
                write_off
            )
        for invoice_id, amount in (
            InvoiceOfflinePayment.objects.for_org(self.org)
            .filter(reversed_at__isnull=True)
            .values_list("invoice_id", "amount")
        ):
            settled[invoice_id] += amount
        for invoice_id, amount in (
            CreditNoteAllocation.objects.for_org(self.org)
            .filter(unapplied_at__isnull=True)
            .values_list("invoice_id", "amount")
        ):
            settled[invoice_id] += amount
        open_deductions = defaultdict(int)
        for invoice_id, status, resolution, moved, entry in Deduction.objects.for_org(
            self.org
        ).values_list("invoice_id", "status", "resolution", "resolution_amount", "journal_entry"):
            if status == Deduction.Status.OPEN:
                open_deductions[invoice_id] += 1
                assert not resolution and moved is None
            elif resolution == Deduction.Resolution.COLLECTED:
                assert moved is None and entry is None
            elif resolution == Deduction.Resolution.CREDIT_NOTE:
                # A credit note document applied to the invoice: its allocation, above.
                assert moved is not None and moved > 0 and entry is not None
            else:
                assert moved is not None and moved > 0 and entry is not None
                settled[invoice_id] += moved
        assert all(count == 1 for count in open_deductions.values())
        for invoice in Invoice.objects.for_org(self.org).select_related("customer"):
            assert invoice.amount_due == invoice.amount - settled[invoice.pk], (
                invoice.invoice_number,
                invoice.amount,
                invoice.amount_due,
                settled[invoice.pk],
            )
            assert ZERO <= invoice.amount_due <= invoice.amount
            if invoice.status == Invoice.Status.VOID:
                assert invoice.amount_due == invoice.amount
            else:
                assert invoice.status == derive_status(invoice), invoice.invoice_number

    @invariant()
    def payments_hold_what_their_allocations_say(self):
        if not hasattr(self, "org"):
            return
        applied, written_off, refunded = (defaultdict(Decimal) for _ in range(3))
        active = defaultdict(list)
        for payment_id, invoice_id, amount, write_off in (
            PaymentAllocation.objects.for_org(self.org)
            .filter(unapplied_at__isnull=True)
            .values_list("payment_id", "invoice_id", "amount", "write_off_amount")
        ):
            applied[payment_id] += amount
            written_off[payment_id] += write_off
            active[payment_id].append(invoice_id)
        for payment_id, amount in CreditRefund.objects.for_org(self.org).values_list(
            "payment_id", "amount"
        ):
            refunded[payment_id] += amount
        for payment in Payment.objects.for_org(self.org):
            assert payment.applied_amount == applied[payment.pk]
            assert payment.written_off_amount == written_off[payment.pk]
            assert payment.refunded_amount == refunded[payment.pk]
            assert payment.applied_amount >= ZERO
            assert payment.applied_amount + payment.refunded_amount <= payment.amount
            assert payment.status == payment.derived_status()
            assert len(set(active[payment.pk])) == len(active[payment.pk])

    @invariant()
    def credit_notes_hold_what_their_allocations_say(self):
        if not hasattr(self, "org"):
            return
        applied = defaultdict(Decimal)
        for note_id, amount in (
            CreditNoteAllocation.objects.for_org(self.org)
            .filter(unapplied_at__isnull=True)
            .values_list("credit_note_id", "amount")
        ):
            applied[note_id] += amount
        lines = defaultdict(Decimal)
        for note_id, amount in CreditNoteLine.objects.filter(organization=self.org).values_list(
            "credit_note_id", "amount"
        ):
            lines[note_id] += amount
        for pk, status, amount, remaining in CreditNote.objects.for_org(self.org).values_list(
            "pk", "status", "amount", "amount_remaining"
        ):
            assert amount == lines[pk]
            if status == CreditNote.Status.POSTED:
                assert remaining == amount - applied[pk], (pk, amount, remaining, applied[pk])
            else:
                assert (remaining, applied[pk]) == (ZERO, ZERO), (pk, status)


@pytest.mark.django_db
def test_the_ledger_holds_whatever_money_moves():
    run_state_machine_as_test(
        LedgerBooks,
        settings=settings(
            max_examples=int(os.environ.get("LEDGER_MACHINE_EXAMPLES", "25")),
            stateful_step_count=40,
            deadline=None,
            # The same examples on every run (CI stays reproducible); LEDGER_MACHINE_RANDOM=1
            # explores new ones (with LEDGER_MACHINE_EXAMPLES=150, say) — that is how the
            # bugs below were found.
            derandomize=not os.environ.get("LEDGER_MACHINE_RANDOM"),
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.function_scoped_fixture,
                HealthCheck.filter_too_much,
            ],
        ),
    )


# --- the bugs the machine found, fixed since: each pinned by a plain test -------------------


@pytest.mark.django_db
def test_a_rebill_is_billed_in_the_currency_of_the_deduction(org):
    """A deduction of 20.00 EUR re-billed is a new invoice of 20.00 EUR (the original's
    currency), not of 20.00 in the base currency."""
    customer = CustomerFactory(organization=org)
    invoice = receivables.invoice_create(
        organization=org, customer=customer, invoice_number="E-1", amount=Decimal("100.00"),
        currency="EUR", exchange_rate=Decimal("1.1"), due_date=date(2030, 1, 1),
    )  # fmt: skip
    deduction = deduction_open(
        organization=org, invoice_id=invoice.pk, amount=Decimal("20.00"), reason_code="pricing"
    )

    resolved = deduction_resolve(organization=org, deduction_id=deduction.pk, resolution="rebill")

    rebill = Invoice.objects.get(pk=resolved.rebill_invoice_id)
    assert (rebill.amount, rebill.customer_id) == (Decimal("20.00"), customer.pk)
    assert rebill.currency == "EUR", f"re-billed in {rebill.currency}"
    check_ledger(org)


@pytest.mark.django_db
def test_money_on_a_balance_worth_less_than_half_a_base_unit_is_not_a_500(org):
    """1,000 KRW at 0.00075 is 0.75 USD; 999 KRW received relieve all of it (0.75 less the
    0.00 the last won is worth), and the last won received must settle the invoice — not
    raise ValueError("Nothing to allocate against.") from ``ledger._allocate`` (payments,
    write-offs and deductions take the same way, ``invoice_money._apply_money``)."""
    customer = CustomerFactory(organization=org)
    invoice = receivables.invoice_create(
        organization=org, customer=customer, invoice_number="K-1", amount=Decimal("1000"),
        currency="KRW", exchange_rate=Decimal("0.00075"), due_date=date(2030, 1, 1),
    )  # fmt: skip
    receivables.invoice_record_offline_payment(invoice=invoice, amount=Decimal("999"))

    receivables.invoice_record_offline_payment(invoice=invoice, amount=Decimal("1"))

    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("0"), "paid")
    check_ledger(org)


@pytest.mark.django_db
def test_a_foreign_credit_note_applied_in_parts_keeps_the_receivable_at_the_open_items(org):
    """Two invoices of 10.01 EUR at 1.5 (15.02 USD each: 15.015 rounded) and a credit note
    of 20.02 EUR at 1.5 (30.03) applied 10.01 to each: nothing is open, but the receivable
    keeps 0.01 (each allocation's exchange difference is 10.01 at the invoice's rate less
    10.01 at the note's, 0; not what each balance was worth before less after)."""
    customer = CustomerFactory(organization=org)
    invoices = [
        receivables.invoice_create(
            organization=org,
            customer=customer,
            invoice_number=f"E-{n}",
            amount=Decimal("10.01"),
            currency="EUR",
            exchange_rate=Decimal("1.5"),
            due_date=date(2030, 1, 1),
        )
        for n in (1, 2)
    ]
    note = notes.credit_note_create(
        organization=org, customer=customer, currency="EUR", amount=Decimal("20.02"),
        exchange_rate=Decimal("1.5"), status="posted",
    )  # fmt: skip

    notes.credit_note_apply(
        organization=org,
        credit_note_id=note.pk,
        allocations=[
            {"invoice_id": invoice.pk, "amount": Decimal("10.01")} for invoice in invoices
        ],
    )

    check_ledger(org)
