"""Text normalization for matching: invoice numbers, external ids, company and person names."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz.distance import Levenshtein

from arpilot.money import MILL, money_value

# Words that introduce an invoice number; stripped from the front of a number ("INV-1042").
INVOICE_WORDS = ("INVOICENO", "INVOICES", "INVOICE", "INVNUM", "INVNO", "INVS", "INV", "BILL")
# Words that may sit between the invoice word and the digits ("Invoice No. 1042").
NUMBER_WORDS = ("NUMBER", "NUM", "NO", "NR")
_PREFIXES = INVOICE_WORDS + NUMBER_WORDS
_MARKER_TOKENS = frozenset(_PREFIXES)
_PREFIX_RE = re.compile("(?:" + "|".join(_PREFIXES) + ")+")
# Words that introduce some other number ("PO 5512", "CHK 1042"): what follows is no invoice.
_OTHER_NUMBER_WORDS = frozenset(
    [
        "PO",
        "PURCHASE",
        "ORDER",
        "CHK",
        "CHECK",
        "CHEQUE",
        "CK",
        "ACCT",
        "ACCOUNT",
        "ACC",
        "CUST",
        "CUSTOMER",
        "ID",
        "TEL",
        "PHONE",
        "TRACE",
        "ROUTING",
        "RTN",
        "ABA",
        "BATCH",
        "SEQ",
    ]
)
_INVOICE_MARKERS = frozenset(INVOICE_WORDS)

_ALNUM_RE = re.compile(r"[A-Za-z0-9]+")
_NON_ALNUM_RE = re.compile(r"[^A-Z0-9]+")
_DIGIT_RE = re.compile(r"\d")
# Separators allowed inside one spelled invoice number ("INV - 2024/0017", "Inv. No. 1042").
_JOIN_SEPARATOR_RE = re.compile(r"^[\s\-_/:.]{0,3}$")


def to_cents(amount: Decimal) -> int:
    """Whole thousandths of a Decimal amount (rounded half up to three places: every
    currency's smallest unit is a whole number of them, BHD's 0.001 included). The engine's
    integer money; named for the cents it held when amounts had two places."""
    return int(amount.quantize(MILL, rounding=ROUND_HALF_UP).scaleb(3))


def from_cents(cents: int) -> Decimal:
    """The Decimal amount of whole thousandths, with the places it needs and at least two
    (``12340`` → ``12.34``, ``12345`` → ``12.345``)."""
    return money_value(Decimal(cents).scaleb(-3))


def invoice_number_key(text: str) -> str:
    """Canonical key of an invoice number: "INV-01042", "inv 1042", "#1042", "Invoice 0001042" → "1042"."""
    return _key_of_alnum(_NON_ALNUM_RE.sub("", text.upper()))


def _key_of_alnum(key: str) -> str:
    prefix = _PREFIX_RE.match(key)
    if prefix and prefix.end() < len(key):
        key = key[prefix.end() :]
    key = key.lstrip("0")
    return key if _DIGIT_RE.search(key) else ""


def external_id_key(text: str) -> str:
    """Canonical key of a customer's external id: "C-0042", "c 0042" → "C0042"."""
    return _NON_ALNUM_RE.sub("", text.upper())


class NumberMention(NamedTuple):
    """A run of text that may spell an invoice number or an external id."""

    key: str  # invoice_number_key of the run
    raw_key: str  # external_id_key of the run (prefix words kept)
    explicit: bool  # introduced by an invoice word or "#", or spelled with the invoice's letters
    text: str  # the run as written
    start: int  # index of the run's first token
    marked: bool  # introduced by an invoice word or "#" ("INV 1042", "#1042", "INV1042")
    other: bool  # introduced by a word naming another kind of number ("PO 5512", "CHK 1042")


def number_mentions(text: str | None) -> tuple[NumberMention, ...]:
    """Every run of one to three adjacent alphanumeric tokens, as possible invoice numbers."""
    if not text or not _DIGIT_RE.search(text):
        return ()
    matches = list(_ALNUM_RE.finditer(text))
    words = [match.group().upper() for match in matches]
    count = len(words)
    has_digit = [not word.isalpha() for word in words]
    joins = [False] * count  # token j may continue the run of token j - 1
    hashed = [False] * count  # "#" right before token j
    previous_end = 0
    for j, match in enumerate(matches):
        start = match.start()
        hashed[j] = text[max(0, start - 2) : start].strip().endswith("#")
        if j:
            separator = text[previous_end:start]
            # "1,042.50" must not read as invoice 104250: no dot between two digit runs.
            joins[j] = bool(_JOIN_SEPARATOR_RE.match(separator)) and not (
                "." in separator and words[j - 1].isdigit() and words[j].isdigit()
            )
        previous_end = match.end()
    found: dict[tuple[str, str], NumberMention] = {}
    for i in range(count):
        first = words[i]
        if not has_digit[i] and (len(first) > 3 or first in _MARKER_TOKENS):
            continue  # words are no numbers; "A" of "A-1042" may be
        if first in _OTHER_NUMBER_WORDS:
            continue
        marked = hashed[i] or _marker_before(words, joins, i) or _starts_with_invoice_word(first)
        other = not marked and i > 0 and words[i - 1] in _OTHER_NUMBER_WORDS
        raw_key = ""
        for j in range(i, min(i + 3, count)):
            if j > i and not (joins[j] and has_digit[j]):
                break
            raw_key += words[j]
            key = _key_of_alnum(raw_key)
            if not key:
                continue
            explicit = marked or not key.isdigit()
            previous = found.get((key, raw_key))
            if previous is None or (explicit and not previous.explicit):
                written = text[matches[i].start() : matches[j].end()]
                found[(key, raw_key)] = NumberMention(
                    key, raw_key, explicit, written, i, marked, other
                )
    return tuple(found.values())


