"""OFX 1.x (SGML) and 2.x (XML) bank statements, tokenised with ofxtools."""

from __future__ import annotations

import html
import io
import re
import xml.etree.ElementTree as ET

from ofxtools.header import parse_header
from ofxtools.Parser import TreeBuilder

from .csv_format import decode_text
from .dates import DateError, parse_date
from .money import AmountError, parse_amount
from .text import clean, join_distinct, method_from_text, payer_from_description
from .types import FORMAT_OFX, BankTransaction, ImportFileError, ParseResult

_OFX_START = re.compile(rb"<OFX>", re.I)
_STMTTRN = re.compile(r"<STMTTRN>", re.I)
_DTPOSTED = re.compile(r"(\d{8})", re.ASCII)
_METHOD_BY_TYPE = {
    "CHECK": "check",
    "DIRECTDEP": "ach",
    "XFER": "transfer",
    "POS": "card",
    "CASH": "cash",
    "DIRECTDEBIT": "direct_debit",
}


def _body(data: bytes) -> str:
    """The OFX message body (from <OFX>), through ofxtools' header parser when it accepts it."""
    try:
        _header, body = parse_header(io.BytesIO(data))
    except Exception:
        match = _OFX_START.search(data)
        if match is None:
            raise ImportFileError("the OFX file has no <OFX> element") from None
        body = decode_text(data[match.start() :])
    start = body.upper().find("<OFX>")
    return body[start:] if start >= 0 else body


def _tree(data: bytes) -> ET.Element:
    body = _body(data)
    if "</OFX>" not in body[-4096:].upper():
        raise ImportFileError("the OFX file is truncated: it does not end with </OFX>")
    builder = TreeBuilder()
    try:
        builder.feed(body)
        root = builder.close()
    except Exception as exc:
        detail = str(exc).split(" - position")[0][:200] or type(exc).__name__
        raise ImportFileError(f"the OFX file is malformed or truncated: {detail}") from None
    if root is None or root.tag != "OFX":
        raise ImportFileError("the OFX file has no <OFX> element")
    return root


def _text(element: ET.Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path)
    if found is None or found.text is None:
        return ""
    return html.unescape(found.text).strip()


def _transaction_lines(data: bytes) -> list[int]:
    """Line number of each <STMTTRN> opening tag, in document order."""
    text = decode_text(data)
    lines, line, position = [], 1, 0
    for match in _STMTTRN.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        lines.append(line)
    return lines


def parse_ofx(data: bytes) -> ParseResult:
    """Read an OFX bank or credit-card statement; credits become transactions."""
    root = _tree(data)
    result = ParseResult(format=FORMAT_OFX)
    statements = [*root.iter("STMTRS"), *root.iter("CCSTMTRS")]
    if not statements:
        raise ImportFileError("the OFX file has no bank statement (STMTRS)")
    lines = _transaction_lines(data)
    line_of = {
        id(element): lines[i] for i, element in enumerate(root.iter("STMTTRN")) if i < len(lines)
    }
    accounts, currencies = set(), set()
    for statement in statements:
        currency = _text(statement, "CURDEF").upper() or None
        account = (
            _text(statement, "BANKACCTFROM/ACCTID") or _text(statement, "CCACCTFROM/ACCTID") or None
        )
        accounts.add(account)
        currencies.add(currency)
        for element in statement.iter("STMTTRN"):
            _read_transaction(element, line_of.get(id(element), 0), account, currency, result)
    if len(accounts) == 1:
        result.account = next(iter(accounts))
    if len(currencies) == 1:
        result.currency = next(iter(currencies))
    return result


def _read_transaction(
    element: ET.Element, line: int, account: str | None, currency: str | None, result: ParseResult
) -> None:
    raw = {
        child.tag: html.unescape(child.text or "").strip() for child in element if len(child) == 0
    }
    amount_text = raw.get("TRNAMT", "")
    if not amount_text:
        result.reject(line, "transaction has no amount (TRNAMT)")
        return
    try:
        amount, _ = parse_amount(amount_text, decimal_separator=None)
    except AmountError as exc:
        result.reject(line, str(exc))
        return
    posted = raw.get("DTPOSTED", "")
    match = _DTPOSTED.match(posted)
    if match is None:
        result.reject(
            line,
            f"date {posted!r} is not a valid date"
            if posted
            else "transaction has no date (DTPOSTED)",
        )
        return
    try:
        booking = parse_date(match.group(1))
    except DateError:
        result.reject(line, f"date {posted!r} is not a valid date")
        return
    if amount < 0:
        result.debits_skipped += 1
        return
    if amount == 0:
        result.reject(line, "amount is zero")
        return
    name = clean(raw.get("NAME") or _text(element, "PAYEE/NAME"))
    memo = clean(raw.get("MEMO"))
    check_number = raw.get("CHECKNUM", "")
    trntype = raw.get("TRNTYPE", "").upper()
    method = (
        "check" if check_number else _METHOD_BY_TYPE.get(trntype) or method_from_text(name, memo)
    )
    # CURRENCY means the amounts are in that currency; ORIGCURRENCY means they were converted.
    tx_currency = _text(element, "CURRENCY/CURSYM").upper()
    result.transactions.append(
        BankTransaction(
            line_number=line,
            bank_transaction_id=raw.get("FITID") or None,
            booking_date=booking,
            amount=amount,
            currency=tx_currency or currency,
            payer_name=name or payer_from_description(memo),
            reference=join_distinct(memo, raw.get("REFNUM")) if memo or raw.get("REFNUM") else name,
            account=account,
            payment_method=method,
            raw=raw,
        )
    )
