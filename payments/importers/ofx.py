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
from .money import AmountError, parse_ofx_amount
from .text import clean, join_distinct, method_from_text, payer_from_description
from .types import FORMAT_OFX, BankTransaction, ImportFileError, ParseResult

_OFX_START = re.compile(rb"<OFX>", re.I)
_STMTTRN = re.compile(r"<STMTTRN>", re.I)
_STMTTRN_END = re.compile(r"</STMTTRN>|<STMTTRN>|</BANKTRANLIST>", re.I)
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


def _transaction_lines(data: bytes) -> list[tuple[int, str]]:
    """Line number and raw text of each <STMTTRN> aggregate, in document order."""
    text = decode_text(data)
    found, line, position = [], 1, 0
    for match in _STMTTRN.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        end = _STMTTRN_END.search(text, match.end())
        stop = end.end() if end and end.group(0).upper() == "</STMTTRN>" else None
        stop = stop if stop is not None else (end.start() if end else len(text))
        found.append((line, text[match.start() : min(stop, match.start() + 2000)].strip()))
    return found


def _status(element: ET.Element | None) -> str:
    """The bank's STATUS aggregate as 'code 2000 (ERROR): General Server Error'."""
    if element is None:
        return ""
    code = _text(element, "CODE")
    severity = _text(element, "SEVERITY")
    message = _text(element, "MESSAGE")
    if not code and not message:
        return ""
    text = f"code {code or '?'}"
    if severity:
        text += f" ({severity})"
    if message:
        text += f": {message}"
    return text


def _no_statement_message(root: ET.Element) -> str:
    if next(root.iter("INVSTMTRS"), None) is not None:
        return (
            "the OFX file holds an investment statement (INVSTMTRS); investment statements "
            "are not imported, only bank and credit-card statements"
        )
    statuses = []
    for wrapper in ("SONRS", "STMTTRNRS", "CCSTMTTRNRS"):
        for element in root.iter(wrapper):
            status = _status(element.find("STATUS"))
            if status and status not in statuses and not status.startswith("code 0 "):
                statuses.append(f"{wrapper} {status}")
    message = "the OFX file has no bank statement (STMTRS)"
    if statuses:
        message += "; the bank answered: " + "; ".join(statuses)
    return message


def parse_ofx(data: bytes) -> ParseResult:
    """Read an OFX bank or credit-card statement; credits become transactions."""
    root = _tree(data)
    result = ParseResult(format=FORMAT_OFX)
    statements = [*root.iter("STMTRS"), *root.iter("CCSTMTRS")]
    if not statements:
        raise ImportFileError(_no_statement_message(root))
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
            line, raw_text = line_of.get(id(element), (0, ""))
            _read_transaction(element, line, raw_text, account, currency, result)
    if len(accounts) == 1:
        result.account = next(iter(accounts))
    if len(currencies) == 1:
        result.currency = next(iter(currencies))
    return result


def _read_transaction(
    element: ET.Element,
    line: int,
    raw_text: str,
    account: str | None,
    currency: str | None,
    result: ParseResult,
) -> None:
    def reject(reason: str) -> None:
        result.reject(line, reason, raw_text)

    raw = {
        child.tag: html.unescape(child.text or "").strip() for child in element if len(child) == 0
    }
    amount_text = raw.get("TRNAMT", "")
    if not amount_text:
        reject("transaction has no amount (TRNAMT)")
        return
    tx_currency = _text(element, "CURRENCY/CURSYM").upper()
    try:
        amount = parse_ofx_amount(amount_text, tx_currency or currency)
    except AmountError as exc:
        reject(str(exc))
        return
    posted = raw.get("DTPOSTED", "")
    match = _DTPOSTED.match(posted)
    if match is None:
        reject(
            f"date {posted!r} is not a valid date"
            if posted
            else "transaction has no date (DTPOSTED)",
        )
        return
    try:
        booking = parse_date(match.group(1))
    except DateError:
        reject(f"date {posted!r} is not a valid date")
        return
    if amount < 0:
        result.debits_skipped += 1
        return
    if amount == 0:
        reject("amount is zero")
        return
    name = clean(raw.get("NAME") or _text(element, "PAYEE/NAME"))
    memo = clean(raw.get("MEMO"))
    check_number = raw.get("CHECKNUM", "").strip()
    if not check_number.strip("0"):
        check_number = ""  # CHECKNUM 0 / 0000: banks fill the field for non-cheque items
    trntype = raw.get("TRNTYPE", "").upper()
    method = (
        "check" if check_number else _METHOD_BY_TYPE.get(trntype) or method_from_text(name, memo)
    )
    # CURRENCY means the amounts are in that currency; ORIGCURRENCY means they were converted.
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
