"""Differential tests: bank files written here (and the project's samples) read by ARPilot's
parsers and by reference parsers (ofxparse, bai2, pycamt, mt940) give the same credits:
count, exact amount, date and bank id."""

import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import mt940
import pytest
from bai2 import bai2 as bai2_reference
from bai2.constants import TypeCodeTransaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ofxparse import OfxParser
from pycamt.parser import Camt053Parser

from payments.importers import parse

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # ofxparse
SAMPLES = Path(__file__).parent / "samples"
DIFF = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CENTS = st.integers(min_value=1, max_value=99_999_999_999)  # up to 999,999,999.99
DATES = st.dates(min_value=date(2001, 1, 1), max_value=date(2068, 12, 31))
WORDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -", min_size=1, max_size=30).map(
    lambda text: text.strip() or "X"
)


def ours(data: bytes, fmt: str) -> list[tuple]:
    result = parse(data, fmt=fmt)
    assert result.rejected == []
    return sorted(
        (tx.amount, tx.booking_date, tx.bank_transaction_id) for tx in result.transactions
    )


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


# --- OFX -------------------------------------------------------------------------------------

OFX_HEADER = (
    "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
    "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
)


def ofx_amount(cents: int, credit: bool, style: int) -> str:
    text = f"{money(cents):.2f}" + "0" * (style % 3)
    if style == 3 and cents < 100:
        text = text[1:]  # ".50"
    if not credit:
        return "-" + text
    return "+" + text if style == 4 else text


OFX_TX = st.tuples(CENTS, st.booleans(), DATES, st.integers(0, 4), WORDS)


def ofx_file(transactions) -> bytes:
    body = []
    for index, (cents, credit, day, style, name) in enumerate(transactions):
        body.append(
            "<STMTTRN>\n"
            f"<TRNTYPE>{'CREDIT' if credit else 'DEBIT'}\n"
            f"<DTPOSTED>{day:%Y%m%d}120000\n"
            f"<TRNAMT>{ofx_amount(cents, credit, style)}\n"
            f"<FITID>FIT{index:05d}\n"
            f"<NAME>{name}\n"
            "</STMTTRN>\n"
        )
    return (
        OFX_HEADER + "<OFX>\n<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        "<DTSERVER>20241015<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>\n"
        "<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n"
        "<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>4417983211"
        "<ACCTTYPE>CHECKING</BANKACCTFROM>\n"
        "<BANKTRANLIST><DTSTART>20010101<DTEND>20681231\n"
        + "".join(body)
        + "</BANKTRANLIST>\n<LEDGERBAL><BALAMT>0.00<DTASOF>20241015</LEDGERBAL>\n"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1>\n</OFX>\n"
    ).encode()


def ofx_reference(data: bytes) -> list[tuple]:
    ofx = OfxParser.parse(io.BytesIO(data))
    return sorted(
        (tx.amount.quantize(Decimal("0.01")), tx.date.date(), tx.id)
        for account in ofx.accounts
        for tx in account.statement.transactions
        if tx.amount > 0
    )


@DIFF
@given(st.lists(OFX_TX, min_size=1, max_size=8))
def test_differential_ofx_against_ofxparse(transactions):
    data = ofx_file(transactions)
    assert ours(data, "ofx") == ofx_reference(data)


# --- BAI2 ------------------------------------------------------------------------------------

CREDIT_CODES = ["142", "165", "195", "301", "399", "115"]
DEBIT_CODES = ["455", "475", "495", "699"]
BAI2_DETAIL = st.tuples(
    st.booleans(), st.integers(0, 5), CENTS, WORDS, st.booleans(), st.booleans()
)
BAI2_ACCOUNT = st.tuples(
    st.lists(CENTS, max_size=4),  # summary amounts (types 010, 015, 040, ...)
    st.booleans(),  # summaries continued on 88 lines
    st.lists(BAI2_DETAIL, max_size=5),
)
BAI2_GROUP = st.tuples(DATES, st.lists(BAI2_ACCOUNT, min_size=1, max_size=3))


