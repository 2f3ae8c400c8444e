"""BAI2 integrity (continuations, control totals at every level), refusals with the bank's
own message (OFX, camt.053), cheque numbers, three-decimal currencies, and MT940."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from payments.importers import ImportFileError, detect_format, parse
from payments.importers.bai2_format import _Record, _summary_items
from payments.importers.text import payer_from_description

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# --- B. BAI2 ---------------------------------------------------------------------------------


def test_bai2_summary_continuation_keeps_fields_in_place():
    """An 03 ending ",,,/" continued on 88 lines: type codes are not summed as amounts."""
    result = parse(sample("svb_us_example.bai2"))

    assert result.rejected == []
    assert [(tx.line_number, tx.bank_transaction_id, tx.booking_date, tx.amount)
            for tx in result.transactions] == [
        (7, "172629", date(2022, 2, 1), Decimal("4901.96")),
        (16, "150675", date(2022, 2, 2), Decimal("9058.00")),
    ]  # fmt: skip
    assert result.transactions[0].reference == "SOME PAYMENT ACH OFFSET"


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        (["a,USD,010,500,,,015,700,,,/", "040,300,,,/"], ["010", "015", "040"]),
        (["a,USD,010,500,,,015,700,,/", "040,300,,/"], ["010", "015", "040"]),
        (["a,USD,010,500,,,", "015,700,,/"], ["010", "015"]),
        (["a,USD,010,500/", "015,700,,/"], ["010", "015"]),
        (["a,USD,010,500,,S,1,2,3,015,9,,/"], ["010", "015"]),
        (["a,USD,010,500,,D,2,0,10,1,20,015,9,,/"], ["010", "015"]),
    ],
)
def test_bai2_summary_items_across_continuations(segments, expected):
    record = _Record("03", "", 1, len(segments), segments)
    assert [item[0] for item in _summary_items(record)] == expected


def test_bai2_group_cut_out_is_refused():
    """A whole group cut out of the file (a credit of 9,058.00 lost) refuses the file."""
    lines = sample("svb_us_example.bai2").decode().splitlines(keepends=True)
    cut = "".join(lines[:10] + lines[19:])
    with pytest.raises(ImportFileError) as excinfo:
        parse(cut.encode())
    assert excinfo.value.message == (
        "the file trailer (99, line 11) control total 2,820,301.96 does not match the sum of "
        "its groups 1,388,842.58; the file may be incomplete"
    )


def test_bai2_group_control_total_mismatch_is_refused():
    data = sample("svb_us_example.bai2").replace(b"98,143145938,1,9/", b"98,70434436,1,9/")
    with pytest.raises(ImportFileError) as excinfo:
        parse(data)
    assert excinfo.value.message == (
        "group 2 (line 19) control total 704,344.36 does not match the sum of its accounts "
        "1,431,459.38; the file may be incomplete"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"49,138884258,7/", b"49,138884258,6/", "trailer counts 6 records but the account has 7"),
        (b"98,138884258,1,9/", b"98,138884258,2,9/", "counts 2 accounts but the group has 1"),
        (b"98,138884258,1,9/", b"98,138884258,1,8/", "counts 8 records but the group has 9"),
        (b"99,282030196,2,20", b"99,282030196,3,20", "counts 3 groups but the file has 2"),
        (b"99,282030196,2,20", b"99,282030196,2,21", "counts 21 records but the file has 20"),
        (b"99,282030196,2,20", b"99,282030197,2,20", "control total 2,820,301.97"),
        (b"16,142,905800,,150675,/", b"16,142,905900,,150675,/", "sum of its records"),
    ],
)
def test_bai2_counts_and_totals_at_every_level(old, new, message):
    data = sample("svb_us_example.bai2")
    assert old in data
    with pytest.raises(ImportFileError, match=message):
        parse(data.replace(old, new))


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (b"99,282030196,2,20\n", "without a file trailer \\(99\\)"),
        (b"98,143145938,1,9/\n", "group 2 \\(line 11\\) has no group trailer \\(98\\)"),
        (b"49,143145938,7/\n", "account 1234567890 \\(line 12\\) has no account trailer \\(49\\)"),
    ],
)
def test_bai2_missing_trailers_refuse_the_file(drop, message):
    data = sample("svb_us_example.bai2")
    assert drop in data
    with pytest.raises(ImportFileError, match=message):
        parse(data.replace(drop, b""))


def test_bai2_truncated_file_is_refused():
    data = sample("jpmorgan_bai2.bai")
    with pytest.raises(ImportFileError, match="may be"):
        parse(data[: data.index(b"98,")])


def _kwd_file(amount: str) -> bytes:
    control = int(amount)
    return (
        "01,SENDER,RECEIVER,241015,0630,1,80,,2/\n"
        "02,RECEIVER,SENDER,1,241014,2400,KWD,2/\n"
        "03,000111,KWD,/\n"
        f"16,195,{amount},Z,REF1,,WIRE B/O: GULF TRADING\n"
        f"49,{control},3/\n"
        f"98,{control},1,5/\n"
        f"99,{control},1,7/\n"
    ).encode()


def test_bai2_three_decimal_currency_uses_its_minor_units():
    result = parse(_kwd_file("1230"))
    assert [(tx.amount, tx.currency) for tx in result.transactions] == [(Decimal("1.23"), "KWD")]

    result = parse(_kwd_file("1234"))
    assert [(tx.amount, tx.currency) for tx in result.transactions] == [(Decimal("1.234"), "KWD")]
    assert result.rejected == []


def test_three_decimal_currency_in_camt_and_mt940_is_exact():
    camt = sample("camt053_v08_deutsche_bank.xml").replace(
        b'<Amt Ccy="EUR">1500.00</Amt>\n        <CdtDbtInd>',
        b'<Amt Ccy="KWD">1.234</Amt>\n        <CdtDbtInd>',
    )
    amounts = {(tx.amount, tx.currency) for tx in parse(camt).transactions}
    assert (Decimal("1.234"), "KWD") in amounts
    mt940 = (
        b":20:S1\n:25:KW1\n:60F:C241014KWD0,\n:61:2410151015C1,234NTRFNONREF//B1\n"
        b":86:X\n:62F:C241015KWD1,234\n"
    )
    result = parse(mt940)
    assert result.rejected == []
    assert [(tx.amount, tx.currency) for tx in result.transactions] == [(Decimal("1.234"), "KWD")]
    four = mt940.replace(b"C1,234NTRF", b"C1,2345NTRF").replace(b"KWD1,234\n", b"KWD1,2345\n")
    assert "more than 3 decimal places" in parse(four).rejected[0].reason


def test_bai2_real_time_payment_payer_is_the_name_field_only():
    text = (
        "RTP CREDIT ORIGINATOR: =Some ARCHITECT Company ; ORG ADDRESS:=12 MAIN ST, SPRINGFIELD"
        " ; REMITTANCE:=INV-1042"
    )
    assert payer_from_description(text) == "Some ARCHITECT Company"
    data = sample("jpmorgan_bai2.bai").replace(b"UMBRELLA CORP INV-1045, INV-1046", text.encode())
    assert parse(data).transactions[3].payer_name == "Some ARCHITECT Company"


# --- C. messages -----------------------------------------------------------------------------

OFX_ERROR = b"""OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<SIGNONMSGSRSV1><SONRS>
<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<DTSERVER>20241015120000<LANGUAGE>ENG
</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1
<STATUS><CODE>2000<SEVERITY>ERROR<MESSAGE>General Server Error</STATUS>
</STMTTRNRS></BANKMSGSRSV1>
</OFX>
"""


def test_ofx_bank_error_without_statement_shows_the_bank_message():
    with pytest.raises(ImportFileError) as excinfo:
        parse(OFX_ERROR)
    assert excinfo.value.message == (
        "the OFX file has no bank statement (STMTRS); the bank answered: "
        "STMTTRNRS code 2000 (ERROR): General Server Error"
    )


def test_ofx_investment_statement_is_refused_on_purpose():
    data = OFX_ERROR.replace(
        b"<BANKMSGSRSV1><STMTTRNRS><TRNUID>1",
        b"<INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        b"<INVSTMTRS><DTASOF>20241015<CURDEF>USD</INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1>"
        b"<BANKMSGSRSV1><STMTTRNRS><TRNUID>2",
    )
    with pytest.raises(ImportFileError, match="investment statements are not imported"):
        parse(data)


def test_camt_without_statement_is_refused():
    data = (
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
        b"<BkToCstmrStmt><GrpHdr><MsgId>1</MsgId></GrpHdr></BkToCstmrStmt></Document>"
    )
    assert detect_format(data) == "camt053"
    with pytest.raises(ImportFileError, match=r"no statement \(Stmt\)"):
        parse(data)


@pytest.mark.parametrize(("number", "method"), [(b"0", "ach"), (b"0000", "ach"), (b"77", "check")])
def test_ofx_checknum_zero_is_not_a_cheque(number, method):
    data = sample("wells_fargo_v1.ofx").replace(
        b"<TRNAMT>2150.00", b"<TRNAMT>2150.00\n<CHECKNUM>" + number
    )
    assert parse(data).transactions[0].payment_method == method


# --- D. MT940 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["mt940_abn_swift_keywords.sta", "mt940_deutsche_bank_subfields.sta"]
)
def test_mt940_detected_by_content(name):
    assert detect_format(sample(name)) == "mt940"


def test_mt940_swift_keywords_credits_debits_and_reversals():
    result = parse(sample("mt940_abn_swift_keywords.sta"))

    assert (result.format, result.account, result.currency) == (
        "mt940",
        "NL91ABNA0417164300",
        "EUR",
    )
    assert result.debits_skipped == 2  # a debit and a reversed debit (RD)
    assert result.rejected == []
    assert [
        (tx.line_number, tx.bank_transaction_id, tx.booking_date, tx.amount, tx.payer_name,
         tx.reference)
        for tx in result.transactions
    ] == [
        (5, "ABN2410150001", date(2024, 10, 15), Decimal("1500.00"), "Acme Europe B.V.",
         "INV-1042 / E2E-ACME-1042"),
        (10, "ABN2410160003", date(2024, 10, 16), Decimal("2000.00"), "Globex GmbH", "Inv 1043"),
    ]  # fmt: skip


def test_mt940_german_subfields_and_swift_envelope():
    result = parse(sample("mt940_deutsche_bank_subfields.sta"))

    assert result.debits_skipped == 1
    assert [
        (tx.line_number, tx.bank_transaction_id, tx.amount, tx.currency, tx.payer_name,
         tx.reference)
        for tx in result.transactions
    ] == [
        (6, "DB2410150017", Decimal("1234.56"), "EUR", "Mueller Maschinenbau GmbH",
         "RE-2024-0815 INV-1042 / E2E-MUELLER-0815"),
        (11, "DB2410160019", Decimal("420.00"), "EUR", "Cafe Zuerich SARL", "invoice#0001045"),
    ]  # fmt: skip


def test_mt940_bad_lines_are_rejected_with_line_numbers():
    data = (
        sample("mt940_abn_swift_keywords.sta")
        .replace(b"C2000,NTRF", b"C20x0,NTRF")
        .replace(b":61:2410151015C1500,00", b":61:2410151015C1500,001")
    )
    result = parse(data)
    assert result.transactions == []
    assert [line.reason for line in result.rejected] == [
        "line 5: amount '1500,001' has more than 2 decimal places",
        "line 10: amount '20' is not a number",
    ]


def test_mt940_closing_balance_mismatch_refuses_the_file():
    data = sample("mt940_abn_swift_keywords.sta").replace(b"C2000,NTRF", b"C2100,NTRF")
    with pytest.raises(ImportFileError, match=r"closing balance 13,324\.75 .* the file may be"):
        parse(data)


def test_mt940_without_statement_lines_is_refused():
    with pytest.raises(ImportFileError, match="no statement"):
        parse(b":20:X\n:25:Y\n", fmt="mt940")
