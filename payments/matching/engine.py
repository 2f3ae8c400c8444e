"""The matching engine: indexes open invoices once, then ranks candidates for each payment.

(Over 600 lines on purpose: one algorithm, the index and the scorer that reads it, whose
hot loops share local structures; split across modules it would trade speed for imports.)

Scores are log-odds: every piece of evidence adds a weight, the sum goes through a logistic
curve. Weights were calibrated on bench/matching_accuracy.py. Matching one payment looks up
only the invoices and customers its evidence points at (dict lookups, a bounded fuzzy step
over the customers sharing a name token, bounded subset sums of a few customers), never all
pairs.
"""

from __future__ import annotations

import gc
import math
from bisect import bisect_right
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise
from operator import itemgetter
from typing import NamedTuple

from rapidfuzz import fuzz, process

from arpilot.currencies import currency_places
from payments.matching.normalize import (
    NameForm,
    account_key,
    deletion_variants,
    external_id_key,
    from_cents,
    invoice_number_key,
    name_form,
    number_mentions,
    to_cents,
)
from payments.matching.subsets import consecutive_runs, pair_sums, pairs_in, small_subsets
from payments.matching.types import (
    AutoApplyDecision,
    OpenInvoice,
    PayerHistory,
    PaymentInput,
    Suggestion,
)

# Log-odds weights.
BASE = -4.0
W_NUMBER_EXPLICIT = 5.0
W_NUMBER_BARE = 3.0
W_NUMBER_BARE_SHORT = 1.5  # a bare number of three digits or fewer
W_OTHER_NAMED = -3.0  # the reference names other invoices
W_UNKNOWN_NAMED = -3.0  # the reference names an invoice number that is not open
W_AMOUNT_EXACT = 3.0
W_AMOUNT_UNIQUE = 1.0  # the only set of this customer's invoices making the amount
W_AMOUNT_SHORT = 2.5
W_PARTIAL_NAMED = 0.0
W_PARTIAL_UNNAMED = -1.5
W_OVERPAID = -4.0
W_SUBSET = -0.25  # * log2(how many sets of that size the customer's invoices allow)
W_CONSECUTIVE = 0.5
W_EXTERNAL_ID = 3.0
W_HISTORY_STRONG = 2.5
W_HISTORY = 1.5
W_ACCOUNT_STRONG = 3.0  # the payer's account, learned for this customer (and hardly another)
W_CUSTOMER_CAP = 4.5
W_CONTACT_PENALTY = -0.5  # people's names are less distinctive than company names
CAP_WITHOUT_INVOICE_EVIDENCE = 0.0  # no number and no matching amount: at most score 0.5
# Payer-name similarity → weight, linear between these points.
_NAME_CURVE = ((0.0, -1.5), (0.5, -1.5), (0.7, 0.0), (0.85, 1.5), (0.95, 2.6), (1.0, 3.0))

STRONG_NAME = 0.8  # customers this similar get subset sums and short-pay search
MAX_SEARCHED_CUSTOMERS = 6
SEARCH_WEIGHT_SPAN = 2.0
FALLBACK_CUSTOMERS = 2
# The default short-pay tolerance: the larger of an absolute amount and a share of the balance
# (an organization sets the absolute one: its write-off tolerance).
SHORT_PAY_ABSOLUTE = Decimal("1.00")
SHORT_PAY_RATIO = Decimal("0.005")
MAX_AMOUNT_ONLY_HITS = 5  # beyond this an amount alone says nothing
# A customer's invoices of the paid amount (and those it short-pays) become candidates, the
# oldest first, at most this many each: tied scores beyond the first few add nothing a clerk
# or the decision could use, and a customer billing one amount thousands of times would
# otherwise make one payment cost thousands of scorings.
SAME_AMOUNT_CANDIDATES = 8
SUBSET_POOL = 30  # the oldest invoices of a customer considered for small subsets
# The oldest invoices of a customer considered for consecutive runs and for the invoice that
# makes up what the invoices a reference names leave of the amount. Together with the
# invoices of the amount and those it short-pays (SAME_AMOUNT_CANDIDATES each), they are all
# a payment can be matched to of one customer's: a customer's share of the candidates does
# not grow with how much it owes (``match_candidates`` reads just these).
RUN_POOL = 60
MAX_SUBSET_SIZE = 4
RARE_TOKEN = 64  # a word in at most this many names finds them on its own
RARE_PAIR = 100  # an adjacent word pair in more names than this is read only as a last resort
# Names read when no word pair of the payer's is known (the rarest lists first, whole).
# In a dense name space reading postings is most of a payment's cost: at 200k customers
# (1M invoices) 4,000 cost 193 us a payment against 158 us at 1,000, for 8 fewer right
# first suggestions in 20,000 and no more wrong auto-applications (bench/README.md).
FALLBACK_POSTINGS = 1000
NAME_CANDIDATES = 12  # names fuzzy-scored per payer
NAME_PRESELECT = 200  # at most about this many names get the C-speed first cut
NAME_CUSTOMERS = 5  # best-named customers kept as evidence
NAME_CACHE_SIZE = 200_000
NAME_MIN_SIMILARITY = 0.7


