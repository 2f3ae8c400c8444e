"""Plain data passed into and out of the matching engine.

Compiled by mypyc with the engine (``payments.matching.compiled``), a frozen class refuses
the attribute assignments pickle and ``copy`` restore it with by default: each says how it
is rebuilt from its fields (``__reduce__``, ``normalize.by_fields``), so suggestions travel back from the ranking
workers and copy as they do in pure Python."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from payments.matching.normalize import account_key, by_fields, name_form


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An invoice with money still owed, with what matching needs of its customer."""

    id: Hashable
    invoice_number: str
    customer_id: Hashable
    customer_name: str
    customer_external_id: str | None
    contact_names: tuple[str, ...]
    open_balance: Decimal
    issue_date: date
    due_date: date | None = None
    currency: str | None = None  # ISO 4217; None: the index's currency

    def __reduce__(self) -> tuple:
        return by_fields(self)


@dataclass(frozen=True, slots=True)
class PaymentInput:
    """A received payment not yet (fully) applied."""

    id: Hashable
    amount: Decimal
    payment_date: date
    payer_name: str | None = None
    reference: str | None = None
    notes: str | None = None
    currency: str | None = None  # ISO 4217; None: the invoices' currency
    payer_account: str | None = None  # the payer's IBAN or account number, when known

    def __reduce__(self) -> tuple:
        return by_fields(self)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A candidate application: these invoices, this much money, how sure and why."""

    invoice_ids: tuple[Hashable, ...]
    amount: Decimal
    score: float
    reasons: list[str]
    customer_id: Hashable = None
    # The invoices' currency when it is not the payment's (the amount is the payment's,
    # converted at the organization's rate): such a suggestion is never auto-applied.
    currency: str | None = None

    def __reduce__(self) -> tuple:
        return by_fields(self)


@dataclass(frozen=True, slots=True)
class AutoApplyDecision:
    apply: bool
    suggestion: Suggestion | None
    reason: str

    def __reduce__(self) -> tuple:
        return by_fields(self)


@dataclass
class PayerHistory:
    """What clerks matched before: normalized payer name → how often each customer was paid."""

    counts: dict[str, Counter] = field(default_factory=dict)

    @classmethod
    def from_matches(cls, matches: Iterable[tuple[str | None, Hashable]]) -> PayerHistory:
        """Build from (payer_name, customer_id) pairs of past applications."""
        history = cls()
        for payer_name, customer_id in matches:
            history.add(payer_name, customer_id)
        return history

    def add(self, payer_name: str | None, customer_id: Hashable, times: int = 1) -> None:
        key = name_form(payer_name).full
        if key:
            self.counts.setdefault(key, Counter())[customer_id] += times

    def add_account(self, account: str | None, customer_id: Hashable, times: int = 1) -> None:
        """A past application of money from this payer account to the customer."""
        key = account_key(account)
        if key:
            self.counts.setdefault(key, Counter())[customer_id] += times

    def customers_for(self, payer_name: str | None) -> list[tuple[Hashable, int]]:
        """Customers this payer paid before, most often first."""
        counter = self.counts.get(name_form(payer_name).full)
        if not counter:
            return []
        return sorted(counter.items(), key=lambda item: (-item[1], str(item[0])))
