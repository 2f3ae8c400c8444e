"""Matching rules an organization writes (``payments.rule_models.MatchRule``): conditions on a
payment's payer, reference, amount and currency, and one action.

Evaluation: the organization's active rules are tried in ``sequence`` order (then name) and
the **first rule whose conditions all hold wins**; later rules are not consulted
(``rules_for``). A rule is evaluated before a payment is scored (``payments_match`` plans the
rules of a run first, ``plan_for``) and its effect is laid over the engine's ranking:

* ``assign_customer``: only the rule's customer's suggestions are kept (its oldest open
  invoice is suggested when the engine had none of them) and the payment's ``customer`` is
  set when it has none;
* ``point_to_invoice``: the invoice the reference's ``invoice`` group captures (or the best
  suggestion of the customer the ``customer`` group captures, by external id) becomes the
  first suggestion;
* ``write_off``: when the payment is auto-applied, what its invoices still owe is written off
  to the rule's account when it is within the rule's tolerance (``rule_write_off``);
* ``review``: never auto-applied.

Every suggestion the rule touches carries the evidence ``rule 'NAME'`` in its reasons. A rule
never makes matching auto-apply what the organization's policy (``decide`` with its
``PaymentSettings``) would refuse: the policy decides on the engine's own ranking, and the
decision stands only when the rule leaves that same suggestion first (``RuleHit.allows``).

Patterns are Python regular expressions searched case-insensitively. The ``regex`` module
(with a timeout) is not installed, so catastrophic patterns are guarded against by refusing
nested unbounded repetition and back-references, allowing at most
``MAX_UNBOUNDED_REPEATS`` unbounded repeats, and searching only the first ``MAX_INPUT``
characters of a payer name or reference.

Reading rules costs no statement for an organization without rules: the payment-settings
read of a matching run carries whether any active rule exists (``settings_for_matching``);
with rules, one statement reads them (and, on PostgreSQL's candidate path, one more reads
open invoices the rules point to that the candidates missed).
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists
from django.utils import timezone

from arpilot.compiled import CompiledInstances, organization_slot
from arpilot.currencies import amount_check, currency_validate
from arpilot.errors import ApplicationError, NotFound, ValidationFailed
from customers.models import Customer
from payments import lock_objects
from payments.matching import OpenInvoice, PaymentInput, Suggestion, invoice_number_key
from payments.matching.normalize import external_id_key
from payments.models import ZERO, Payment, PaymentSettings
from payments.rule_models import MatchRule
from payments.services.common import organization_currency, payment_settings_get
from receivables.models import Account, Invoice

logger = logging.getLogger("payments.services")

MAX_PATTERN = 300
MAX_INPUT = 256  # characters of a payer name or reference a pattern is searched in
MAX_UNBOUNDED_REPEATS = 3
CAPTURE_GROUPS = frozenset({"invoice", "customer"})
RULE_SUGGESTION_SCORE = 0.5  # a suggestion only a rule made: the clerk confirms it
MAX_MONEY = Decimal("999999999999.999")

Action = MatchRule.Action

# --- patterns ---------------------------------------------------------------------------------

try:  # Python 3.11+: the parser module is private
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT}
if hasattr(_sre, "POSSESSIVE_REPEAT"):
    _REPEATS.add(_sre.POSSESSIVE_REPEAT)
_BACKREFERENCES = {_sre.GROUPREF, _sre.GROUPREF_EXISTS}
if hasattr(_sre, "GROUPREF_IGNORE"):
    _BACKREFERENCES.add(_sre.GROUPREF_IGNORE)


def _refused(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field_name: [message]})


def _walk(items, field_name: str, inside_repeat: bool, counts: list[int]) -> None:
    """Refuse back-references and an unbounded repeat inside a repeat; count the unbounded."""
    for op, av in items:
        if op in _BACKREFERENCES:
            raise _refused(field_name, "Back-references are not allowed in a rule's pattern.")
        if op in _REPEATS:
            _low, high, sub = av
            unbounded = high == _sre.MAXREPEAT or high > 1000
            if unbounded:
                counts[0] += 1
                if inside_repeat:
                    raise _refused(
                        field_name,
                        "Nested repetition (like (a+)+) can take forever on some text: "
                        "write the pattern without a repeat inside a repeat.",
                    )
            _walk(sub, field_name, inside_repeat or high > 1, counts)
            continue
        for value in av if isinstance(av, (tuple, list)) else (av,):
            if isinstance(value, _sre_parse.SubPattern):
                _walk(value, field_name, inside_repeat, counts)
            elif isinstance(value, (tuple, list)):
                for part in value:
                    if isinstance(part, _sre_parse.SubPattern):
                        _walk(part, field_name, inside_repeat, counts)


def pattern_compile(pattern: str, field_name: str, *, groups=frozenset()) -> re.Pattern | None:
    """The compiled pattern (case-insensitive), or a 400 naming ``field_name`` when it does not
    compile, names a group other than ``groups``, or could backtrack catastrophically. An
    empty pattern is None."""
    if not isinstance(pattern, str):
        raise _refused(field_name, "A regular expression as text.")
    if not pattern:
        return None
    if len(pattern) > MAX_PATTERN:
        raise _refused(field_name, f"At most {MAX_PATTERN} characters.")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
        parsed = _sre_parse.parse(pattern, re.IGNORECASE)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise _refused(field_name, f"Not a valid regular expression: {exc}.") from None
    unknown = sorted(set(compiled.groupindex) - set(groups))
    if unknown:
        allowed = " or ".join(f"`{name}`" for name in sorted(groups)) or "none"
        raise _refused(
            field_name,
            f"Unknown named group {', '.join(unknown)}: the groups allowed are {allowed}.",
        )
    counts = [0]
    _walk(parsed, field_name, False, counts)
    if counts[0] > MAX_UNBOUNDED_REPEATS:
        raise _refused(
            field_name,
            f"At most {MAX_UNBOUNDED_REPEATS} unbounded repeats (*, +, {{n,}}) in a pattern.",
        )
    return compiled


# --- compiled rules and their evaluation ------------------------------------------------------


@dataclass(frozen=True)
class CompiledRule:
    """A rule as evaluation reads it (no model, no query)."""

    id: object
    name: str
    action: str
    payer_contains: str = ""  # case-folded
    payer_re: re.Pattern | None = None
    reference_re: re.Pattern | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    currency: str = ""
    customer_id: object = None
    customer_name: str = ""
    account_id: object = None
    tolerance: Decimal = ZERO

    @property
    def evidence(self) -> str:
        return f"rule '{self.name}'"

    def failed_condition(self, payer: str, reference: str, amount, currency: str) -> str:
        """Why the rule does not match ("" when it does)."""
        payer, reference = (payer or "")[:MAX_INPUT], (reference or "")[:MAX_INPUT]
        if self.payer_contains and self.payer_contains not in payer.casefold():
            return f"the payer name does not contain '{self.payer_contains}'"
        if self.payer_re is not None and self.payer_re.search(payer) is None:
            return "the payer name does not match payer_regex"
        if self.reference_re is not None and self.reference_re.search(reference) is None:
            return "the reference does not match reference_regex"
        if self.amount_min is not None and (amount is None or amount < self.amount_min):
            return f"the amount is below {self.amount_min}"
        if self.amount_max is not None and (amount is None or amount > self.amount_max):
            return f"the amount is above {self.amount_max}"
        if self.currency and (currency or "").upper() != self.currency:
            return f"the currency is not {self.currency}"
        return ""

    def hit(self, payer: str, reference: str, amount, currency: str) -> RuleHit | None:
        if self.failed_condition(payer, reference, amount, currency):
            return None
        captured = {}
        if self.reference_re is not None and self.reference_re.groupindex:
            found = self.reference_re.search((reference or "")[:MAX_INPUT])
            captured = {k: (v or "").strip() for k, v in found.groupdict().items()}
        return RuleHit(self, captured.get("invoice", ""), captured.get("customer", ""))


@dataclass(frozen=True)
class RuleHit:
    """The rule that matched a payment and what its reference pattern captured."""

    rule: CompiledRule
    invoice: str = ""
    customer: str = ""

    @property
    def evidence(self) -> str:
        return self.rule.evidence

    def allows(self, decided: Suggestion | None, suggestions: list[Suggestion]) -> bool:
        """Whether the policy's decision (on the engine's ranking) may be auto-applied under
        the rule: never for ``review``; otherwise only when the rule left that same
        suggestion first."""
        if decided is None or self.rule.action == Action.REVIEW or not suggestions:
            return False
        return tuple(suggestions[0].invoice_ids) == tuple(decided.invoice_ids)


def compile_rule(rule: MatchRule) -> CompiledRule:
    customer = rule.customer if MatchRule.customer.is_cached(rule) else None
    return CompiledRule(
        id=rule.pk,
        name=rule.name,
        action=rule.action,
        payer_contains=rule.payer_contains.casefold(),
        payer_re=pattern_compile(rule.payer_regex, "payer_regex"),
        reference_re=pattern_compile(
            rule.reference_regex, "reference_regex", groups=CAPTURE_GROUPS
        ),
        amount_min=rule.amount_min,
        amount_max=rule.amount_max,
        currency=rule.currency.upper(),
        customer_id=rule.customer_id,
        customer_name=customer.company_name if customer is not None else "",
        account_id=rule.write_off_account_id,
        tolerance=rule.write_off_tolerance,
    )


def active_rules(organization, *, exist_hint: bool | None = None) -> list[CompiledRule]:
    """The organization's active rules in evaluation order. ``exist_hint``: whether any exist
    as already read (False: no statement at all)."""
    if exist_hint is False:
        return []
    compiled = []
    rows = (
        MatchRule.objects.for_org(organization)
        .filter(active=True)
        .select_related("customer")
        .order_by("sequence", "name", "id")
    )
    for rule in rows:
        try:
            compiled.append(compile_rule(rule))
        except ValidationFailed as exc:  # saved around the service (admin, shell): skipped
            logger.warning("match rule %s skipped: %s", rule.pk, exc.message)
    return compiled


def _payment_facts(payment, base_currency: str) -> tuple[str, str, Decimal, str]:
    reference = getattr(payment, "payer_reference", None)
    if reference is None:
        reference = getattr(payment, "reference", "")
    currency = (payment.currency or "").upper() or base_currency
    return payment.payer_name or "", reference or "", payment.amount, currency


def first_hit(rules: list[CompiledRule], payment, base_currency: str = "") -> RuleHit | None:
    """The hit of the first rule (in order) whose conditions the payment meets."""
    facts = _payment_facts(payment, base_currency)
    for rule in rules:
        hit = rule.hit(*facts)
        if hit is not None:
            return hit
    return None


def rules_for(payment, *, rules: list[CompiledRule] | None = None) -> RuleHit | None:
    """The rule that decides for ``payment`` (a ``Payment``): the first active rule in
    sequence order whose conditions all hold wins; None when none does. ``rules``: the
    organization's, when read already (matching uses ``first_hit`` on its inputs)."""
    if rules is None:
        rules = active_rules(payment.organization_id)
    base = organization_currency(payment.organization) if rules else ""
    return first_hit(rules, payment, base)