@dataclass(slots=True)
class _Customer:
    id: Hashable
    name: str
    external_id: str | None
    invoices: list[int] = field(default_factory=list)  # by issue date, due date, number
    amounts: list[int] = field(default_factory=list)
    by_cents: dict[int, list[int]] = field(default_factory=dict)
    names: list[int] = field(default_factory=list)  # name entry indexes
    pool_total: int = 0
    pool_ascending: list[int] = field(default_factory=list)
    sorted_amounts: list[int] = field(default_factory=list)  # ascending, for short-pay search
    sorted_invoices: list[int] = field(default_factory=list)
    window_end: int = 0  # the rank of the newest of its oldest RUN_POOL invoices
    _pair_sums: dict[int, int] | None = None  # packed (``subsets.pair_sums``)

    def pool_pair_sums(self) -> dict[int, int]:
        if self._pair_sums is None:
            self._pair_sums = pair_sums(self.amounts[:SUBSET_POOL])
        return self._pair_sums


@dataclass(frozen=True, slots=True)
class _NameEntry:
    customer: int
    form: NameForm
    label: str
    is_contact: bool


@dataclass(slots=True)
class _CustomerEvidence:
    similarity: float = 0.0
    name_label: str = ""
    is_contact: bool = False
    external_id: str | None = None
    history_count: int = 0
    history_share: float = 0.0
    account_count: int = 0  # applications of the payer's account's money to this customer
    account_share: float = 0.0
    weight: float = 0.0

    @property
    def strong(self) -> bool:
        return (
            self.similarity >= STRONG_NAME
            or self.external_id is not None
            or self.history_count > 0
            or self.account_count > 0
        )


class _Mention(NamedTuple):
    explicit: bool
    where: str
    text: str
    short: bool


@dataclass(slots=True)
class _Candidate:
    invoices: tuple[int, ...]
    total: int
    consecutive: bool = False


@dataclass(slots=True)
class _Context:
    """What is known about one payment while its candidates are scored."""

    cents: int
    payer: NameForm
    named: dict[int, _Mention]
    named_unknown: bool
    evidence: dict[int, _CustomerEvidence]
    exact_counts: dict[int, int]
    short_counts: dict[int, int]
    explicit_named: frozenset[int]  # invoices the reference names with an invoice word
    named_by_customer: dict[int, frozenset[int]]


def name_similarity(payer: NameForm, name: NameForm) -> float:
    """0-1 similarity of a payer name to a customer or contact name."""
    if not payer.core or not name.core:
        return 0.0
    if payer.core == name.core:
        return 1.0 if payer.full == name.full else 0.98
    similarity = max(
        fuzz.ratio(payer.core, name.core), fuzz.token_sort_ratio(payer.core, name.core)
    )
    similarity /= 100.0
    if len(payer.simple) >= 12 and name.simple.startswith(payer.simple):
        similarity = max(similarity, 0.95)  # the bank cut the name short
    return similarity


def _name_weight(similarity: float) -> float:
    points = _NAME_CURVE
    for (x0, y0), (x1, y1) in pairwise(points):
        if similarity <= x1:
            return y0 + (y1 - y0) * (similarity - x0) / (x1 - x0)
    return points[-1][1]


def _weigh_customer(item: _CustomerEvidence, payer_informative: bool) -> None:
    """How strongly the evidence says the payer is this customer (log-odds)."""
    positive = 0.0
    negative = 0.0
    if item.external_id is not None:
        positive += W_EXTERNAL_ID
    if item.history_count:
        strong = item.history_share >= 0.8 and item.history_count >= 2
        positive += W_HISTORY_STRONG if strong else W_HISTORY
    if item.account_count:
        positive += W_ACCOUNT_STRONG if item.account_share >= 0.8 else W_HISTORY
    if payer_informative:
        weight = _name_weight(item.similarity)
        if item.is_contact:
            weight += W_CONTACT_PENALTY
        if weight > 0:
            positive += weight
        elif not positive:
            negative = weight  # a third party's name says nothing when the payer is known
    item.weight = min(positive, W_CUSTOMER_CAP) + negative


def _customer_reasons(item: _CustomerEvidence) -> list[str]:
    reasons = []
    if item.external_id is not None:
        reasons.append(f"customer ID {item.external_id} in reference")
    if item.history_count:
        reasons.append("payer previously matched to this customer")
    if item.account_count:
        reasons.append("payer's account previously matched to this customer")
    if item.similarity >= NAME_MIN_SIMILARITY:
        reasons.append(f"payer name ≈ {item.name_label} ({item.similarity:.2f})")
    return reasons


def _pair_keys(words: list[list[str]]) -> list[str]:
    """Keys of adjacent word pairs (each position has alternatives), or of a one-word name."""
    if len(words) == 1:
        return list(words[0])
    return [f"{a} {b}" for left, right in pairwise(words) for a in left for b in right]