def bai2_file(groups) -> bytes:
    lines = ["01,SENDER,RECEIVER,241015,0630,1,80,,2/"]
    file_total = 0
    serial = 0
    for group_date, accounts in groups:
        group_start = len(lines)
        lines.append(f"02,RECEIVER,SENDER,1,{group_date:%y%m%d},2400,USD,2/")
        group_total = 0
        for number, (summaries, continued, details) in enumerate(accounts):
            account_start = len(lines)
            items = [
                f"{code},{amount},,"
                for code, amount in zip(["010", "015", "040", "045"], summaries, strict=False)
            ]
            if continued and len(items) > 1:
                lines.append(f"03,00098765432{number},USD," + ",".join(items[:1]) + ",/")
                lines.extend("88," + item + ",/" for item in items[1:])
            else:
                lines.append(
                    f"03,00098765432{number},USD," + ",".join(items) + ("," if items else "") + "/"
                )
            total = sum(summaries)
            for credit, code_index, cents, text, split, slash in details:
                serial += 1
                codes = CREDIT_CODES if credit else DEBIT_CODES
                code = codes[code_index % len(codes)]
                head = f"16,{code},{cents},Z,BR{serial:08d},CR{serial}"
                if split:
                    lines.append(head + ("/" if slash else ","))
                    lines.append(f"88,{text}")
                else:
                    lines.append(f"{head},{text}")
                total += cents
            lines.append(f"49,{total},{len(lines) - account_start + 1}/")
            group_total += total
        lines.append(f"98,{group_total},{len(accounts)},{len(lines) - group_start + 1}/")
        file_total += group_total
    lines.append(f"99,{file_total},{len(groups)},{len(lines) + 1}/")
    return ("\n".join(lines) + "\n").encode()


def bai2_reference_credits(data: bytes) -> list[tuple]:
    parsed = bai2_reference.parse_from_string(data.decode(), check_integrity=True)
    return sorted(
        (money(tx.amount), group.header.as_of_date, tx.bank_reference)
        for group in parsed.children
        for account in group.children
        for tx in account.children
        if tx.type_code.transaction == TypeCodeTransaction.credit
    )


@DIFF
@given(st.lists(BAI2_GROUP, min_size=1, max_size=4))
def test_differential_bai2_against_the_bai2_package(groups):
    data = bai2_file(groups)
    assert ours(data, "bai2") == bai2_reference_credits(data)


# --- camt.053 --------------------------------------------------------------------------------

CAMT_ENTRY = st.tuples(CENTS, st.sampled_from(["CRDT", "DBIT"]), DATES, st.booleans(), WORDS)


def camt_amount(cents: int, leading_point: bool) -> str:
    text = f"{money(cents):.2f}"
    return text[1:] if leading_point and cents < 100 else text


def camt_file(statements) -> bytes:
    parts = []
    serial = 0
    for number, entries in enumerate(statements):
        body = []
        for cents, indicator, day, leading_point, text in entries:
            serial += 1
            body.append(
                f'<Ntry><Amt Ccy="EUR">{camt_amount(cents, leading_point)}</Amt>'
                f"<CdtDbtInd>{indicator}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
                f"<BookgDt><Dt>{day.isoformat()}</Dt></BookgDt>"
                f"<ValDt><Dt>{day.isoformat()}</Dt></ValDt>"
                f"<AcctSvcrRef>SVC{serial:06d}</AcctSvcrRef>"
                "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd>"
                "</Fmly></Domn></BkTxCd>"
                f"<NtryDtls><TxDtls><Refs><EndToEndId>E2E{serial}</EndToEndId></Refs>"
                f"<RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
            )
        parts.append(
            f"<Stmt><Id>S{number}</Id><CreDtTm>2024-10-15T10:00:00</CreDtTm>"
            f"<Acct><Id><IBAN>DE8937040044053201300{number}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n"
            + "".join(body)
            + "</Stmt>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n'
        "<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-10-15T10:00:00</CreDtTm>"
        "</GrpHdr>\n" + "".join(parts) + "</BkToCstmrStmt></Document>\n"
    ).encode()