def _marker_before(words: list[str], joins: list[bool], i: int) -> bool:
    """An invoice word ("INV", "Invoice No.") right before token i."""
    k = i - 1
    while k >= 0 and i - k <= 3:
        if not joins[k + 1]:
            return False
        word = words[k]
        if word in _INVOICE_MARKERS or word.startswith("INV"):
            return True
        if word not in _MARKER_TOKENS:
            return False
        k -= 1
    return False


def _starts_with_invoice_word(token: str) -> bool:
    return any(token.startswith(word) and token[len(word) :].isdigit() for word in INVOICE_WORDS)


# ---------------------------------------------------------------------------------------------
# Names

# Leading words banks put before the payer's name ("ACH CREDIT ACME CORP", "WIRE FROM ACME").
_BANK_NOISE_WORDS = frozenset(
    [
        "ACH",
        "CREDIT",
        "CR",
        "DEP",
        "DEPOSIT",
        "WIRE",
        "WT",
        "TRANSFER",
        "XFER",
        "TRF",
        "FROM",
        "PAYMENT",
        "PMT",
        "PYMT",
        "ONLINE",
        "ORIG",
        "EFT",
        "INCOMING",
        "BY",
        "RECEIVED",
    ]
)
# Spelling variants and bank abbreviations, mapped to one canonical token.
_CANONICAL = {
    "CORPORATION": "CORP",
    "CORPORATIO": "CORP",
    "CORPORAT": "CORP",
    "CORPN": "CORP",
    "CRP": "CORP",
    "COR": "CORP",
    "INCORPORATED": "INC",
    "INCORP": "INC",
    "COMPANY": "CO",
    "COMPANIES": "COS",
    "CMPNY": "CO",
    "LIMITED": "LTD",
    "LTDA": "LTD",
    "BROTHERS": "BROS",
    "BROS": "BROS",
    "ASSOCIATES": "ASSOC",
    "ASSOCS": "ASSOC",
    "ASSN": "ASSOC",
    "SERVICES": "SVCS",
    "SERVICE": "SVC",
    "SVCES": "SVCS",
    "MANUFACTURING": "MFG",
    "INTERNATIONAL": "INTL",
    "INDUSTRIES": "INDS",
    "MANAGEMENT": "MGMT",
    "TECHNOLOGIES": "TECH",
    "TECHNOLOGY": "TECH",
    "DISTRIBUTION": "DIST",
    "DISTRIBUTORS": "DIST",
    "ENTERPRISES": "ENT",
    "HOLDINGS": "HLDGS",
    "CONSTRUCTION": "CONSTR",
    "SOLUTIONS": "SOLNS",
    "LABORATORIES": "LABS",
    "PARTNERS": "PTNRS",
    "SUPPLIES": "SUPPLY",
    "AND": "AND",
    "N": "AND",
}
_LEGAL_SUFFIXES = frozenset(
    [
        "CORP",
        "INC",
        "CO",
        "COS",
        "LTD",
        "LLC",
        "LLP",
        "LP",
        "PLC",
        "PC",
        "PLLC",
        "GMBH",
        "AG",
        "SA",
        "NV",
        "BV",
        "PTY",
        "THE",
        "AND",
    ]
)
# Long legal suffixes, recognised at the end of a name even when misspelt ("INCORPORAED").
_LONG_SUFFIXES = ("CORPORATION", "INCORPORATED", "COMPANY", "LIMITED")
# Names banks put where the payer's name should be: no evidence of who paid.
_GENERIC_PAYER_WORDS = frozenset(
    [
        "BANK",
        "BANKING",
        "NATIONAL",
        "FIRST",
        "DEPOSIT",
        "MOBILE",
        "CHECK",
        "CHECKS",
        "ONLINE",
        "TRANSFER",
        "BILL",
        "PAY",
        "PAYMENT",
        "PAYMENTS",
        "SERVICE",
        "SVC",
        "REMOTE",
        "CASH",
        "ACH",
        "WIRE",
        "ZELLE",
        "VENMO",
        "CREDIT",
        "REFUND",
        "MISC",
        "UNKNOWN",
    ]
)