# --- matching runs ----------------------------------------------------------------------------


# Every payment recorded over the API reads it: compiled once (``arpilot.compiled``).
_SETTINGS_FOR_MATCHING = CompiledInstances(
    PaymentSettings,
    lambda organization: (
        PaymentSettings.objects.filter(organization_id=organization)
        .annotate(has_match_rules=Exists(_active_rules_of(organization)))
        .order_by("pk")
    ),
    organization_slot(),
    extra=("has_match_rules",),
    limit=1,
)


def settings_for_matching(org_id) -> PaymentSettings:
    """The payment settings (created on first use) with ``has_match_rules``: whether any
    active rule exists, read in the same statement."""
    found = next(iter(_SETTINGS_FOR_MATCHING.get(organization=org_id)), None)
    if found is not None:
        return found
    try:  # first use: created as ``payment_settings_get`` would (no second read)
        with transaction.atomic():
            found = PaymentSettings.objects.create(organization_id=org_id)
    except IntegrityError:
        found = PaymentSettings.objects.get(organization_id=org_id)
        found.has_match_rules = None  # not known: read
        return found
    # Rules are created after the settings row (``rule_create``): none yet.
    found.has_match_rules = False
    return found


def _active_rules_of(org_id):
    return MatchRule.objects.filter(organization_id=org_id, active=True)


