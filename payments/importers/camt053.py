"""ISO 20022 camt.053 bank-to-customer statements (any version), parsed without XXE risk."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from .csv_format import decode_text
from .dates import DateError, parse_date
from .money import AmountError, parse_xml_decimal
from .text import clean, join_distinct, method_from_text
from .types import FORMAT_CAMT053, BankTransaction, ImportFileError, ParseResult

_ACCOUNT_NOISE = re.compile(r"[^A-Z0-9]+")

NOT_PROVIDED = "NOTPROVIDED"
# Bank transaction codes (Domn/Fmly/SubFmly) to payment methods.
_METHOD_BY_FAMILY = {
    "RCHQ": "check",
    "ICHQ": "check",
    "CCHQ": "check",
    "LBOX": "check",
    "CCRD": "card",
    "MCRD": "card",
    "POSD": "card",
    "RDDT": "direct_debit",
    "IDDT": "direct_debit",
    "CNTR": "cash",
}
_METHOD_BY_SUBFAMILY = {
    "ESCT": "transfer",
    "SEPA": "transfer",
    "DMCT": "ach",
    "ACHT": "ach",
    "ACDT": "ach",
    "XBCT": "wire",
    "FICT": "wire",
    "PRCT": "wire",
    "BOOK": "transfer",
    "ATXN": "ach",
    "CHKD": "check",
    "URCQ": "check",
    "CCHQ": "check",
    "BCHQ": "check",
}
_METHOD_BY_PROPRIETARY = {"ACH": "ach", "WIRE": "wire", "CHECK": "check", "CHK": "check"}


class _LineTreeBuilder(ET.TreeBuilder):
    """A tree builder that strips namespaces and remembers each element's start line."""

    def __init__(self) -> None:
        super().__init__()
        self.parser: DefusedXMLParser | None = None
        self.lines: dict[int, int] = {}
        self.end_lines: dict[int, int] = {}

    def start(self, tag, attrs):
        element = super().start(tag.rsplit("}", 1)[-1], attrs)
        if self.parser is not None:
            self.lines[id(element)] = self.parser.parser.CurrentLineNumber
        return element

    def end(self, tag):
        element = super().end(tag.rsplit("}", 1)[-1])
        if self.parser is not None:
            self.end_lines[id(element)] = self.parser.parser.CurrentLineNumber
        return element