@dataclass(frozen=True, slots=True)
class NameForm:
    """A name in three strengths of normalization."""

    simple: str  # upper case, "&" as AND, punctuation dropped: for truncation checks
    full: str  # canonical tokens ("ACME CORP"): the history key
    core: str  # without legal suffixes and "AND" ("ACME"): what is fuzzy-compared
    tokens: tuple[str, ...]  # tokens of core
    informative: bool  # says who paid: not empty, not only bank words ("FIRST NATIONAL BANK")

    def __reduce__(self) -> tuple:
        return by_fields(self)


def by_fields(item) -> tuple:
    """How a frozen data class of the engine pickles and copies: rebuilt from its fields.
    Compiled by mypyc, a frozen class refuses the attribute assignments the default
    reduction restores it with (``payments.matching.compiled``)."""
    return (type(item), tuple(getattr(item, each.name) for each in fields(item)))


_EMPTY = NameForm("", "", "", (), False)


@lru_cache(maxsize=200_000)
def name_form(name: str | None) -> NameForm:
    """Normalized forms of a payer, customer or contact name."""
    if not name:
        return _EMPTY
    text = name.upper()
    if "*" in text:  # card processors: "PAYPAL *NORTHWIND", "SQ *ACME CORP"
        text = text.rsplit("*", 1)[1] or text.replace("*", " ")
    text = text.replace("&", " AND ").replace("'", "").replace("\u2019", "")
    words = _NON_ALNUM_RE.sub(" ", text).split()
    while len(words) > 1 and words[0] in _BANK_NOISE_WORDS:
        words.pop(0)
    words = _join_initials(words)
    simple = " ".join(words)
    canonical = [_CANONICAL.get(word, word) for word in words]
    if len(canonical) > 1:
        canonical[-1] = _misspelt_suffix(canonical[-1]) or canonical[-1]
    core_tokens = tuple(word for word in canonical if word not in _LEGAL_SUFFIXES)
    if not core_tokens:
        core_tokens = tuple(canonical)
    core = " ".join(core_tokens)
    informative = len(core) - core.count(" ") >= 3 and not all(
        token in _GENERIC_PAYER_WORDS for token in core_tokens
    )
    return NameForm(simple, " ".join(canonical), core, core_tokens, informative)


def _misspelt_suffix(word: str) -> str | None:
    """The canonical legal suffix a misspelt long one stands for ("INCORPORAED" → "INC")."""
    if len(word) < 6 or word in _LEGAL_SUFFIXES:
        return None
    for suffix in _LONG_SUFFIXES:
        if Levenshtein.distance(word, suffix, score_cutoff=2) <= 2:
            return _CANONICAL[suffix]
    return None


def _join_initials(words: list[str]) -> list[str]:
    """ "L L C" → "LLC", "A B C SUPPLY" → "ABC SUPPLY"."""
    if not any(len(word) == 1 for word in words):
        return words
    joined: list[str] = []
    run = ""
    for word in words:
        if len(word) == 1 and word.isalpha():
            run += word
            continue
        if run:
            joined.append(run)
            run = ""
        joined.append(word)
    if run:
        joined.append(run)
    return joined


def deletion_variants(token: str) -> set[str]:
    """The token with one character removed (symmetric-delete blocking keys for typos)."""
    return {token[:i] + token[i + 1 :] for i in range(len(token))}


# --- payer accounts ---------------------------------------------------------------------------

# An IBAN: two letters (the country), two check digits, up to 30 letters and digits.
_IBAN_RE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
# Payer history keys of accounts: a name's key is upper-case words, so none looks like this.
ACCOUNT_KEY_PREFIX = "account:"


def account_normalize(text: str | None) -> str:
    """A payer's account as stored and compared: upper case, letters and digits only
    ("de89 3704 0044 0532 0130 00" → "DE89370400440532013000"); "" for none."""
    return _NON_ALNUM_RE.sub("", (text or "").upper())


def looks_like_iban(account: str) -> bool:
    """A normalized account shaped like an IBAN (country letters, then check digits)."""
    return bool(_IBAN_RE.fullmatch(account))


def iban_valid(account: str) -> bool:
    """The IBAN's ISO 13616 mod-97 check: the first four characters moved to the end,
    letters as 10-35, the number modulo 97 is 1."""
    if not looks_like_iban(account):
        return False
    moved = account[4:] + account[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def account_key(account: str | None) -> str:
    """The payer-history key of an account ("account:DE89…"); "" for none."""
    normalized = account_normalize(account)
    return f"{ACCOUNT_KEY_PREFIX}{normalized}"[:255] if normalized else ""
