"""Remittance advice read into lines: which invoices a payment pays, how much of each, and
what the payer deducted.

Remittance arrives apart from the payment, in three shapes:

* a CSV export (a spreadsheet saved as CSV; any delimiter): a header naming the invoice
  column ("invoice", "invoice no", "document", "reference", …) and the amount paid
  ("amount paid", "paid", "payment", "net", "amount"), optionally the invoice's gross amount
  and a deduction or discount column;
* CAMT.053 (ISO 20022 bank statement): the structured remittance of each transaction,
  ``RmtInf/Strd`` with ``RfrdDocInf/Nb`` and ``RfrdDocAmt`` (``RmtdAmt``, ``DuePyblAmt``,
  ``DscntApldAmt``, ``AdjstmntAmtAndRsn/Amt``) per document;
* the text of an email: each line naming an invoice ("INV-1042", "Invoice 1042",
  "#1042") and an amount ("1,250.00", "$1,250.00"), perhaps a deduction ("less 25.00").

Amounts are read exactly with the bank-file parser (``importers.money.parse_amount``: a
grouped or ambiguous number is refused, never rescaled); a line that cannot be read exactly
is rejected with its line number and the reason, never guessed. Pure Python: no models.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal

from defusedxml import ElementTree

from payments.importers.csv_format import decode_text, normalise_header, sniff_delimiter
from payments.importers.money import AmountError, parse_amount, parse_xml_decimal
from payments.matching.normalize import number_mentions

MAX_LINES = 5_000

INVOICE_HEADERS = (
    "invoice",
    "invoice no",
    "invoice number",
    "invoice nr",
    "invoice ref",
    "invoice reference",
    "inv",
    "inv no",
    "inv number",
    "document",
    "document no",
    "document number",
    "doc no",
    "reference",
    "ref",
    "your reference",
    "bill",
    "bill no",
)
PAID_HEADERS = (
    "amount paid",
    "paid amount",
    "paid",
    "payment",
    "payment amount",
    "net",
    "net amount",
    "net paid",
    "remitted",
    "amount remitted",
    "amount",
)
GROSS_HEADERS = ("invoice amount", "gross", "gross amount", "original amount", "amount due")
DEDUCTION_HEADERS = (
    "deduction",
    "deductions",
    "deduction amount",
    "discount",
    "discount taken",
    "adjustment",
    "short pay",
    "short paid",
)
REASON_HEADERS = ("reason", "deduction reason", "reason code", "comment", "remarks")


class RemittanceError(ValueError):
    """The advice cannot be read at all (no invoice column, not XML, nothing found)."""


@dataclass(frozen=True, slots=True)
class RemittanceLine:
    """One invoice the advice names: what was paid on it and what was deducted."""

    line_number: int  # 1-based line (CSV row, text line) or document number in the XML
    reference: str  # the invoice reference as written
    amount: Decimal | None  # paid on it; None: the advice gives no amount for it
    deduction: Decimal = Decimal("0.00")
    reason: str = ""


@dataclass
class Remittance:
    format: str  # csv, camt053, text
    lines: list[RemittanceLine] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def total(self) -> Decimal:
        return sum((line.amount or Decimal(0) for line in self.lines), Decimal("0.00"))


def parse_remittance(data: bytes | str, filename: str = "") -> Remittance:
    """Read remittance advice: CAMT.053 XML, a CSV table or free text (by content, the
    file name breaking a tie). Raises ``RemittanceError`` when nothing can be read."""
    text = data if isinstance(data, str) else decode_text(data)
    if "\x00" in text:
        raise RemittanceError(
            "This is not text (it holds NUL bytes): send a CSV, a CAMT.053 file or the "
            "text of the email."
        )
    head = text.lstrip()[:2000]
    if (head.startswith("<") and "camt.053" in head) or "<BkToCstmrStmt" in head:
        return parse_camt053(text)
    if head.startswith("<"):
        raise RemittanceError("This XML is not a CAMT.053 statement.")
    delimiter = sniff_delimiter(text)
    if delimiter is not None and (filename.lower().endswith((".csv", ".txt")) or filename == ""):
        try:
            return parse_csv(text, delimiter)
        except RemittanceError:
            if filename.lower().endswith(".csv"):
                raise
    return parse_text(text)


# --- CSV --------------------------------------------------------------------------------------


def _column(headers: list[str], names: tuple[str, ...], used: set[int]) -> int | None:
    for name in names:
        for index, header in enumerate(headers):
            if index not in used and header == name:
                used.add(index)
                return index
    return None


def parse_csv(text: str, delimiter: str = ",") -> Remittance:
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise RemittanceError(f"The CSV cannot be read: {exc}") from None
    header_at = None
    for number, row in enumerate(rows[:20]):
        headers = [normalise_header(cell) for cell in row]
        used: set[int] = set()
        invoice = _column(headers, INVOICE_HEADERS, used)
        gross = _column(headers, GROSS_HEADERS, used)
        deduction = _column(headers, DEDUCTION_HEADERS, used)
        paid = _column(headers, PAID_HEADERS, used)
        reason = _column(headers, REASON_HEADERS, used)
        if invoice is not None and (paid is not None or gross is not None):
            header_at = number
            break
    if header_at is None:
        raise RemittanceError(
            "No header names an invoice column and an amount column "
            "(e.g. 'Invoice' and 'Amount paid')."
        )
    result = Remittance("csv")
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(result.lines) + len(result.rejected) >= MAX_LINES:
            result.rejected.append((number, f"more than {MAX_LINES} lines: the rest is not read"))
            break

        def cell(index: int | None, row=row) -> str:
            return row[index].strip() if index is not None and index < len(row) else ""

        reference = cell(invoice)
        if not reference:
            result.rejected.append((number, "no invoice reference"))
            continue
        try:
            amounts = {
                name: _amount(cell(index))
                for name, index in (("paid", paid), ("gross", gross), ("deduction", deduction))
            }
        except AmountError as exc:
            result.rejected.append((number, f"amount: {exc}"))
            continue
        line = _line(number, reference, cell(reason), **amounts)
        if isinstance(line, str):
            result.rejected.append((number, line))
        else:
            result.lines.append(line)
    return result


_WHOLE = re.compile(r"[-+]?\d{1,12}")


def _amount(text: str) -> Decimal | None:
    if not text:
        return None
    if _WHOLE.fullmatch(text.strip()):  # "1500": whole units, whatever the decimal mark
        return Decimal(text.strip()).quantize(Decimal("0.01"))
    value, _ = parse_amount(text, None)
    return value


def _line(number, reference, reason, *, paid, gross, deduction) -> RemittanceLine | str:
    """A line from what the row gives; a string says why it is refused."""
    if deduction is not None:
        deduction = abs(deduction)  # "-25.00" and "25.00" both say 25.00 was deducted
    if paid is None and gross is not None:
        paid = gross - (deduction or 0)
    if paid is not None and gross is not None and deduction is None:
        deduction = gross - paid if gross > paid else None
    both = paid is not None and gross is not None and deduction is not None
    if both and gross - deduction != paid:
        return f"{gross} less {deduction} is not the {paid} paid"
    if paid is not None and paid < 0:
        return f"a negative amount paid ({paid})"
    return RemittanceLine(number, reference, paid, deduction or Decimal("0.00"), reason)


# --- CAMT.053 ---------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element, name: str):
    return [child for child in element if _local(child.tag) == name]


def _child(element, path: str):
    for name in path.split("/"):
        found = _children(element, name) if element is not None else []
        element = found[0] if found else None
    return element


def parse_camt053(text: str) -> Remittance:
    try:
        root = ElementTree.fromstring(text.encode("utf-8"))
    except ElementTree.ParseError as exc:
        raise RemittanceError(f"The XML cannot be read: {exc}") from None
    result = Remittance("camt053")
    number = 0
    for element in root.iter():
        if _local(element.tag) != "Strd":
            continue
        document = _child(element, "RfrdDocInf/Nb")
        if document is None or not (document.text or "").strip():
            continue
        number += 1
        amounts = _child(element, "RfrdDocAmt")
        try:
            paid = _xml_amount(amounts, "RmtdAmt")
            gross = _xml_amount(amounts, "DuePyblAmt")
            discount = _xml_amount(amounts, "DscntApldAmt")
            adjustment = _xml_amount(amounts, "AdjstmntAmtAndRsn/Amt")
        except AmountError as exc:
            result.rejected.append((number, f"amount: {exc}"))
            continue
        deduction = None
        if discount is not None or adjustment is not None:
            deduction = (discount or 0) + (adjustment or 0)
        reason_element = _child(amounts, "AdjstmntAmtAndRsn/Rsn") if amounts is not None else None
        reason = (reason_element.text or "").strip() if reason_element is not None else ""
        line = _line(
            number, document.text.strip(), reason, paid=paid, gross=gross, deduction=deduction
        )
        if isinstance(line, str):
            result.rejected.append((number, line))
        else:
            result.lines.append(line)
    if not result.lines and not result.rejected:
        raise RemittanceError("The statement has no structured remittance (RmtInf/Strd).")
    return result


def _xml_amount(amounts, path: str) -> Decimal | None:
    element = _child(amounts, path) if amounts is not None else None
    if element is None or not (element.text or "").strip():
        return None
    return parse_xml_decimal(element.text.strip(), element.get("Ccy"))


# --- text -------------------------------------------------------------------------------------

# An amount as people write it: optional sign or currency, digits with grouping, decimals.
_AMOUNT_RE = re.compile(
    r"(?<![\w.,])(?:[A-Z]{3}\s?|[$€£¥]\s?)?-?\d{1,3}(?:[,.' ]\d{3})*(?:[.,]\d{1,3})?"
    r"(?:\s?[A-Z]{3})?(?![\w.,]\d)"
)
_DEDUCTION_RE = re.compile(
    r"\b(?:less|minus|deduct(?:ed|ion)?|short(?:\s+paid)?|discount)\b[^0-9$€£¥]*"
    r"((?:[$€£¥]\s?)?\d[\d,.' ]*\d|\d)",
    re.IGNORECASE,
)


def _invoice_mention(mentions):
    """The invoice number a line names: the first one, spelled as one run ("2024/0017"); a
    run across a space ("1042 1") is the number and the amount after it, not one number."""
    first = min(mention.start for mention in mentions)
    runs = [mention for mention in mentions if mention.start == first]
    whole = [mention for mention in runs if not any(ch.isspace() for ch in mention.text)]
    return max(whole, key=lambda m: len(m.text)) if whole else min(runs, key=lambda m: len(m.text))


def parse_text(text: str) -> Remittance:
    result = Remittance("text")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        mentions = [m for m in number_mentions(line) if m.explicit and not m.other]
        if not mentions:
            continue
        if len(result.lines) + len(result.rejected) >= MAX_LINES:
            result.rejected.append((number, f"more than {MAX_LINES} lines: the rest is not read"))
            break
        mention = _invoice_mention(mentions)
        rest = line.replace(mention.text, " ", 1)
        deduction = None
        found = _DEDUCTION_RE.search(rest)
        try:
            reason = ""
            if found:
                deduction = abs(_amount(found.group(1)))
                reason = rest[found.end() :].strip(" )]-\u2013:,.")
                rest = rest[: found.start()] + " " + rest[found.end() :]
                rest = rest[: found.start() + 1]  # what follows the deduction is its reason
            candidates = [m.group().strip() for m in _AMOUNT_RE.finditer(rest)]
            candidates = [c for c in candidates if any(ch in c for ch in ".,$€£¥") or len(c) > 4]
            if len(candidates) > 1:
                result.rejected.append(
                    (number, f"more than one amount on the line: {', '.join(candidates)}")
                )
                continue
            paid = _amount(candidates[0]) if candidates else None
        except AmountError as exc:
            result.rejected.append((number, f"amount: {exc}"))
            continue
        parsed = _line(number, mention.text, reason, paid=paid, gross=None, deduction=deduction)
        if isinstance(parsed, str):
            result.rejected.append((number, parsed))
        else:
            result.lines.append(parsed)
    if not result.lines and not result.rejected:
        raise RemittanceError("No line names an invoice (e.g. 'INV-1042 1,250.00').")
    return result