def _parse_xml(data: bytes) -> tuple[ET.Element, _LineTreeBuilder]:
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(
        target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    builder.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException:
        raise ImportFileError(
            "the XML file declares a DTD or entities, which are not allowed"
        ) from None
    except ET.ParseError as exc:
        raise ImportFileError(f"the XML file is malformed or truncated: {exc}") from None
    except Exception as exc:
        raise ImportFileError(f"the XML file cannot be read: {exc}") from None
    return root, builder


def _text(element: ET.Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path)
    return clean(found.text) if found is not None and found.text else ""


def _all_text(element: ET.Element | None, path: str) -> list[str]:
    if element is None:
        return []
    return [
        clean(found.text) for found in element.findall(path) if found.text and found.text.strip()
    ]


def parse_camt053(data: bytes) -> ParseResult:
    """Read a camt.053 statement; credit entries (and batch items) become transactions."""
    root, builder = _parse_xml(data)
    lines = builder.lines
    statement_root = root.find("BkToCstmrStmt") if root.tag != "BkToCstmrStmt" else root
    if statement_root is None:
        raise ImportFileError("the XML file is not a camt.053 statement (no BkToCstmrStmt)")
    statements = statement_root.findall("Stmt")
    if not statements:
        raise ImportFileError(
            "the camt.053 file has no statement (Stmt): there is nothing to import; "
            "the file may be incomplete"
        )
    result = ParseResult(format=FORMAT_CAMT053)
    physical = decode_text(data).splitlines()

    def reject(line: int, reason: str, element: ET.Element | None = None) -> None:
        end = builder.end_lines.get(id(element), line) if element is not None else line
        result.reject(line, reason, "\n".join(physical[max(line - 1, 0) : max(end, line)]))

    accounts, currencies = set(), set()
    for statement in statements:
        account = _text(statement, "Acct/Id/IBAN") or _text(statement, "Acct/Id/Othr/Id") or None
        currency = _text(statement, "Acct/Ccy").upper() or None
        accounts.add(account)
        currencies.add(currency)
        for entry in statement.findall("Ntry"):
            _read_entry(entry, lines, account, currency, result, reject)
    if len(accounts) == 1:
        result.account = next(iter(accounts))
    if len(currencies) == 1:
        result.currency = next(iter(currencies))
    return result


def _amount(element: ET.Element | None, path: str) -> tuple[object, str | None] | None:
    """(Decimal or error message, currency) of an amount element, None when absent."""
    if element is None:
        return None
    found = element.find(path)
    if found is None:
        return None
    currency = (found.get("Ccy") or "").upper() or None
    try:
        value = parse_xml_decimal(found.text or "", currency)
    except AmountError as exc:
        return str(exc), currency
    return value, currency


def _entry_date(entry: ET.Element) -> date | str:
    text = _text(entry, "BookgDt/Dt") or _text(entry, "BookgDt/DtTm")
    text = text or _text(entry, "ValDt/Dt") or _text(entry, "ValDt/DtTm")
    if not text:
        return "entry has no booking date"
    try:
        return parse_date(text[:10])
    except DateError:
        return f"date {text!r} is not a valid date"


def _method(entry: ET.Element, details: ET.Element | None) -> str | None:
    for scope in (details, entry):
        if scope is None:
            continue
        family = _text(scope, "BkTxCd/Domn/Fmly/Cd")
        subfamily = _text(scope, "BkTxCd/Domn/Fmly/SubFmlyCd")
        if subfamily in _METHOD_BY_SUBFAMILY:
            return _METHOD_BY_SUBFAMILY[subfamily]
        if family in _METHOD_BY_FAMILY:
            return _METHOD_BY_FAMILY[family]
        proprietary = _text(scope, "BkTxCd/Prtry/Cd").upper()
        for key, method in _METHOD_BY_PROPRIETARY.items():
            if key in proprietary:
                return method
    return None


def _read_entry(
    entry: ET.Element,
    lines: dict[int, int],
    account: str | None,
    currency: str | None,
    result: ParseResult,
    reject_at,
) -> None:
    line = lines.get(id(entry), 0)

    def reject(at: int, reason: str, element: ET.Element | None = None) -> None:
        reject_at(at, reason, element if element is not None else entry)

    indicator = _text(entry, "CdtDbtInd").upper()
    reversal = _text(entry, "RvslInd").lower() in ("true", "1")
    status = _text(entry, "Sts/Cd") or _text(entry, "Sts")
    if indicator not in ("CRDT", "DBIT"):
        reject(line, f"credit/debit indicator {indicator!r} is neither CRDT nor DBIT")
        return
    if indicator == "DBIT" or reversal:
        # Outgoing money, or a credit that only reverses an earlier debit: not a customer payment.
        result.debits_skipped += 1
        return
    if status and status.upper() not in ("BOOK", "BOOKED"):
        reject(line, f"entry has status {status}, not booked")
        return
    booking = _entry_date(entry)
    if isinstance(booking, str):
        reject(line, booking)
        return
    entry_amount = _amount(entry, "Amt")
    if entry_amount is None:
        reject(line, "entry has no amount")
        return
    if isinstance(entry_amount[0], str):
        reject(line, entry_amount[0])
        return
    details = entry.findall("NtryDtls/TxDtls")
    batch = len(details) > 1
    if batch and not any(_has_own_amount(tx) for tx in details):
        # A batch whose items carry no amounts cannot be split: one payment for the entry.
        result.transactions.append(
            _transaction(
                entry,
                details,
                0,
                False,
                line,
                booking,
                entry_amount[0],
                entry_amount[1] or currency,
                account,
            )
        )
        return
    for index, tx in enumerate(details or [None]):
        tx_line = lines.get(id(tx), line) if batch else line
        amount, tx_currency = entry_amount
        if batch:
            item_amount = _amount(tx, "AmtDtls/TxAmt/Amt") or _amount(tx, "Amt")
            if item_amount is None:
                reject(tx_line, "batch item has no amount of its own", tx)
                continue
            amount, tx_currency = item_amount
            if isinstance(amount, str):
                reject(tx_line, amount, tx)
                continue
            if _text(tx, "CdtDbtInd").upper() == "DBIT":
                result.debits_skipped += 1
                continue
        if amount <= 0:
            reject(tx_line, "amount is zero" if amount == 0 else "amount is negative")
            continue
        result.transactions.append(
            _transaction(
                entry,
                [tx],
                index,
                batch,
                tx_line,
                booking,
                amount,
                tx_currency or currency,
                account,
            )
        )


def _payer(tx: ET.Element | None) -> str:
    return (
        _text(tx, "RltdPties/Dbtr/Nm")
        or _text(tx, "RltdPties/Dbtr/Pty/Nm")
        or _text(tx, "RltdPties/UltmtDbtr/Nm")
        or _text(tx, "RltdPties/UltmtDbtr/Pty/Nm")
    )


def _payer_account(items: list[ET.Element | None]) -> str | None:
    """The debtor's account (IBAN, else another id) as letters and digits, upper case; none
    when a batch's items name different ones."""
    accounts = {
        _ACCOUNT_NOISE.sub(
            "",
            (
                _text(item, "RltdPties/DbtrAcct/Id/IBAN")
                or _text(item, "RltdPties/DbtrAcct/Id/Othr/Id")
            ).upper(),
        )[:64]
        for item in items
    }
    return accounts.pop() or None if len(accounts) == 1 else None


def _item_reference(tx: ET.Element | None) -> str:
    """Remittance texts of one batch item (folded into the entry's reference)."""
    return join_distinct(
        *_all_text(tx, "RmtInf/Ustrd"),
        *_all_text(tx, "RmtInf/Strd/RfrdDocInf/Nb"),
        *_all_text(tx, "RmtInf/Strd/CdtrRefInf/Ref"),
    )


def _has_own_amount(tx: ET.Element) -> bool:
    return tx.find("AmtDtls/TxAmt/Amt") is not None or tx.find("Amt") is not None


def _transaction(
    entry: ET.Element,
    items: list[ET.Element | None],
    index: int,
    batch: bool,
    line: int,
    booking: date,
    amount: Decimal,
    currency: str | None,
    account: str | None,
) -> BankTransaction:
    tx = items[0]
    end_to_end = _text(tx, "Refs/EndToEndId")
    if end_to_end.upper() == NOT_PROVIDED:
        end_to_end = ""
    entry_ref = _text(entry, "AcctSvcrRef")
    bank_id = (
        (entry_ref if len(items) > 1 else "")
        or _text(tx, "Refs/AcctSvcrRef")
        or _text(tx, "Refs/TxId")
        or (f"{entry_ref}/{index + 1}" if entry_ref and batch else entry_ref)
    )
    payers = {_payer(item) for item in items}
    payer = payers.pop() if len(payers) == 1 else ""  # several payers in one booking: none
    structured = _all_text(tx, "RmtInf/Strd/RfrdDocInf/Nb") + _all_text(
        tx, "RmtInf/Strd/CdtrRefInf/Ref"
    )
    reference = join_distinct(
        *_all_text(tx, "RmtInf/Ustrd"),
        *structured,
        end_to_end,
        _text(tx, "AddtlTxInf"),
        *(_item_reference(item) for item in items[1:]),
    ) or _text(entry, "AddtlNtryInf")
    raw = {
        "entry_reference": _text(entry, "NtryRef"),
        "account_servicer_reference": entry_ref,
        "end_to_end_id": end_to_end,
        "debtor_account": _text(tx, "RltdPties/DbtrAcct/Id/IBAN")
        or _text(tx, "RltdPties/DbtrAcct/Id/Othr/Id"),
        "bank_transaction_code": "/".join(
            part
            for part in (
                _text(entry, "BkTxCd/Domn/Cd"),
                _text(entry, "BkTxCd/Domn/Fmly/Cd"),
                _text(entry, "BkTxCd/Domn/Fmly/SubFmlyCd"),
            )
            if part
        ),
        "additional_info": _text(entry, "AddtlNtryInf"),
        "batch_item": index + 1 if batch else None,
    }
    return BankTransaction(
        line_number=line,
        bank_transaction_id=bank_id or None,
        booking_date=booking,
        amount=amount,
        currency=currency,
        payer_name=payer,
        reference=reference,
        account=account,
        payment_method=_method(entry, tx) or method_from_text(_text(entry, "AddtlNtryInf")),
        raw=raw,
        payer_account=_payer_account(items),
    )