def camt_reference(data: bytes) -> list[tuple]:
    transactions = Camt053Parser(data).get_transactions()
    return sorted(
        (
            Decimal(tx["Amount"]).quantize(Decimal("0.01")),
            date.fromisoformat(tx["BookingDate"][:10]),
            tx["TransactionID"],
        )
        for tx in transactions
        if tx["CreditDebitIndicator"] == "CRDT"
        and (tx.get("ReversalIndicator") or "").lower() != "true"
        and tx.get("Status") in ("BOOK", None)
    )


@DIFF
@given(st.lists(st.lists(CAMT_ENTRY, min_size=1, max_size=5), min_size=1, max_size=3))
def test_differential_camt053_against_pycamt(statements):
    data = camt_file(statements)
    assert ours(data, "camt053") == camt_reference(data)


# --- MT940 -----------------------------------------------------------------------------------

MT940_LINE = st.tuples(
    st.integers(min_value=1, max_value=9_999_999_999),
    st.sampled_from(["C", "D", "RD", "RC"]),
    st.integers(0, 20),
    WORDS,
    st.booleans(),
)


def swift(cents: int, trim: bool) -> str:
    text = f"{money(cents):.2f}".replace(".", ",")
    return text.rstrip("0") if trim else text


def mt940_file(statements, start: date) -> bytes:
    lines = []
    serial = 0
    for number, entries in enumerate(statements):
        balance = 0
        lines += [
            f":20:STMT{number}",
            f":25:NL91ABNA041716430{number}",
            f":28C:{number}/1",
            f":60F:C{start:%y%m%d}EUR0,00",
        ]
        for cents, status, offset, text, trim in entries:
            serial += 1
            day = start + timedelta(days=offset)
            lines.append(
                f":61:{day:%y%m%d}{day:%m%d}{status}{swift(cents, trim)}NTRFREF{serial}"
                f"//BANK{serial:06d}"
            )
            lines.append(f":86:/NAME/{text}/REMI/USTD//INV {serial}/")
            balance += cents if status in ("C", "RD") else -cents
        sign = "C" if balance >= 0 else "D"
        lines += [f":62F:{sign}{start:%y%m%d}EUR{swift(abs(balance), False)}", "-"]
    return ("\r\n".join(lines) + "\r\n").encode()


def mt940_reference(data: bytes) -> list[tuple]:
    found = []
    for tx in mt940.parse(data.decode()):
        if tx.data["status"] != "C":
            continue
        booked = tx.data.get("entry_date") or tx.data["date"]
        found.append(
            (
                tx.data["amount"].amount.quantize(Decimal("0.01")),
                date(booked.year, booked.month, booked.day),
                tx.data["bank_reference"],
            )
        )
    return sorted(found)


@DIFF
@given(
    st.lists(st.lists(MT940_LINE, min_size=1, max_size=6), min_size=1, max_size=3),
    st.dates(min_value=date(2001, 1, 1), max_value=date(2068, 12, 1)),
)
def test_differential_mt940_against_the_mt940_package(statements, start):
    data = mt940_file(statements, start)
    assert ours(data, "mt940") == mt940_reference(data)


# --- the project's own samples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "reference"),
    [
        ("wells_fargo_v1.ofx", "ofx", ofx_reference),
        ("bank_of_america_v2.ofx", "ofx", ofx_reference),
        ("jpmorgan_bai2.bai", "bai2", bai2_reference_credits),
        ("svb_us_example.bai2", "bai2", bai2_reference_credits),
        ("mt940_abn_swift_keywords.sta", "mt940", mt940_reference),
        ("mt940_deutsche_bank_subfields.sta", "mt940", mt940_reference),
    ],
)
def test_differential_project_samples(name, fmt, reference):
    data = (SAMPLES / name).read_bytes()
    assert ours(data, fmt) == reference(data)


def test_differential_camt_sample_entry_amounts():
    """pycamt reads entries, not batch items: compare the single-payment entries."""
    data = (SAMPLES / "camt053_v08_deutsche_bank.xml").read_bytes()
    reference = camt_reference(data)
    result = parse(data)
    single = [tx for tx in result.transactions if tx.raw["batch_item"] is None]
    assert {(tx.amount, tx.booking_date) for tx in single} <= {row[:2] for row in reference}
