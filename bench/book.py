"""The benchmarks' book generator: customers, invoices, payments and bank exports.

Every benchmark that needs a receivables book takes it from here, so the books stay the same
across scripts and over time. The word lists (company names, first and last names, trades,
legal suffixes, bank payer names…) are data files in ``bench/data/``, read once at import;
their order matters, because seeded choices pick by position.

* ``matching_book`` — a seeded, noisy book for the matching engine (``bench.matching_accuracy``,
  ``bench.matching_scale``, ``bench.matching_db``): customers with contacts and external
  ids, open invoices, a payer history, payments as banks deliver them, and the truth.
* ``generate_csv`` — the bytes of a realistic bank CSV export (``bench.gen_bank_csv``,
  ``bench.import_csv``).
* ``list_customer_name`` / ``list_invoices`` — the shape of the bulk invoice-list book
  (``bench.generate``): statuses consistent with amounts and due dates.
* ``service_customer_names`` / ``service_invoices`` — the small book seeded through the
  services for ``bench.api_load``; ``review_book`` — the review-queue book
  (``bench.review_queue``).

This module imports nothing from the application at import time (the matching engine's
types are imported where they are built), so ``bench.api_load --app-dir`` can use it and
still import the *measured* checkout's packages.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.matching import OpenInvoice, PayerHistory, PaymentInput

# --- word lists (bench/data/) -----------------------------------------------------------------

_EMPTY = '""'


@functools.cache
def _lines(filename: str) -> tuple[str, ...]:
    """The entries of a data file: one a line, ``#`` lines are comments, blank lines are
    skipped, a line ``""`` is the empty string."""
    text = resources.files(__package__).joinpath("data", filename).read_text(encoding="utf-8")
    return tuple(
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def words(name: str) -> tuple[str, ...]:
    """The word list ``bench/data/<name>.txt``."""
    return tuple("" if line == _EMPTY else line for line in _lines(f"{name}.txt"))


def table(name: str) -> tuple[tuple[str, ...], ...]:
    """The rows of the tab-separated list ``bench/data/<name>.tsv``."""
    return tuple(
        tuple("" if cell.strip() == _EMPTY else cell.strip() for cell in line.split("\t"))
        for line in _lines(f"{name}.tsv")
    )


def _grouped(rows: Sequence[tuple[str, ...]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in rows:
        grouped.setdefault(key, []).append(value)
    return grouped


SURNAMES = words("surnames")
FIRST_NAMES = words("first_names")
INDUSTRIES = words("industries")
ADJECTIVES = words("adjectives")
NOUNS = words("nouns")
BRANDS = words("brands")
SYLLABLES_A = words("brand_syllables_a")
SYLLABLES_B = words("brand_syllables_b")
BRAND_KINDS = words("brand_kinds")
LEGAL_SUFFIXES = words("legal_suffixes")
THIRD_PARTY_PAYERS = words("third_party_payers")
SUFFIX_VARIANTS = _grouped(table("legal_suffix_variants"))
ABBREVIATIONS = dict(table("abbreviations"))
BANK_PAYER_PREFIXES = words("bank_payer_prefixes")
BANK_PAYER_MIDDLES = words("bank_payer_middles")
BANK_PAYER_SUFFIXES = words("bank_payer_suffixes")
STATES = words("states")
BANK_DEBITS = table("bank_debits")
SERVICE_COMPANY_HEADS = words("service_company_heads")
SERVICE_COMPANY_TAILS = words("service_company_tails")


# --- the matching book (accuracy, engine scale, matching on PostgreSQL) -----------------------

TODAY = date(2026, 6, 30)
SHORT_PAY_ABSOLUTE = Decimal("1.00")
SHORT_PAY_RATIO = Decimal("0.005")


@dataclass
class Customer:
    id: str
    name: str
    external_id: str | None
    contacts: tuple[str, ...]
    invoices: list[OpenInvoice] = field(default_factory=list)


@dataclass
class Case:
    payment: PaymentInput
    kind: str
    truth: frozenset | None  # invoice ids, None for a payment for no open invoice
    expected_amount: Decimal | None
    unique: bool
    eligible: bool  # recent enough and never unapplied: auto-apply is allowed
    previously_unapplied: bool


@dataclass
class Dataset:
    customers: list[Customer]
    invoices: list[OpenInvoice]
    history: PayerHistory
    cases: list[Case]


def _company_name(rng: random.Random) -> str:
    pattern = rng.random()
    suffix = rng.choice(LEGAL_SUFFIXES)
    if pattern < 0.25:
        base = f"{rng.choice(SURNAMES)} {rng.choice(INDUSTRIES)}"
    elif pattern < 0.35:
        base = f"{rng.choice(SURNAMES)} & Sons {rng.choice(INDUSTRIES)}"
    elif pattern < 0.55:
        base = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(INDUSTRIES)}"
    elif pattern < 0.7:
        brand = (
            rng.choice(BRANDS)
            if rng.random() < 0.4
            else rng.choice(SYLLABLES_A) + rng.choice(SYLLABLES_B)
        )
        base = f"{brand} {rng.choice(BRAND_KINDS)}"
    elif pattern < 0.85:
        base = f"{rng.choice(SURNAMES)} & {rng.choice(SURNAMES)} {rng.choice(INDUSTRIES)}"
    else:
        brand = rng.choice(SYLLABLES_A) + rng.choice(SYLLABLES_B)
        base = (
            f"{brand} {rng.choice(INDUSTRIES)}"
            if rng.random() < 0.5
            else f"{rng.choice(BRANDS)} {brand}"
        )
        suffix = suffix or "Inc."
    return f"{base} {suffix}".strip()


def _identity(name: str) -> str:
    """The generator's own notion of "the same company" (not the engine's normalization)."""
    words = name.lower().replace("&", " and ").replace(".", "").split()
    legal = {
        "inc",
        "llc",
        "corp",
        "corporation",
        "co",
        "ltd",
        "company",
        "incorporated",
        "llp",
        "group",
        "and",
    }
    return " ".join(word for word in words if word not in legal)


def _amount(rng: random.Random) -> Decimal:
    if rng.random() < 0.25:
        return Decimal(
            rng.choice([100, 150, 200, 250, 300, 400, 500, 750, 1000, 1200, 1500, 2000, 2500, 5000])
        )
    cents = int(10 ** rng.uniform(3.7, 6.3))  # 50.00 .. 20,000.00
    return Decimal(cents).scaleb(-2)


def _typo(rng: random.Random, text: str) -> str:
    words = text.split()
    candidates = [i for i, word in enumerate(words) if len(word) >= 5 and word.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    p = rng.randrange(1, len(word) - 1)
    op = rng.random()
    if op < 0.35:
        word = word[:p] + word[p + 1 :]
    elif op < 0.65:
        word = word[:p] + word[p + 1] + word[p] + word[p + 2 :]
    else:
        word = word[:p] + rng.choice("AEIOURSTNL") + word[p + 1 :]
    words[i] = word
    return " ".join(words)


def _payer_name(rng: random.Random, customer: Customer) -> tuple[str, str]:
    """A bank's rendering of the customer's name, and which kind of noise it carries."""
    name = customer.name
    roll = rng.random()
    if roll < 0.17:
        return name, "exact"
    if roll < 0.35:
        return name.upper(), "upper"
    if roll < 0.47:
        words = name.split()
        if words[-1] in SUFFIX_VARIANTS:
            words[-1] = rng.choice(SUFFIX_VARIANTS[words[-1]])
        else:
            words.append(rng.choice(["INC", "LLC", "CORP"]))
        text = " ".join(word for word in words if word)
        return (text.upper() if rng.random() < 0.5 else text), "suffix"
    if roll < 0.56:
        text = " ".join(ABBREVIATIONS.get(word, word) for word in name.split())
        return text.upper(), "abbreviated"
    if roll < 0.66:
        return name.upper()[:18].rstrip(), "truncated"
    if roll < 0.73:
        prefix = rng.choice(
            ["PAYPAL *", "SQ *", "STRIPE *", "ACH CREDIT ", "WIRE FROM ", "ORIG CO NAME "]
        )
        return (prefix + name.upper())[:30].rstrip(), "processor"
    if roll < 0.87:
        text = _typo(rng, name.upper() if rng.random() < 0.5 else name)
        if rng.random() < 0.3:
            text = _typo(rng, text)
        return text, "typo"
    if roll < 0.93:
        contact = rng.choice(customer.contacts)
        first, last = contact.split(" ", 1)
        return (contact.upper() if rng.random() < 0.5 else f"{first[0]} {last}".upper()), "contact"
    return rng.choice(THIRD_PARTY_PAYERS), "third_party"


def _spell(rng: random.Random, number: str) -> str:
    digits = number.split("-", 1)[1]
    short = digits.lstrip("0")
    return rng.choice(
        [
            number,
            f"inv {short}",
            f"INV{digits}",
            f"#{short}",
            f"Invoice {digits}",
            f"Invoice 000{short}",
            short,
            f"Inv. No. {short}",
            f"INVOICE NO {digits}",
            number.lower(),
        ]
    )


def _reference(
    rng: random.Random, numbers: list[str], customer: Customer | None
) -> tuple[str, bool]:
    """A reference naming the numbers (or not); True when it names all of them."""
    parts: list[str] = []
    names_all = bool(numbers) and rng.random() < 0.6
    if names_all:
        spelled = [_spell(rng, number) for number in numbers]
        parts.append(rng.choice(["", "Payment ", "PMT ", "Re: ", "For "]) + ", ".join(spelled))
    elif len(numbers) > 1 and rng.random() < 0.3:
        parts.append(_spell(rng, numbers[0]))
    if customer is not None and customer.external_id and rng.random() < 0.12:
        parts.append(rng.choice(["Cust ", "Acct ", "Customer ID ", ""]) + customer.external_id)
    noise = rng.random()
    if noise < 0.15:
        parts.append(f"PO {rng.randint(1000, 99999)}")
    elif noise < 0.25:
        parts.append(f"CHK {rng.randint(100, 9999)}")
    elif noise < 0.3:
        parts.append("Thank you")
    rng.shuffle(parts)
    return " ".join(parts), names_all


def _subset_count(amounts: list[Decimal], target: Decimal, limit: int = 4) -> int:
    count = 0
    for size in range(1, min(limit, len(amounts)) + 1):
        for combo in itertools.combinations(amounts, size):
            if sum(combo) == target:
                count += 1
    return count


def _tolerance(balance: Decimal) -> Decimal:
    return max(SHORT_PAY_ABSOLUTE, (balance * SHORT_PAY_RATIO).quantize(Decimal("0.01")))


def matching_book(
    *,
    seed: int = 7,
    customers: int = 3000,
    invoices: int | None = None,
    payments: int = 6000,
    labels: bool = True,
) -> Dataset:
    """A seeded receivables book and the payments received against it."""
    from payments.matching import PaymentInput

    rng = random.Random(seed)
    invoice_total = invoices if invoices is not None else customers * 4
    book = _customers(rng, customers)
    contact_owners: dict[str, int] = {}
    for customer in book:
        for contact in customer.contacts:
            contact_owners[contact.upper()] = contact_owners.get(contact.upper(), 0) + 1
    open_invoices, closed_numbers = _invoices(rng, book, invoice_total)
    history = _history(rng, book)
    third_party_payers = {
        customer.id: f"{rng.choice(BRANDS)} {rng.choice(SURNAMES)} HOLDINGS".upper()
        for customer in book
        if rng.random() < 0.05
    }
    for customer_id, payer in third_party_payers.items():
        history.add(payer, customer_id, rng.randint(1, 4))

    unused = list(open_invoices)
    rng.shuffle(unused)
    used: set = set()
    by_customer = {customer.id: customer for customer in book}
    cases: list[Case] = []
    for n in range(payments):
        kind_roll = rng.random()
        payment_date = TODAY - timedelta(days=int(rng.triangular(0, 75, 5)))
        previously_unapplied = rng.random() < 0.02
        if rng.random() < 0.03:
            payment_date = TODAY - timedelta(days=rng.randint(90, 400))
        eligible = not previously_unapplied and (TODAY - payment_date).days < 90

        if kind_roll < 0.14:
            cases.append(
                _no_invoice_payment(
                    rng, n, book, payment_date, closed_numbers, eligible, previously_unapplied
                )
            )
            continue
        anchor = _next_unused(rng, unused, used, open_invoices)
        customer = by_customer[anchor.customer_id]
        truth_invoices = [anchor]
        amount = anchor.open_balance
        kind = "single"
        if kind_roll < 0.28 and sum(i.id not in used for i in customer.invoices) >= 2:
            kind = "multi"
            available = [i for i in customer.invoices if i.id not in used or i is anchor]
            size = rng.randint(2, min(4, len(available)))
            start = rng.randrange(0, len(available) - size + 1)
            if rng.random() < 0.7:
                truth_invoices = available[start : start + size]
            else:
                truth_invoices = sorted(rng.sample(available, size), key=available.index)
            amount = sum((invoice.open_balance for invoice in truth_invoices), Decimal("0"))
        elif kind_roll < 0.38 and anchor.open_balance >= Decimal("20"):
            kind = "partial"
            amount = (anchor.open_balance * Decimal(rng.uniform(0.2, 0.8))).quantize(
                Decimal("0.01")
            )
        elif kind_roll < 0.46:
            kind = "short"
            shortfall = Decimal(rng.randint(1, 100)).scaleb(-2)
            if rng.random() < 0.3:
                shortfall = (anchor.open_balance * Decimal("0.004")).quantize(Decimal("0.01"))
            amount = anchor.open_balance - max(shortfall, Decimal("0.01"))
        used.update(invoice.id for invoice in truth_invoices)

        payer, payer_kind = _payer_name(rng, customer)
        if payer_kind == "third_party" and customer.id in third_party_payers and rng.random() < 0.7:
            payer = third_party_payers[customer.id]
        numbers = [invoice.invoice_number for invoice in truth_invoices]
        reference, names_all = _reference(rng, numbers, customer)
        notes = ""
        if not names_all and numbers and rng.random() < 0.08:
            notes = "remittance: " + ", ".join(_spell(rng, number) for number in numbers)
            names_all = True
        payment = PaymentInput(f"P{n}", amount, payment_date, payer, reference, notes)
        unique = False
        if labels:
            unique = _has_unique_answer(
                customer,
                truth_invoices,
                amount,
                kind,
                payer,
                payer_kind,
                reference,
                names_all,
                history,
                contact_owners,
            )
        cases.append(
            Case(
                payment,
                kind,
                frozenset(invoice.id for invoice in truth_invoices),
                amount
                if kind in ("partial", "short")
                else sum(i.open_balance for i in truth_invoices),
                unique,
                eligible,
                previously_unapplied,
            )
        )
    return Dataset(book, open_invoices, history, cases)


def _customers(rng: random.Random, count: int) -> list[Customer]:
    book: list[Customer] = []
    seen: set[str] = set()
    while len(book) < count:
        name = _company_name(rng)
        identity = _identity(name)
        if identity in seen:
            continue
        seen.add(identity)
        n = len(book) + 1
        contacts = tuple(
            f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
            for _ in range(rng.choice([1, 1, 2, 2, 3]))
        )
        external_id = f"C-{n:05d}" if rng.random() < 0.7 else None
        book.append(Customer(f"cust-{n}", name, external_id, contacts))
    return book


def _invoices(
    rng: random.Random, book: list[Customer], total: int
) -> tuple[list[OpenInvoice], list[str]]:
    """Open invoices, and the numbers of paid ones (the gaps in the numbering)."""
    from payments.matching import OpenInvoice

    weights = [rng.paretovariate(1.6) for _ in book]
    owners = [book[i] for i in range(len(book))]  # every customer has at least one open invoice
    owners += rng.choices(book, weights=weights, k=max(0, total - len(book)))
    seq = 1000
    result: list[OpenInvoice] = []
    closed: list[str] = []
    retainer = {customer.id: _amount(rng) for customer in book if rng.random() < 0.12}
    for customer in owners:
        step = rng.choice([1, 1, 1, 2, 3])  # paid invoices leave gaps in the sequence
        closed.extend(f"INV-{seq + k:06d}" for k in range(1, step))
        seq += step
        issued = TODAY - timedelta(days=rng.randint(0, 200))
        balance = retainer.get(customer.id) or _amount(rng)
        invoice = OpenInvoice(
            id=f"inv-{seq}",
            invoice_number=f"INV-{seq:06d}",
            customer_id=customer.id,
            customer_name=customer.name,
            customer_external_id=customer.external_id,
            contact_names=customer.contacts,
            open_balance=balance,
            issue_date=issued,
            due_date=issued + timedelta(days=30),
        )
        customer.invoices.append(invoice)
        result.append(invoice)
    for customer in book:
        customer.invoices.sort(key=lambda invoice: (invoice.issue_date, invoice.invoice_number))
    return result, closed


def _history(rng: random.Random, book: list[Customer]) -> PayerHistory:
    from payments.matching import PayerHistory

    history = PayerHistory()
    for customer in book:
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 4)):
                payer, kind = _payer_name(rng, customer)
                if kind != "third_party":
                    history.add(payer, customer.id)
    return history


def _next_unused(
    rng, unused: list[OpenInvoice], used: set, everything: list[OpenInvoice]
) -> OpenInvoice:
    while unused:
        invoice = unused.pop()
        if invoice.id not in used:
            return invoice
    return rng.choice(everything)  # scale runs: more payments than invoices


def _no_invoice_payment(
    rng, n, book, payment_date, closed_numbers, eligible, previously_unapplied
) -> Case:
    from payments.matching import PaymentInput

    customer = rng.choice(book)
    roll = rng.random()
    if roll < 0.45:  # pays again an invoice that is already paid, naming it
        number = rng.choice(closed_numbers)
        if customer.invoices and rng.random() < 0.5:
            amount = rng.choice(customer.invoices).open_balance  # a recurring amount
        else:
            amount = _amount(rng)
        payer, _ = _payer_name(rng, customer)
        reference = rng.choice([number, f"Invoice {number}", f"inv {number.split('-')[1]}"])
    elif roll < 0.75:  # a deposit or prepayment from a known customer
        amount = _amount(rng) + Decimal(rng.randint(1, 99)).scaleb(-2)
        payer, _ = _payer_name(rng, customer)
        reference = rng.choice(["DEPOSIT", "PREPAYMENT", "", f"PO {rng.randint(1000, 9999)}"])
    else:  # someone else's money
        amount = _amount(rng)
        payer = (
            f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}".upper()
            if rng.random() < 0.5
            else rng.choice(THIRD_PARTY_PAYERS)
        )
        reference = rng.choice(["", "REFUND", f"REF {rng.randint(10000, 99999)}"])
    payment = PaymentInput(f"P{n}", amount, payment_date, payer, reference, "")
    return Case(payment, "no_invoice", None, None, False, eligible, previously_unapplied)


def _has_unique_answer(
    customer: Customer,
    truth: list[OpenInvoice],
    amount: Decimal,
    kind: str,
    payer: str,
    payer_kind: str,
    reference: str,
    names_all: bool,
    history: PayerHistory,
    contact_owners: dict[str, int],
) -> bool:
    if names_all:
        return True
    if kind == "partial":
        return False
    recognisable = payer_kind not in ("contact", "third_party")
    if payer_kind == "contact":
        recognisable = (
            contact_owners.get(payer, 0) == 1 and " " in payer and len(payer.split()[0]) > 1
        )
    if customer.external_id and customer.external_id in reference:
        recognisable = True
    if any(customer_id == customer.id for customer_id, _ in history.customers_for(payer)):
        recognisable = True
    if not recognisable:
        return False
    balances = [invoice.open_balance for invoice in customer.invoices[:30]]
    if kind == "short":
        close = [b for b in balances if Decimal("0") < b - amount <= _tolerance(b)]
        return len(close) == 1 and _subset_count(balances, amount) == 0
    if len(truth) > 4:
        return False
    return _subset_count(balances, amount) == 1


# --- bank CSV exports (bench.gen_bank_csv, bench.import_csv) -----------------------------------


def bank_payer_names(count: int, rng: random.Random) -> list[str]:
    """Distinct plausible company names ("Acme Pacific Logistics", "Hooli Labs of Ohio")."""
    names: set[str] = set()
    while len(names) < count:
        name = " ".join(
            part
            for part in (
                rng.choice(BANK_PAYER_PREFIXES),
                rng.choice(BANK_PAYER_MIDDLES),
                rng.choice(BANK_PAYER_SUFFIXES),
            )
            if part
        )
        if len(names) > count // 2 and len(names) > 4000:
            name += f" of {rng.choice(STATES)}"
        names.add(name)
    return sorted(names)


def invoice_spelling(number: int, rng: random.Random) -> str:
    """An invoice number as a payer might write it."""
    return rng.choice(
        [
            f"INV-{number}",
            f"Inv {number}",
            f"invoice#{number:07d}",
            f"INV{number}",
            f"Invoice {number}",
            f"inv.{number}",
            f"#{number}",
            f"INV-{number:06d}",
        ]
    )


def _bank_reference(rng: random.Random, invoices: Sequence[int]) -> str:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(["PAYMENT", "AP PAYMNT", "REMITTANCE", "THANK YOU"])
    if roll < 0.20 and len(invoices) > 1:
        picked = rng.sample(list(invoices), k=min(len(invoices), rng.randint(2, 3)))
        return " ".join(invoice_spelling(number, rng) for number in picked)
    return invoice_spelling(rng.choice(invoices), rng)


def _description(payer: str, reference: str, method: str, rng: random.Random) -> str:
    if method == "ach":
        return (
            f"ORIG CO NAME:{payer.upper()} ORIG ID:{rng.randint(10**9, 10**10 - 1)} "
            f"DESC DATE:{rng.randint(240101, 241231)} CO ENTRY DESCR:PAYMENT SEC:CCD IND ID:{reference}"
        )
    if method == "wire":
        return (
            f"FEDWIRE CREDIT VIA: WELLS FARGO BANK/121000248 B/O: {payer.upper()} REF: {reference}"
        )
    return f"REMOTE ONLINE DEPOSIT {payer} {reference}"


def generate_csv(
    rows: int,
    *,
    seed: int = 7,
    style: str = "us",
    debit_share: float = 0.15,
    with_ids: bool = True,
    payers: Sequence[str] | None = None,
    invoice_numbers: Sequence[int] | None = None,
    start: date = date(2024, 1, 2),
) -> bytes:
    """The bytes of a CSV export with ``rows`` transaction lines (plus a header line)."""
    rng = random.Random(seed)
    payers = list(payers or bank_payer_names(max(50, rows // 20), rng))
    invoices = list(invoice_numbers or range(1000, 1000 + max(100, rows)))
    eu = style == "eu"
    delimiter = ";" if eu else ","
    header = (
        [
            "Booking date",
            "Amount",
            "Currency",
            "Counterparty name",
            "Remittance information",
            "Transaction ID",
        ]
        if eu
        else ["Posting Date", "Description", "Amount", "Payee", "Reference", "Transaction ID"]
    )
    if not with_ids:
        header = header[:-1]
    lines = [delimiter.join(header)]
    day = start
    for index in range(rows):
        if rng.random() < 0.02:
            day += timedelta(days=1 if day.weekday() < 4 else 3)
        debit = rng.random() < debit_share
        cents = rng.randint(1_500, 5_000_000) if not debit else -rng.randint(500, 2_000_000)
        amount = Decimal(cents).scaleb(-2)
        if debit:
            description, method = rng.choice(BANK_DEBITS)
            payer, reference = "", description
        else:
            payer = rng.choice(payers)
            reference = _bank_reference(rng, rng.sample(invoices, k=3))
            method = rng.choice(["ach", "ach", "ach", "wire", "check"])
            description = _description(payer, reference, method, rng)
        tx_id = f"{day:%Y%m%d}{index:08d}"
        if eu:
            text_amount = f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
            cells = [f"{day:%d.%m.%Y}", text_amount, "EUR", payer, reference, tx_id]
        else:
            text_amount = f"{amount:,.2f}"
            cells = [f"{day:%m/%d/%Y}", description, text_amount, payer, reference, tx_id]
        if not with_ids:
            cells = cells[:-1]
        lines.append(delimiter.join(_quote(cell, delimiter) for cell in cells))
    return ("\r\n".join(lines) + "\r\n").encode()


def _quote(cell: str, delimiter: str) -> str:
    if delimiter in cell or '"' in cell or "," in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


# --- the invoice-list book (bench.generate: bulk COPY) ----------------------------------------

# (status, share): paid and pending dominate, as in a live receivables book.
STATUS_MIX = [
    ("paid", 40),
    ("pending", 30),
    ("overdue", 20),
    ("partial", 8),
    ("draft", 1),
    ("void", 1),
]


def list_customer_name(n: int) -> str:
    return f"Bench Customer {n:06d} Inc"


def list_invoices(
    count: int, today: date, rng: random.Random
) -> Iterator[tuple[str, date, date, Decimal, Decimal]]:
    """``count`` invoices as (status, issue date, due date, amount, amount due): overdue ones
    are past due, the others are not; paid ones owe nothing, partial ones half."""
    statuses = [status for status, share in STATUS_MIX for _ in range(share)]
    for _ in range(count):
        status = rng.choice(statuses)
        issue = today - timedelta(days=rng.randrange(0, 365))
        amount = Decimal(rng.randrange(1_000, 5_000_000)) / 100
        if status == "overdue":
            due = min(issue + timedelta(days=30), today - timedelta(days=1))
            issue = min(issue, due)
        else:
            due = max(issue + timedelta(days=30), today + timedelta(days=1))
        amount_due = {
            "paid": Decimal("0.00"),
            "partial": (amount / 2).quantize(Decimal("0.01")),
        }.get(status, amount)
        yield status, issue, due, amount, amount_due


# --- the service-seeded books (bench.api_load, bench.review_queue) ----------------------------


def service_customer_names(count: int) -> list[str]:
    """``count`` customer names ("Blue Ridge Logistics LLC"), numbered once the word pairs
    run out ("Blue Ridge Logistics LLC 2")."""
    names = [f"{a} {b}" for b in SERVICE_COMPANY_TAILS for a in SERVICE_COMPANY_HEADS]
    result = []
    for index in range(count):
        name = names[index % len(names)]
        if index >= len(names):
            name = f"{name} {index // len(names) + 1}"
        result.append(name)
    return result


def service_invoices(
    count: int, today: date, *, seed: int = 7
) -> Iterator[tuple[int, str, Decimal, date, date]]:
    """``count`` overdue invoices as (number from 1, invoice number, amount, issue date, due
    date); invoice ``number`` belongs to customer ``number % customers``."""
    rng = random.Random(seed)
    for number in range(1, count + 1):
        issued = today - timedelta(days=35 + number % 60)
        amount = Decimal(rng.randrange(5_000, 500_000)) / 100
        yield number, f"INV-{number:06d}", amount, issued, issued + timedelta(days=30)


@dataclass
class ReviewCustomer:
    name: str
    external_id: str
    contact_name: str
    email: str
    invoices: list[tuple[str, Decimal, date, date]]  # number, amount, issue date, due date
    payment_date: date

    @property
    def payment_amount(self) -> Decimal:
        """The payment pays the first two invoices."""
        return self.invoices[0][1] + self.invoices[1][1]

    @property
    def payer_reference(self) -> str:
        return f"{self.invoices[0][0]} {self.invoices[1][0]}"


def review_book(count: int, today: date) -> list[ReviewCustomer]:
    """``count`` customers with three invoices each and one payment (by ACH, payer the
    upper-cased name) for the first two, naming both: a review queue of ``count`` rows."""
    return [
        ReviewCustomer(
            name=f"Bench Customer {index:03d} Inc",
            external_id=f"BC-{index:04d}",
            contact_name=f"Payer {index}",
            email=f"ap{index}@bench.example",
            invoices=[
                (
                    f"BQ-{index:03d}-{n}",
                    Decimal(100 + index + n * 25),
                    today - timedelta(days=30 + n * 10),
                    today - timedelta(days=n * 10),
                )
                for n in range(3)
            ],
            payment_date=today - timedelta(days=index % 7),
        )
        for index in range(count)
    ]