def has_rules_annotation(org_id):
    """``Exists`` of the organization's active rules, to annotate a settings read with."""
    return Exists(_active_rules_of(org_id))


def _with_reason(suggestion: Suggestion, *reasons: str) -> Suggestion:
    return replace(suggestion, reasons=[*reasons, *suggestion.reasons])


@dataclass
class RulePlan:
    """The rules that matched the payments of one matching run, and the open invoices they
    point to (``index``)."""

    hits: dict  # payment id → RuleHit
    by_number: dict = field(default_factory=dict)  # invoice_number_key → [OpenInvoice]
    by_customer: dict = field(default_factory=dict)  # customer id → [OpenInvoice], oldest first
    by_external: dict = field(default_factory=dict)  # external_id_key → customer id

    def wanted(self) -> tuple[set, set, set]:
        numbers, customers, externals = set(), set(), set()
        for hit in self.hits.values():
            action = hit.rule.action
            if action == Action.ASSIGN_CUSTOMER and hit.rule.customer_id is not None:
                customers.add(hit.rule.customer_id)
            elif action == Action.POINT_TO_INVOICE:
                if hit.invoice and invoice_number_key(hit.invoice):
                    numbers.add(invoice_number_key(hit.invoice))
                if hit.customer and external_id_key(hit.customer):
                    externals.add(external_id_key(hit.customer))
        return numbers, customers, externals

    def index(self, invoices) -> None:
        """Find the invoices and customers the rules point to among the run's open invoices."""
        numbers, customers, externals = self.wanted()
        if not (numbers or customers or externals):
            return
        for invoice in invoices:
            if numbers and invoice_number_key(invoice.invoice_number) in numbers:
                self.by_number.setdefault(invoice_number_key(invoice.invoice_number), []).append(
                    invoice
                )
            external = externals and external_id_key(invoice.customer_external_id or "")
            if external and external in externals:
                self.by_external[external] = invoice.customer_id
            if invoice.customer_id in customers or (external and external in externals):
                self.by_customer.setdefault(invoice.customer_id, []).append(invoice)
        for found in self.by_customer.values():
            found.sort(key=lambda invoice: (invoice.issue_date, invoice.invoice_number))

    def adjust(self, payment: PaymentInput, suggestions: list[Suggestion]) -> list[Suggestion]:
        """The suggestions as the payment's rule leaves them (evidence in their reasons)."""
        hit = self.hits[payment.id]
        rule = hit.rule
        if rule.action == Action.REVIEW:
            note = f"{rule.evidence}: left for a clerk to review"
            return [_with_reason(s, note) for s in suggestions]
        if rule.action == Action.WRITE_OFF:
            note = f"{rule.evidence}: a difference up to {rule.tolerance} is written off"
            return [_with_reason(s, note) for s in suggestions]
        if rule.action == Action.ASSIGN_CUSTOMER:
            return self._for_customer(payment, suggestions, rule.customer_id, rule.evidence)
        if hit.invoice:
            return self._to_invoice(payment, suggestions, hit)
        customer_id = self.by_external.get(external_id_key(hit.customer))
        if customer_id is None:
            note = f"{rule.evidence}: no open invoice of customer {hit.customer}"
            return [_with_reason(s, note) for s in suggestions]
        return self._for_customer(payment, suggestions, customer_id, rule.evidence)

    def _for_customer(self, payment, suggestions, customer_id, evidence) -> list[Suggestion]:
        invoices = self.by_customer.get(customer_id, [])
        name = invoices[0].customer_name if invoices else ""
        note = f"{evidence}: customer {name}" if name else evidence
        kept = [_with_reason(s, note) for s in suggestions if s.customer_id == customer_id]
        if kept:
            return kept
        made = _made_suggestion(payment, invoices)
        if made is None:
            return [
                _with_reason(s, f"{evidence}: the customer has no open invoice")
                for s in suggestions
            ]
        return [_with_reason(made, note)]

    def _to_invoice(self, payment, suggestions, hit: RuleHit) -> list[Suggestion]:
        targets = self.by_number.get(invoice_number_key(hit.invoice), [])
        paid_in = (payment.currency or "").upper()
        targets = [t for t in targets if not paid_in or not t.currency or t.currency == paid_in]
        if not targets:
            note = f"{hit.evidence}: invoice {hit.invoice} is not open"
            return [_with_reason(s, note) for s in suggestions]
        target = targets[0]
        note = f"{hit.evidence}: the reference names invoice {target.invoice_number}"
        for position, suggestion in enumerate(suggestions):
            if tuple(suggestion.invoice_ids) == (target.id,):
                rest = suggestions[:position] + suggestions[position + 1 :]
                return [_with_reason(suggestion, note), *rest]
        made = _made_suggestion(payment, [target])
        return [_with_reason(made, note), *suggestions][: max(len(suggestions), 1)]


