"""Text helpers: payer names inside bank descriptions, payment methods, normalisation."""

from __future__ import annotations

import re

_PAYER_PATTERNS = [
    # Chase/NACHA-style ACH descriptions: "ORIG CO NAME:ACME CORP ORIG ID:123 ..."
    re.compile(
        r"ORIG(?:INATOR)? CO(?:MPANY)? NAME\s*[:=]\s*(.+?)(?:\s+(?:ORIG ID|CO ENTRY|DESC DATE|SEC|IND ID|IND NAME|TRN)\b|$)",
        re.I,
    ),
    # Wires: "... B/O: ACME CORP REF: ..." or "BY ORDER OF: ..."
    # Real-time payments: "ORIGINATOR: =ACME CO ; ORG ADDRESS:=1 MAIN ST ; ..." (name field only)
    re.compile(
        r"\b(?:B/O|BY ORDER OF|ORIGINATOR|ORG)\s*[:=][\s:=]*(.+?)(?:\s*;|\s+(?:REF|OBI|BBI|ID|ADDR|ADDRESS|BNF|B/O|IMAD|OMAD|ORG ADDRESS|ORG ADDR|ORG ID|ORIGINATOR ADDRESS)\b\s*[:=]?|\s{2,}|$)",
        re.I,
    ),
]

# Keywords (single words or two-word phrases, upper case) naming a payment method, by priority.
_METHOD_KEYWORDS = [
    (
        "check",
        {
            "CHECK",
            "CHEQUE",
            "CHK",
            "CHQ",
            "LOCKBOX",
            "DSLIP",
            "REMOTE DEPOSIT",
            "REMOTE ONLINE DEPOSIT",
            "MOBILE DEPOSIT",
        },
    ),
    ("wire", {"WIRE", "FEDWIRE", "SWIFT", "CHIPS"}),
    ("ach", {"ACH", "CCD", "CTX", "PPD", "DIRECTDEP", "DIRECT DEP", "DIRECT DEPOSIT"}),
    ("card", {"CARD", "VISA", "MASTERCARD", "AMEX", "DISCOVER", "POS", "STRIPE", "MERCHANT"}),
    ("direct_debit", {"SDD", "LASTSCHRIFT", "DIRECT DEBIT"}),
    (
        "transfer",
        {
            "SEPA",
            "SCT",
            "TRANSFER",
            "XFER",
            "BACS",
            "FPS",
            "GIRO",
            "ZELLE",
            "RTP",
            "FASTER PAYMENT",
        },
    ),
    ("cash", {"CASH"}),
]
_WORD_RANK = {
    keyword: rank
    for rank, (_method, keywords) in enumerate(_METHOD_KEYWORDS)
    for keyword in keywords
    if " " not in keyword
}
_KEYWORD_WORDS = frozenset(_WORD_RANK)
_PHRASE_RANK = [
    (keyword, rank)
    for rank, (_method, keywords) in enumerate(_METHOD_KEYWORDS)
    for keyword in keywords
    if " " in keyword
]
_WORD = re.compile(r"[A-Z]+")
_method_cache: dict[str, str | None] = {}


def clean(value: str | None) -> str:
    """Collapse whitespace; None becomes ''."""
    if not value:
        return ""
    return " ".join(value.split())


def payer_from_description(description: str) -> str:
    """The payer's name when a bank description spells it out (ACH and wire formats)."""
    if not description or (":" not in description and "=" not in description):
        return ""
    for pattern in _PAYER_PATTERNS:
        match = pattern.search(description)
        if match:
            return clean(match.group(1)).strip(" ,;/=:")
    return ""


def method_from_text(*texts: str | None) -> str | None:
    """A payment method ("ach", "wire", "check", "card", ...) named in free text."""
    for text in texts:
        if not text:
            continue
        if len(text) <= 40:
            if text not in _method_cache:
                if len(_method_cache) > 10000:
                    _method_cache.clear()
                _method_cache[text] = _method_in(text)
            method = _method_cache[text]
        else:
            method = _method_in(text)
        if method:
            return method
    return None


def _method_in(text: str) -> str | None:
    upper = text.upper()
    hits = _KEYWORD_WORDS.intersection(_WORD.findall(upper))
    best = min((_WORD_RANK[word] for word in hits), default=len(_METHOD_KEYWORDS))
    for phrase, rank in _PHRASE_RANK:
        if rank < best and phrase in upper:
            best = rank
    return _METHOD_KEYWORDS[best][0] if best < len(_METHOD_KEYWORDS) else None


def join_distinct(*parts: str | None) -> str:
    """Join non-empty parts with ' / ', leaving out repeats and parts already contained."""
    kept: list[str] = []
    for part in parts:
        if not part:
            continue
        part = " ".join(part.split())
        if not part:
            continue
        if not kept:
            kept.append(part)
        elif not any(part in existing for existing in kept):
            kept = [existing for existing in kept if existing not in part]
            kept.append(part)
    return " / ".join(kept)