def _unit(currency: str | None) -> Decimal:
    """The smallest amount of ``currency`` (USD 0.01, JPY 1, BHD 0.001)."""
    return Decimal(1).scaleb(-currency_places(currency)) if currency else Decimal("0.01")


def short_pay_ceiling(cents: int, absolute: int, ratio: tuple[int, int]) -> int:
    """A bound on the open balances a payment of ``cents`` can short-pay: the tolerance is
    the larger of ``absolute`` and ``ratio`` of the balance, so the balances within it are
    those from just above the payment up to some point at or below this one."""
    numerator, denominator = ratio
    return max(cents + absolute, cents * denominator // (denominator - numerator) + 1)


def _logistic(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


class MatchIndex:
    """Open invoices of one organization, indexed for matching payments."""

    def __init__(
        self,
        *,
        short_pay_absolute: Decimal = SHORT_PAY_ABSOLUTE,
        short_pay_ratio: Decimal = SHORT_PAY_RATIO,
        currency: str | None = None,
        rates: dict[str, Decimal] | None = None,
    ) -> None:
        # The currency of invoices that do not say theirs (None: not known, any payment
        # matches), and what one unit of each currency is worth in the base (the
        # organization's latest rates): a payment is matched to invoices of its own
        # currency, and to invoices of another only when both have a rate.
        self.currency = currency.upper() if currency else None
        self.rates = {code.upper(): rate for code, rate in (rates or {}).items() if rate > 0}
        self._currency_of: list[str | None] = []
        self._currencies: set[str | None] = set()
        self._mixed = False  # invoices of more than one currency
        self._only: str | None = None  # the one currency of a single-currency book
        self.invoices: list[OpenInvoice] = []
        self._cents: list[int] = []
        self._customer_of: list[int] = []
        self._customers: list[_Customer] = []
        self._customer_index: dict[Hashable, int] = {}
        self._by_number: dict[str, list[int]] = {}
        self._by_cents: dict[int, list[int]] = {}
        self._by_external_id: dict[str, int] = {}
        self._names: list[_NameEntry] = []
        self._cores: list[str] = []  # each name entry's core form, for the C-speed first cut
        self._by_token: dict[str, list[int]] = {}  # word → names containing it
        self._by_core: dict[str, list[int]] = {}  # the whole normalized name → names
        self._by_pair: dict[str, list[int]] = {}  # two adjacent words (or a one-word name) → names
        self._word_deletions: dict[str, list[str]] = {}  # word minus one letter → words
        self._history: dict[str, list[tuple[int, int, float]]] = {}
        self._name_cache: dict[str, tuple[tuple[int, float, int], ...]] = {}
        self._rank: list[int] = []
        self._in: str | None = None  # the currency being matched (None: every invoice)
        self._short_absolute = to_cents(short_pay_absolute)
        self._short_ratio = short_pay_ratio.as_integer_ratio()

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        invoices: Iterable[OpenInvoice],
        history: PayerHistory | None = None,
        **options,
    ) -> MatchIndex:
        """Index open invoices (and what clerks matched before)."""
        index = cls(**options)
        collecting = gc.isenabled()
        gc.disable()  # hundreds of thousands of long-lived objects: full collections only slow this
        try:
            index._build(invoices, history)
        finally:
            if collecting:
                gc.enable()
        return index

    def _build(self, invoices: Iterable[OpenInvoice], history: PayerHistory | None) -> None:
        index = self
        for invoice in invoices:
            if invoice.open_balance > 0:
                index._add_invoice(invoice)
        index._mixed = len(index._currencies) > 1
        index._only = None if index._mixed else next(iter(index._currencies), index.currency)
        order = sorted(range(len(index.invoices)), key=index._invoice_order)
        index._rank = [0] * len(order)
        for rank, i in enumerate(order):
            index._rank[i] = rank
        for customer in index._customers:
            customer.invoices.sort(key=index._rank.__getitem__)
            customer.amounts = [index._cents[i] for i in customer.invoices]
            customer.pool_total = sum(customer.amounts[:SUBSET_POOL])
            customer.pool_ascending = sorted(customer.amounts[:SUBSET_POOL])
            count = len(customer.invoices)
            customer.window_end = index._rank[customer.invoices[min(count, RUN_POOL) - 1]]
            # By amount; equal amounts oldest first (the sort is stable).
            by_amount = sorted(range(count), key=customer.amounts.__getitem__)
            customer.sorted_amounts = [customer.amounts[p] for p in by_amount]
            customer.sorted_invoices = [customer.invoices[p] for p in by_amount]
            for i in customer.invoices:
                customer.by_cents.setdefault(index._cents[i], []).append(i)
        if history is not None:
            index._add_history(history)

    def _invoice_order(self, i: int) -> tuple:
        invoice = self.invoices[i]
        return (
            invoice.issue_date,
            invoice.due_date or invoice.issue_date,
            invoice.invoice_number,
            i,
        )

    def _add_invoice(self, invoice: OpenInvoice) -> None:
        i = len(self.invoices)
        cents = to_cents(invoice.open_balance)
        self.invoices.append(invoice)
        currency = invoice.currency.upper() if invoice.currency else self.currency
        self._currency_of.append(currency)
        self._currencies.add(currency)
        self._cents.append(cents)
        self._customer_of.append(self._customer_for(invoice))
        self._customers[self._customer_of[i]].invoices.append(i)
        self._by_cents.setdefault(cents, []).append(i)
        key = invoice_number_key(invoice.invoice_number)
        if key:
            self._by_number.setdefault(key, []).append(i)

    def _customer_for(self, invoice: OpenInvoice) -> int:
        c = self._customer_index.get(invoice.customer_id)
        if c is not None:
            return c
        c = len(self._customers)
        customer = _Customer(
            invoice.customer_id, invoice.customer_name, invoice.customer_external_id
        )
        self._customers.append(customer)
        self._customer_index[invoice.customer_id] = c
        external = external_id_key(invoice.customer_external_id or "")
        if len(external) >= 4 or (len(external) >= 3 and not external.isdigit()):
            self._by_external_id.setdefault(external, c)
        self._add_name(c, invoice.customer_name, invoice.customer_name, is_contact=False)
        for contact in invoice.contact_names:
            self._add_name(
                c, contact, f"contact {contact} of {invoice.customer_name}", is_contact=True
            )
        return c

    def _add_name(self, c: int, name: str, label: str, *, is_contact: bool) -> None:
        form = name_form(name)
        if not form.core:
            return
        e = len(self._names)
        self._names.append(_NameEntry(c, form, label, is_contact))
        self._cores.append(form.core)
        self._customers[c].names.append(e)
        for token in set(form.tokens):
            entries = self._by_token.get(token)
            if entries is None:
                self._by_token[token] = entries = []
                if len(token) >= 4:
                    for variant in deletion_variants(token):
                        self._word_deletions.setdefault(variant, []).append(token)
            entries.append(e)
        for key in _pair_keys([[token] for token in form.tokens]):
            self._by_pair.setdefault(key, []).append(e)
        self._by_core.setdefault(form.core, []).append(e)

    def _add_history(self, history: PayerHistory) -> None:
        for key, counter in history.counts.items():
            total = sum(counter.values())
            known = [
                (self._customer_index[customer_id], count, count / total)
                for customer_id, count in counter.items()
                if customer_id in self._customer_index
            ]
            if known:
                known.sort(key=lambda item: (-item[1], item[0]))
                self._history[key] = known

    # -- matching ------------------------------------------------------------------------------

    def suggest(self, payment: PaymentInput, limit: int = 5) -> list[Suggestion]:
        """Ranked candidate applications of the payment, best first: invoices of the
        payment's currency, and invoices of another currency its reference names when both
        currencies have a rate (the payment's amount converted; never auto-applied)."""
        paid_in = payment.currency.upper() if payment.currency else self.currency
        if not self._mixed:
            if self._only is not None and paid_in is not None and paid_in != self._only:
                # A single-currency book: nothing in the payment's currency.
                return self._suggest_across(payment, paid_in, limit) if self.rates else []
            return self._suggest_in(payment, None, limit)
        suggestions = self._suggest_in(payment, paid_in, limit)
        if self.rates:
            across = self._suggest_across(payment, paid_in, limit)
            if across:
                suggestions = sorted(suggestions + across, key=lambda s: -s.score)[:limit]
        return suggestions

    def _suggest_across(self, payment: PaymentInput, paid_in, limit: int) -> list[Suggestion]:
        """Suggestions among invoices of other currencies that the reference names, with
        the payment's amount converted at the rates (base per unit of each currency)."""
        rate_paid = self.rates.get(paid_in) if paid_in else None
        if rate_paid is None:
            return []
        named_in: set[str] = set()
        for text in (payment.reference, payment.notes):
            for mention in number_mentions(text):
                for i in () if mention.other else self._by_number.get(mention.key, ()):
                    currency = self._currency_of[i]
                    if currency is not None and currency != paid_in and currency in self.rates:
                        named_in.add(currency)
        found: list[Suggestion] = []
        for currency in sorted(named_in):
            rate = self.rates[currency]
            converted = (payment.amount * rate_paid / rate).quantize(_unit(currency))
            seen_as = PaymentInput(
                id=payment.id,
                amount=converted,
                payment_date=payment.payment_date,
                payer_name=payment.payer_name,
                reference=payment.reference,
                notes=payment.notes,
                currency=currency,
                payer_account=payment.payer_account,
            )
            note = (
                f"{payment.amount} {paid_in} is {converted} {currency} at the organization's rates"
            )
            for suggestion in self._suggest_in(seen_as, currency, limit):
                back = (suggestion.amount * rate / rate_paid).quantize(_unit(paid_in))
                found.append(
                    Suggestion(
                        invoice_ids=suggestion.invoice_ids,
                        amount=min(back, payment.amount),
                        score=suggestion.score,
                        reasons=[*suggestion.reasons, note],
                        customer_id=suggestion.customer_id,
                        currency=currency,
                    )
                )
        return found

    def _suggest_in(self, payment: PaymentInput, currency, limit: int) -> list[Suggestion]:
        """Ranked candidates among invoices of ``currency`` (None: every invoice)."""
        self._in = currency
        cents = to_cents(payment.amount)
        if cents <= 0:
            return []
        named, named_unknown, external = self._read_references(payment)
        payer = name_form(payment.payer_name)
        evidence = self._customer_evidence(payer, named, external, payment.payer_account)
        candidates = self._candidates(cents, named, evidence)
        exact_counts: dict[int, int] = {}
        short_counts: dict[int, int] = {}
        for candidate in candidates:
            c = self._customer_of[candidate.invoices[0]]
            if candidate.total == cents:
                exact_counts[c] = exact_counts.get(c, 0) + 1
            elif cents < candidate.total <= cents + self._tolerance(candidate.total):
                short_counts[c] = short_counts.get(c, 0) + 1
        named_by_customer: dict[int, set[int]] = {}
        for i in named:
            named_by_customer.setdefault(self._customer_of[i], set()).add(i)
        context = _Context(
            cents,
            payer,
            named,
            named_unknown,
            evidence,
            exact_counts,
            short_counts,
            frozenset(i for i, mention in named.items() if mention.explicit),
            {c: frozenset(invoices) for c, invoices in named_by_customer.items()},
        )
        scored = []
        for candidate in candidates:
            logit, _ = self._score(candidate, context)
            scored.append(
                ((-logit, len(candidate.invoices), self._rank[candidate.invoices[0]]), candidate)
            )
        scored.sort(key=itemgetter(0))
        suggestions = []
        for (neg_logit, _, _), candidate in scored[:limit]:
            reasons: list[str] = []
            _, applied = self._score(candidate, context, reasons)
            first = self.invoices[candidate.invoices[0]]
            suggestions.append(
                Suggestion(
                    invoice_ids=tuple(self.invoices[i].id for i in candidate.invoices),
                    amount=from_cents(applied),
                    score=round(_logistic(-neg_logit), 4),
                    reasons=reasons,
                    customer_id=first.customer_id,
                )
            )
        return suggestions

    def _read_references(
        self, payment: PaymentInput
    ) -> tuple[dict[int, _Mention], bool, dict[int, str]]:
        """Invoices named in the reference and notes, unknown invoice numbers, external ids."""
        named: dict[int, _Mention] = {}
        named_unknown = False
        external: dict[int, str] = {}
        for where, text in (("reference", payment.reference), ("notes", payment.notes)):
            matched_starts: set[int] = set()
            marked_starts: set[int] = set()
            for mention in number_mentions(text):
                invoices = None if mention.other else self._by_number.get(mention.key)
                if invoices and self._in is not None:
                    invoices = [i for i in invoices if self._currency_of[i] == self._in]
                if mention.marked:
                    marked_starts.add(mention.start)
                if invoices:
                    matched_starts.add(mention.start)
                    info = _Mention(mention.explicit, where, mention.text, len(mention.key) <= 3)
                    for i in invoices:
                        previous = named.get(i)
                        if previous is None or (info.explicit and not previous.explicit):
                            named[i] = info
                c = self._by_external_id.get(mention.raw_key)
                if c is not None and c not in external:
                    external[c] = mention.text
                    matched_starts.add(mention.start)
            if marked_starts - matched_starts:
                named_unknown = True
        return named, named_unknown, external

    def _customer_evidence(
        self,
        payer: NameForm,
        named: dict[int, _Mention],
        external: dict[int, str],
        payer_account: str | None = None,
    ) -> dict[int, _CustomerEvidence]:
        evidence: dict[int, _CustomerEvidence] = {}
        for c, similarity, e in self._name_candidates(payer):
            evidence[c] = self._name_evidence(similarity, e)
        for c, text in external.items():
            self._evidence_for(evidence, payer, c).external_id = text
        for c, count, share in self._history.get(payer.full, ()):
            item = self._evidence_for(evidence, payer, c)
            item.history_count, item.history_share = count, share
        if payer_account:
            for c, count, share in self._history.get(account_key(payer_account), ()):
                item = self._evidence_for(evidence, payer, c)
                item.account_count, item.account_share = count, share
        for i in named:
            self._evidence_for(evidence, payer, self._customer_of[i])
        informative = payer.informative
        for item in evidence.values():
            _weigh_customer(item, informative)
        return evidence

    def _name_evidence(self, similarity: float, e: int) -> _CustomerEvidence:
        entry = self._names[e]
        return _CustomerEvidence(similarity, entry.label, entry.is_contact)

    def _evidence_for(
        self, evidence: dict[int, _CustomerEvidence], payer: NameForm, c: int
    ) -> _CustomerEvidence:
        item = evidence.get(c)
        if item is None:
            best, best_entry = 0.0, -1
            if payer.informative:
                for e in self._customers[c].names:
                    similarity = name_similarity(payer, self._names[e].form)
                    if similarity > best:
                        best, best_entry = similarity, e
            item = self._name_evidence(best, best_entry) if best_entry >= 0 else _CustomerEvidence()
            evidence[c] = item
        return item

    def _name_candidates(self, payer: NameForm) -> tuple[tuple[int, float, int], ...]:
        """(customer, similarity, name entry) of the names most like the payer's, best first."""
        if not payer.informative:
            return ()
        cached = self._name_cache.get(payer.simple)
        if cached is not None:
            return cached
        exact = self._by_core.get(payer.core)
        if exact and len(exact) <= NAME_CANDIDATES:  # the payer wrote a known name: look no further
            result = self._best_per_customer(payer, exact)
            self._name_cache[payer.simple] = result
            return result
        words = [self._known_words(token) for token in payer.tokens]
        votes: dict[int, int] = {}
        common: list[list[int]] = []
        for key in _pair_keys(words):
            entries = self._by_pair.get(key)
            if entries and len(entries) > RARE_PAIR:
                common.append(entries)
            elif entries:
                for e in entries:
                    votes[e] = votes.get(e, 0) + 2
        for alternatives in words:
            for word in alternatives:
                entries = self._by_token[word]
                if len(entries) <= RARE_TOKEN:
                    for e in entries:
                        votes[e] = votes.get(e, 0) + 1
                else:
                    common.append(entries)
        if not votes:  # only common words: read the rarest of them
            postings = sorted(common, key=len)
            budget = FALLBACK_POSTINGS
            for entries in postings:
                if len(entries) > budget:
                    break
                budget -= len(entries)
                for e in entries:
                    votes[e] = votes.get(e, 0) + 1
        if len(votes) > NAME_CANDIDATES:  # a C-speed first cut over the blocked names
            if len(votes) > NAME_PRESELECT:  # many share a common pair: keep the best-voted
                top = max(votes.values())
                entries = sorted(e for e, v in votes.items() if v >= top - 1)
            else:
                entries = sorted(votes)
            cores = self._cores
            chosen = [
                entries[i]
                for _, _, i in process.extract(
                    payer.core,
                    [cores[e] for e in entries],
                    scorer=fuzz.ratio,
                    limit=NAME_CANDIDATES,
                )
            ]
        else:
            chosen = sorted(votes)
        result = self._best_per_customer(payer, chosen)
        if len(self._name_cache) > NAME_CACHE_SIZE:
            self._name_cache.clear()
        self._name_cache[payer.simple] = result
        return result

    def _best_per_customer(self, payer: NameForm, entries) -> tuple[tuple[int, float, int], ...]:
        best: dict[int, tuple[float, int]] = {}
        for e in entries:
            entry = self._names[e]
            similarity = name_similarity(payer, entry.form)
            if (
                similarity >= NAME_MIN_SIMILARITY
                and similarity > best.get(entry.customer, (0.0, 0))[0]
            ):
                best[entry.customer] = (similarity, e)
        ranked = sorted(
            ((c, s, e) for c, (s, e) in best.items()), key=lambda row: (-row[1], row[0])
        )
        return tuple(ranked[:NAME_CUSTOMERS])

    def _known_words(self, token: str) -> list[str]:
        """The token if names use it, else the known words one typo away from it."""
        if token in self._by_token:
            return [token]
        if len(token) < 4:
            return []
        deletions = self._word_deletions
        found = set(deletions.get(token, ()))
        for variant in deletion_variants(token):
            if variant in self._by_token:
                found.add(variant)
            found.update(deletions.get(variant, ()))
        return sorted(found)

    def _candidates(
        self, cents: int, named: dict[int, _Mention], evidence: dict[int, _CustomerEvidence]
    ) -> list[_Candidate]:
        found: dict[tuple[int, ...], _Candidate] = {}

        only = self._in
        currency_of = self._currency_of

        def add(invoices: Iterable[int], consecutive: bool = False) -> None:
            key = tuple(sorted(invoices, key=self._rank.__getitem__))
            if only is not None and any(currency_of[i] != only for i in key):
                return  # another currency: compared only through the rates
            if key not in found:
                found[key] = _Candidate(key, sum(self._cents[i] for i in key), consecutive)
            elif consecutive:
                found[key].consecutive = True

        named_by_customer: dict[int, list[int]] = {}
        for i in named:
            named_by_customer.setdefault(self._customer_of[i], []).append(i)
            add((i,))
        for invoices in named_by_customer.values():
            if len(invoices) > 1:
                add(invoices)
        strong = sorted(
            (c for c, item in evidence.items() if item.strong or c in named_by_customer),
            key=lambda c: (-evidence[c].weight, c),
        )
        # Customers far less likely than the best one are not worth a subset search.
        floor = evidence[strong[0]].weight - SEARCH_WEIGHT_SPAN if strong else 0.0
        searched = [c for c in strong if evidence[c].weight >= floor or c in named_by_customer]
        searched = searched[:MAX_SEARCHED_CUSTOMERS]
        matched_any = bool(named)
        for c in searched:
            matched_any |= self._customer_candidates(c, cents, add)
        if (
            not matched_any
        ):  # nothing adds up: the oldest invoices of the likely payers, for the clerk
            for c in searched[:FALLBACK_CUSTOMERS]:
                invoices = self._customers[c].invoices
                larger = [i for i in invoices[:SUBSET_POOL] if self._cents[i] > cents][:3]
                for i in larger or invoices[:2]:  # a partial payment of an older invoice, likeliest
                    add((i,))
        for c, invoices in named_by_customer.items():
            self._remainder_candidates(c, invoices, cents, add)
        if len(found) < 3:  # little else to show: invoices of that amount, whoever owes them
            amount_hits = self._by_cents.get(cents, ())
            if len(amount_hits) <= MAX_AMOUNT_ONLY_HITS:
                for i in amount_hits:
                    add((i,))
        return list(found.values())

    def _remainder_candidates(self, c: int, named: list[int], cents: int, add) -> None:
        """Named invoices plus one or two unnamed ones of the customer's oldest that make up the amount."""
        customer = self._customers[c]
        remainder = cents - sum(self._cents[i] for i in named)
        if remainder <= 0:
            return
        named_set = set(named)
        added = 0
        for i in customer.by_cents.get(remainder, ()):  # oldest first, in the oldest RUN_POOL
            if self._rank[i] > customer.window_end or added == SAME_AMOUNT_CANDIDATES:
                break
            if i not in named_set:
                add([*named, i])
                added += 1
        for p, q in pairs_in(customer.pool_pair_sums().get(remainder, 0)):
            i, j = customer.invoices[p], customer.invoices[q]
            if i not in named_set and j not in named_set:
                add([*named, i, j])

    def _customer_candidates(self, c: int, cents: int, add) -> bool:
        """Add the customer's invoices and invoice sets the amount fits; True if there were any."""
        customer = self._customers[c]
        same = customer.by_cents.get(cents, ())
        for i in same[:SAME_AMOUNT_CANDIDATES]:  # oldest first
            add((i,))
        found_any = bool(same)
        amounts = customer.sorted_amounts
        highest = short_pay_ceiling(cents, self._short_absolute, self._short_ratio)
        short = 0
        for p in range(bisect_right(amounts, cents), bisect_right(amounts, highest)):
            if amounts[p] - cents <= self._tolerance(amounts[p]):  # the smallest short-pays first
                add((customer.sorted_invoices[p],))
                found_any = True
                short += 1
                if short == SAME_AMOUNT_CANDIDATES:
                    break
        for run in consecutive_runs(customer.amounts[:RUN_POOL], cents):
            add((customer.invoices[p] for p in run), consecutive=True)
            found_any = True
        if customer.pool_total >= cents and len(customer.amounts) > 1:
            for subset in small_subsets(
                customer.amounts[:SUBSET_POOL],
                cents,
                sums=customer.pool_pair_sums(),
                ascending=customer.pool_ascending,
                max_size=MAX_SUBSET_SIZE,
            ):
                add(customer.invoices[p] for p in subset)
                found_any = True
        return found_any

    def _tolerance(self, balance_cents: int) -> int:
        numerator, denominator = self._short_ratio
        return max(self._short_absolute, balance_cents * numerator // denominator)

    def _score(
        self, candidate: _Candidate, context: _Context, reasons: list[str] | None = None
    ) -> tuple[float, int]:
        """Log-odds that the candidate is what the payment pays, and the money it would apply."""
        invoices = candidate.invoices
        c = self._customer_of[invoices[0]]
        customer = self._customers[c]
        cents, named, total = context.cents, context.named, candidate.total
        count = len(invoices)
        logit = BASE

        named_here = [i for i in invoices if i in named]
        if named_here:
            strength = 0.0
            for i in named_here:
                mention = named[i]
                if mention.explicit:
                    strength += W_NUMBER_EXPLICIT
                else:
                    strength += W_NUMBER_BARE_SHORT if mention.short else W_NUMBER_BARE
                if reasons is not None:
                    number = self.invoices[i].invoice_number
                    reasons.append(
                        f"invoice number {number} in {mention.where}"
                        if mention.explicit
                        else f"number {mention.text} in {mention.where} matches invoice {number}"
                    )
            logit += strength / count
        if len(named) > len(named_here) and (
            not context.explicit_named.issubset(invoices)
            or not context.named_by_customer.get(c, frozenset()).issubset(invoices)
        ):
            logit += W_OTHER_NAMED
            if reasons is not None:
                reasons.append("the reference names another invoice")
        elif not named_here and context.named_unknown:
            logit += W_UNKNOWN_NAMED
            if reasons is not None:
                reasons.append("the reference names an invoice number that is not open")

        invoice_evidence = bool(named_here)
        if total == cents:
            applied = total
            invoice_evidence = True
            logit += W_AMOUNT_EXACT
            if context.exact_counts.get(c, 0) == 1:
                logit += W_AMOUNT_UNIQUE
            if reasons is not None:
                if count == 1:
                    reasons.append("amount equals open balance")
                elif len(named_here) == count:
                    reasons.append(f"the {count} invoices total the amount")
                else:
                    reasons.append(f"{count} open invoices of {customer.name} total the amount")
        elif total > cents and total - cents <= self._tolerance(total):
            applied = cents
            invoice_evidence = True
            logit += W_AMOUNT_SHORT
            if context.short_counts.get(c, 0) == 1 and not context.exact_counts.get(c, 0):
                logit += W_AMOUNT_UNIQUE
            if reasons is not None:
                reasons.append(
                    f"short-pay: amount is {from_cents(total - cents)} below open balance {from_cents(total)}"
                )
        elif total > cents:
            applied = cents
            logit += W_PARTIAL_NAMED if named_here else W_PARTIAL_UNNAMED
            if reasons is not None:
                reasons.append(f"partial payment of open balance {from_cents(total)}")
        else:
            applied = total
            logit += W_OVERPAID
            if reasons is not None:
                reasons.append(
                    f"amount exceeds open balance {from_cents(total)} by {from_cents(cents - total)}"
                )
        if count > 1 and len(named_here) < count:
            pool = max(count, min(len(customer.invoices), SUBSET_POOL)) - len(named_here)
            logit += W_SUBSET * math.log2(math.comb(pool, count - len(named_here)))
            if candidate.consecutive:
                logit += W_CONSECUTIVE

        item = context.evidence.get(c)
        if item is not None:
            logit += item.weight
            if reasons is not None:
                reasons.extend(_customer_reasons(item))
        elif context.payer.informative:
            logit += _NAME_CURVE[0][1]
        if not invoice_evidence:
            logit = min(logit, CAP_WITHOUT_INVOICE_EVIDENCE)
        return logit, applied

    # -- deciding ------------------------------------------------------------------------------

    @staticmethod
    def decide(
        payment: PaymentInput,
        suggestions: list[Suggestion],
        *,
        today: date,
        threshold: float = 0.9,
        margin: float = 0.15,
        max_age_days: int = 90,
        previously_unapplied: bool = False,
    ) -> AutoApplyDecision:
        """Whether to apply the best suggestion without a clerk."""
        return decide(
            payment,
            suggestions,
            threshold=threshold,
            margin=margin,
            max_age_days=max_age_days,
            today=today,
            previously_unapplied=previously_unapplied,
        )


# An alternative (a suggestion after the first) scored below this is not worth a clerk's look,
# and not stored: on the accuracy book 1 in 1,300 of them was the right answer (between 0.02
# and 0.05, 1 in 130; 0.05 to 0.1, 1 in 8). They were a sixth of the rows a run stored and grew
# faster than the book (coincidental amounts and names crowd a bigger one).
ALTERNATIVE_FLOOR = 0.02


def worth_showing(suggestions: list[Suggestion]) -> list[Suggestion]:
    """The ranked suggestions a clerk is shown: the best whatever its score, and the
    alternatives scored at least ``ALTERNATIVE_FLOOR``. (Auto-apply decides on all of them:
    its margin is measured to the next candidate, shown or not.)"""
    return suggestions[:1] + [s for s in suggestions[1:] if s.score >= ALTERNATIVE_FLOOR]


def decide(
    payment: PaymentInput,
    suggestions: list[Suggestion],
    *,
    today: date,  # keyword-only without a default first: mypyc needs it so
    threshold: float = 0.9,
    margin: float = 0.15,
    max_age_days: int = 90,
    previously_unapplied: bool = False,
) -> AutoApplyDecision:
    """Auto-apply only one unambiguous candidate of a recent payment no clerk has unapplied."""
    if previously_unapplied:
        return AutoApplyDecision(False, None, "a clerk unapplied this payment before")
    age = (today - payment.payment_date).days
    if age >= max_age_days:
        return AutoApplyDecision(False, None, f"payment is {age} days old (limit {max_age_days})")
    if not suggestions:
        return AutoApplyDecision(False, None, "no candidate invoice")
    best = suggestions[0]
    if best.score < threshold:
        return AutoApplyDecision(
            False, None, f"best score {best.score:.2f} is below the threshold {threshold:.2f}"
        )
    if len(suggestions) > 1 and best.score - suggestions[1].score < margin:
        return AutoApplyDecision(
            False,
            None,
            f"ambiguous: next candidate scores {suggestions[1].score:.2f} against {best.score:.2f}",
        )
    if best.currency is not None:
        return AutoApplyDecision(
            False, None, f"the invoice is in {best.currency}: a clerk applies it"
        )
    if not Decimal("0") < best.amount <= payment.amount:
        return AutoApplyDecision(False, None, "suggested amount does not fit the payment")
    return AutoApplyDecision(True, best, f"unambiguous match with score {best.score:.2f}")