def _made_suggestion(payment: PaymentInput, invoices: list[OpenInvoice]) -> Suggestion | None:
    """A suggestion of the first of ``invoices`` (one of the payment's amount, if any) that
    the engine did not make."""
    if not invoices or payment.amount <= 0:
        return None
    exact = [invoice for invoice in invoices if invoice.open_balance == payment.amount]
    invoice = (exact or invoices)[0]
    return Suggestion(
        invoice_ids=(invoice.id,),
        amount=min(payment.amount, invoice.open_balance),
        score=RULE_SUGGESTION_SCORE,
        reasons=[],
        customer_id=invoice.customer_id,
    )


def plan_for(org_id, payments: list[PaymentInput], *, options, base_currency: str):
    """The rules that matched ``payments`` (None when none did: no rule, no work)."""
    rules = active_rules(org_id, exist_hint=getattr(options, "has_match_rules", None))
    if not rules:
        return None
    hits = {}
    for payment in payments:
        hit = first_hit(rules, payment, base_currency)
        if hit is not None:
            hits[payment.id] = hit
    return RulePlan(hits) if hits else None


def missing_invoices(org_id, plan: RulePlan | None, invoices: list[OpenInvoice]) -> list:
    """Open invoices the plan's rules point to that ``invoices`` (a candidate book) lacks:
    one statement (PostgreSQL), only when a rule points somewhere."""
    if plan is None:
        return []
    numbers, customers, externals = plan.wanted()
    if not (numbers or customers or externals):
        return []
    from payments.services import match_candidates  # PostgreSQL only, like its caller

    digits = sorted({re.sub(r"\D+", "", key).lstrip("0") for key in numbers} - {""})
    numbers_sql = match_candidates.NUMBER_DIGITS_SQL
    external_sql = match_candidates.EXTERNAL_KEY_SQL
    sql = f"""
        SELECT i.id, i.invoice_number, i.customer_id, c.company_name, c.external_id,
               i.amount_due, i.issue_date, i.due_date, i.currency
        FROM {Invoice._meta.db_table} i JOIN {Customer._meta.db_table} c ON c.id = i.customer_id
        WHERE i.id IN (
            SELECT id FROM {Invoice._meta.db_table}
            WHERE organization_id = %(org)s AND status = ANY(%(open)s) AND amount_due > 0
            AND ({numbers_sql} = ANY(%(digits)s)
                 OR customer_id = ANY(%(customers)s)
                 OR customer_id IN (
                    SELECT id FROM {Customer._meta.db_table}
                    WHERE organization_id = %(org)s AND external_id <> ''
                    AND {external_sql} = ANY(%(externals)s)))
            LIMIT 2000
        )
    """  # noqa: S608 - table names from models, values bound
    params = {
        "org": org_id,
        "open": [str(status) for status in Invoice.OPEN_STATUSES],
        "digits": digits,
        "customers": sorted(customers, key=str),
        "externals": sorted(externals),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    have = {invoice.id for invoice in invoices}
    return match_candidates.open_invoices_from_rows([row for row in rows if row[0] not in have], {})


def customers_assign(org_id, plan: RulePlan | None, in_hand: dict) -> None:
    """Set ``customer`` of the payments an ``assign_customer`` rule matched (those without
    one): a statement per customer, only when such a rule matched."""
    if plan is None:
        return
    by_customer: dict = {}
    for payment_id, hit in plan.hits.items():
        if hit.rule.action == Action.ASSIGN_CUSTOMER and hit.rule.customer_id is not None:
            by_customer.setdefault(hit.rule.customer_id, []).append(payment_id)
    for customer_id, payment_ids in by_customer.items():
        Payment.objects.for_org(org_id).filter(pk__in=payment_ids, customer__isnull=True).update(
            customer_id=customer_id, updated_at=timezone.now()
        )
        for payment_id in payment_ids:
            payment = in_hand.get(payment_id)
            if payment is not None and payment.customer_id is None:
                payment.customer_id = customer_id


def after_auto_apply(organization, plan: RulePlan | None, payment_id, payment=None) -> None:
    """A payment was auto-applied: its ``write_off`` rule writes off the difference."""
    hit = plan.hits.get(payment_id) if plan is not None else None
    if hit is None or hit.rule.action != Action.WRITE_OFF:
        return
    try:
        rule_write_off(
            organization=organization, rule=hit.rule, payment_id=payment_id, payment=payment
        )
    except ApplicationError as exc:  # the payment stays applied; a clerk writes it off
        logger.warning("rule %r wrote nothing off on %s: %s", hit.rule.name, payment_id, exc)


# --- writing off within a rule's tolerance ----------------------------------------------------


@transaction.atomic  # its own savepoint: a refusal leaves the auto-application standing
def rule_write_off(*, organization, rule: CompiledRule, payment_id, payment=None) -> Decimal:
    """Write off what the applied payment's invoices still owe, to the rule's account (else
    the organization's write-off account), when it is within the rule's tolerance, as a
    clerk's ``write_off_short_payment`` would (``allocations``); what was written off."""
    from payments.services import allocations as money

    in_hand = payment is not None
    if not in_hand:
        payment = lock_objects.payment_for_update(organization, payment_id)
    if payment.unapplied_amount > 0:
        return ZERO
    active = getattr(payment, "active_allocations", None) if in_hand else None
    if active is None:
        active = money.active_allocations(payment)
    invoices = money.lock_invoices(payment, active)
    short = [
        (allocation, invoices[allocation.invoice_id])
        for allocation in active
        if allocation.write_off_entry_id is None
        and invoices[allocation.invoice_id].amount_due > 0
        and invoices[allocation.invoice_id].status in Invoice.OPEN_STATUSES
        and invoices[allocation.invoice_id].exchange_rate is None
    ]
    total = sum((invoice.amount_due for _, invoice in short), ZERO)
    if not short or total > rule.tolerance:
        return ZERO
    account = None
    if rule.account_id is not None:
        account = (
            Account.objects.for_org(payment.organization_id).filter(pk=rule.account_id).first()
        )
    if account is None:
        account = money._write_off_account(payment.organization_id)
    field_name = "write_off_short_payment"
    for allocation, invoice in short:
        amount = invoice.amount_due
        entry = money.invoice_apply_payment(
            invoice=invoice,
            amount=amount,
            received_date=payment.payment_date,
            cash_account=account,
            source="write_off",
            memo=f"Short-payment on invoice {invoice.invoice_number} written off ({rule.evidence})",
            field_name=field_name,
        )
        allocation.write_off_amount = amount
        allocation.write_off_entry = entry
        allocation.save(update_fields=["write_off_amount", "write_off_entry", "updated_at"])
        payment.written_off_amount += amount
        money._money_event(
            payment,
            "write_off",
            amount,
            invoice,
            {
                "allocation_id": str(allocation.pk),
                "write_off_account_number": account.account_number,
                "match_rule": rule.name,
                **money._entry_payload(entry),
            },
        )
    money.save_money(payment)
    return total


# --- CRUD -------------------------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "sequence",
    "active",
    "payer_contains",
    "payer_regex",
    "reference_regex",
    "amount_min",
    "amount_max",
    "currency",
    "action",
    "customer_id",
    "write_off_account_id",
    "write_off_tolerance",
)


def rule_list(*, organization):
    """The organization's rules in evaluation order, with customer and account (one query)."""
    return (
        MatchRule.objects.for_org(organization)
        .select_related("customer", "write_off_account")
        .order_by("sequence", "name", "id")
    )


def rule_get(*, organization, pk) -> MatchRule:
    try:
        uuid.UUID(str(pk))
    except ValueError:
        raise NotFound("Not found.") from None
    found = rule_list(organization=organization).filter(pk=pk).first()
    if found is None:
        raise NotFound("Not found.")
    return found


def _money(value, field_name: str, currency: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise _refused(field_name, f"“{value}” is not an amount.") from None
    if not amount.is_finite():
        raise _refused(field_name, f"“{value}” is not an amount.")
    if amount < 0:
        raise _refused(field_name, "Must not be negative.")
    if amount > MAX_MONEY:
        raise _refused(field_name, "Too large.")
    return amount_check(amount, currency, field_name)


def _validated(organization, data: dict) -> dict:
    """The rule's fields, checked together (a 400 naming the first offending field)."""
    clean = dict(data)
    name = (clean.get("name") or "").strip() if isinstance(clean.get("name"), str) else ""
    if not name:
        raise _refused("name", "A rule needs a name.")
    if len(name) > 100:
        raise _refused("name", "At most 100 characters.")
    clean["name"] = name
    sequence = clean.get("sequence", 10)
    if (
        isinstance(sequence, bool)
        or not isinstance(sequence, int)
        or not 0 <= sequence <= 2**31 - 1
    ):
        raise _refused("sequence", "A whole number from 0.")
    action = clean.get("action")
    if action not in Action.values:
        raise _refused("action", f"One of: {', '.join(Action.values)}.")
    for key in ("payer_contains", "payer_regex", "reference_regex", "currency"):
        value = clean.get(key) or ""
        if not isinstance(value, str):
            raise _refused(key, "Text.")
        clean[key] = value.strip() if key in ("payer_contains", "currency") else value
    if len(clean["payer_contains"]) > 255:
        raise _refused("payer_contains", "At most 255 characters.")
    pattern_compile(clean["payer_regex"], "payer_regex")
    reference = pattern_compile(clean["reference_regex"], "reference_regex", groups=CAPTURE_GROUPS)
    currency = clean["currency"]
    if currency:
        currency = clean["currency"] = currency_validate(currency, "currency")
    money_in = currency or organization_currency(organization)
    clean["amount_min"] = _money(clean.get("amount_min"), "amount_min", money_in)
    clean["amount_max"] = _money(clean.get("amount_max"), "amount_max", money_in)
    if (
        clean["amount_min"] is not None
        and clean["amount_max"] is not None
        and clean["amount_min"] > clean["amount_max"]
    ):
        raise _refused("amount_max", "Must not be below amount_min.")
    tolerance = _money(clean.get("write_off_tolerance"), "write_off_tolerance", money_in)
    clean["write_off_tolerance"] = tolerance if tolerance is not None else ZERO
    customer_id = clean.get("customer_id")
    if action == Action.ASSIGN_CUSTOMER:
        if not customer_id:
            raise _refused("customer_id", "assign_customer needs the customer.")
        if not _is_uuid(customer_id) or not (
            Customer.objects.for_org(organization).filter(pk=customer_id).exists()
        ):
            raise _refused("customer_id", "No such customer in your organization.")
    else:
        clean["customer_id"] = None
    account_id = clean.get("write_off_account_id")
    if action == Action.WRITE_OFF:
        if clean["write_off_tolerance"] <= 0:
            raise _refused("write_off_tolerance", "write_off needs a tolerance above zero.")
        if account_id:
            account = (
                Account.objects.for_org(organization).filter(pk=account_id).first()
                if _is_uuid(account_id)
                else None
            )
            if account is None:
                raise _refused("write_off_account_id", "No such account in your organization.")
            if account.type != Account.Type.EXPENSE:
                raise _refused("write_off_account_id", "Write-offs post to an expense account.")
    else:
        clean["write_off_account_id"] = None
        clean["write_off_tolerance"] = ZERO
    if action == Action.POINT_TO_INVOICE and (
        reference is None or not set(reference.groupindex) & CAPTURE_GROUPS
    ):
        raise _refused(
            "reference_regex",
            "point_to_invoice needs a reference pattern with a named group: "
            "(?P<invoice>…) or (?P<customer>…).",
        )
    return clean


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _save(rule: MatchRule) -> MatchRule:
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        if (
            MatchRule.objects.for_org(rule.organization_id)
            .filter(name=rule.name)
            .exclude(pk=rule.pk)
            .exists()
        ):
            raise _refused("name", f"A rule named '{rule.name}' exists already.") from None
        raise
    return rule


def _check_name_free(organization, name: str, pk=None) -> None:
    taken = MatchRule.objects.for_org(organization).filter(name=name)
    if pk is not None:
        taken = taken.exclude(pk=pk)
    if taken.exists():
        raise _refused("name", f"A rule named '{name}' exists already.")


def rule_create(*, organization, **data) -> MatchRule:
    """A new rule (see ``_validated``); 400 naming the field for anything wrong."""
    unknown = sorted(set(data) - set(RULE_FIELDS))
    if unknown:
        raise _refused(unknown[0], "Not a field of a rule.")
    clean = _validated(organization, {"active": True, "sequence": 10, **data})
    _check_name_free(organization, clean["name"])
    # Matching reads whether rules exist along with the settings row: it exists from now on.
    payment_settings_get(organization=organization)
    rule = MatchRule(organization_id=getattr(organization, "pk", organization), **clean)
    return _save(rule)


def rule_update(*, organization, rule_id, **changes) -> MatchRule:
    """Change some of a rule's fields; the whole rule is checked again."""
    unknown = sorted(set(changes) - set(RULE_FIELDS))
    if unknown:
        raise _refused(unknown[0], "Not a field of a rule.")
    rule = rule_get(organization=organization, pk=rule_id)
    current = {name: getattr(rule, name) for name in RULE_FIELDS}
    clean = _validated(organization, {**current, **changes})
    _check_name_free(organization, clean["name"], rule.pk)
    for name, value in clean.items():
        setattr(rule, name, value)
    _save(rule)
    return rule_get(organization=organization, pk=rule.pk)


def rule_delete(*, organization, rule_id) -> None:
    rule_get(organization=organization, pk=rule_id).delete()


# --- trying a rule ----------------------------------------------------------------------------


@dataclass
class RuleTrial:
    """What a rule makes of a payment (or of payment facts): whether it matches and what it
    would do."""

    matches: bool
    reason: str  # why not, or what it would do
    action: str
    captured: dict
    invoice: Invoice | None = None
    customer: Customer | None = None
    first_matching_rule: str | None = None  # the rule that wins among the active ones


def rule_test(*, organization, rule_id, payment_id=None, facts: dict | None = None) -> RuleTrial:
    """Try the rule on a payment of the organization (``payment_id``) or on ``facts``
    (payer_name, reference, amount, currency), inactive rules too. Nothing is changed."""
    rule = rule_get(organization=organization, pk=rule_id)
    compiled = compile_rule(rule)
    base = organization_currency(organization)
    if payment_id is not None:
        if not _is_uuid(payment_id):
            raise _refused("payment_id", "No such payment in your organization.")
        payment = Payment.objects.for_org(organization).filter(pk=payment_id).first()
        if payment is None:
            raise _refused("payment_id", "No such payment in your organization.")
        payer, reference, amount, currency = _payment_facts(payment, base)
    else:
        facts = facts or {}
        payer = facts.get("payer_name") or ""
        reference = facts.get("reference") or ""
        amount = facts.get("amount")
        currency = (facts.get("currency") or "").upper() or base
        payment = PaymentInput(
            id=None, amount=amount or ZERO, payment_date=None, payer_name=payer,
            reference=reference, currency=currency,
        )  # fmt: skip
    failed = compiled.failed_condition(payer, reference, amount, currency)
    winner = first_hit(active_rules(organization), payment, base)
    winner_name = winner.rule.name if winner is not None else None
    if failed:
        return RuleTrial(False, f"No match: {failed}.", rule.action, {}, None, None, winner_name)
    hit = compiled.hit(payer, reference, amount, currency)
    captured = {k: v for k, v in (("invoice", hit.invoice), ("customer", hit.customer)) if v}
    trial = RuleTrial(True, "", rule.action, captured, first_matching_rule=winner_name)
    if rule.action == Action.REVIEW:
        trial.reason = "Matches: the payment is left for a clerk to review, never auto-applied."
    elif rule.action == Action.WRITE_OFF:
        account = rule.write_off_account
        to = (
            f"account {account.account_number} {account.name}"
            if account
            else "the organization's write-off account"
        )
        trial.reason = (
            f"Matches: when auto-applied, a difference up to {rule.write_off_tolerance} is "
            f"written off to {to}."
        )
    elif rule.action == Action.ASSIGN_CUSTOMER:
        trial.customer = rule.customer
        trial.reason = (
            f"Matches: suggestions are restricted to customer {rule.customer.company_name}."
        )
    elif hit.invoice:
        trial.invoice = _open_invoice_numbered(organization, hit.invoice)
        trial.reason = (
            f"Matches: invoice {trial.invoice.invoice_number} becomes the first suggestion."
            if trial.invoice
            else f"Matches, but no open invoice is numbered {hit.invoice}."
        )
        if trial.invoice is not None:
            trial.customer = trial.invoice.customer
    else:
        trial.customer = _customer_by_external_id(organization, hit.customer)
        trial.reason = (
            f"Matches: suggestions are restricted to customer {trial.customer.company_name}."
            if trial.customer
            else f"Matches, but no customer has the id {hit.customer}."
        )
    if winner_name is not None and winner_name != rule.name and rule.active:
        trial.reason += f" (Rule '{winner_name}' comes first and wins.)"
    return trial


def _open_invoice_numbered(organization, captured: str) -> Invoice | None:
    key = invoice_number_key(captured)
    if not key:
        return None
    digits = re.sub(r"\D+", "", key)
    found = (
        Invoice.objects.for_org(organization)
        .open()
        .filter(amount_due__gt=0, invoice_number__icontains=digits[-12:] or key)
        .select_related("customer")
        .order_by("issue_date", "invoice_number")[:200]
    )
    return next((i for i in found if invoice_number_key(i.invoice_number) == key), None)


def _customer_by_external_id(organization, captured: str) -> Customer | None:
    key = external_id_key(captured)
    if not key:
        return None
    if _is_uuid(captured):
        found = Customer.objects.for_org(organization).filter(pk=captured).first()
        if found is not None:
            return found
    customers = Customer.objects.for_org(organization).exclude(external_id="")
    for customer in customers.filter(external_id__icontains=captured.strip()[:50])[:50]:
        if external_id_key(customer.external_id) == key:
            return customer
    return None
