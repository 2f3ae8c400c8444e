"""Bank-file parsing: format detection, CSV/OFX/camt.053/BAI2 parsing, fingerprints."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.importers import (
    BankTransaction,
    CsvMapping,
    ImportFileError,
    RejectedLine,
    detect_format,
    fingerprint,
    fingerprints,
    parse,
)
from payments.importers.dates import DateError, detect_day_order, parse_date
from payments.importers.money import AmountError, amount_from_minor_units, parse_amount

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def summary(tx: BankTransaction) -> tuple:
    return (
        tx.line_number,
        tx.bank_transaction_id,
        tx.booking_date,
        tx.amount,
        tx.currency,
        tx.payer_name,
        tx.reference,
        tx.account,
        tx.payment_method,
    )


def assert_money(result) -> None:
    for tx in result.transactions:
        assert isinstance(tx.amount, Decimal)
        assert tx.amount.as_tuple().exponent == -2
        assert tx.amount > 0


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("chase_checking_date_description_amount.csv", "csv"),
        ("posting_date_amount_payee_reference.csv", "csv"),
        ("credit_debit_counterparty_details.csv", "csv"),
        ("booking_date_semicolon_decimal_comma.csv", "csv"),
        ("chase_business_details.csv", "csv"),
        ("bad_lines.csv", "csv"),
        ("wells_fargo_v1.ofx", "ofx"),
        ("bank_of_america_v2.ofx", "ofx"),
        ("malformed_truncated.ofx", "ofx"),
        ("camt053_v08_deutsche_bank.xml", "camt053"),
        ("camt053_v02_ing.xml", "camt053"),
        ("malformed_truncated_camt053.xml", "camt053"),
        ("jpmorgan_bai2.bai", "bai2"),
        ("malformed_bai2_truncated.bai", "bai2"),
        ("not_a_bank_file.json", None),
        ("not_a_bank_file.txt", None),
        ("not_a_bank_file_pain001.xml", None),
    ],
)
def test_detect_format_by_content(name, expected):
    assert detect_format(sample(name)) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",
        b'{"date": "2024-10-01", "amount": 100.00}',
        b"<html><body><p>Date, Amount</p></body></html>",
        b"hello world\nthis is not a bank file\n",
        b"Name,Email\nAcme,ap@acme.test\nGlobex,ar@globex.test\n",
        "Date,Amount\n2024-10-01,100.00\n".encode("utf-16-le"),
    ],
)
def test_detect_format_rejects_non_bank_files(data):
    assert detect_format(data) is None
    with pytest.raises(ImportFileError):
        parse(data)


def test_detect_format_handles_byte_order_marks():
    data = "Transaction Date,Credit,Debit,Counterparty,Details\n01/02/2024,5.00,,A,B\n"
    assert detect_format(b"\xef\xbb\xbf" + data.encode()) == "csv"
    # Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated.
    utf16 = data.replace(",", "\t").encode("utf-16")
    assert detect_format(utf16) == "csv"
    assert parse(utf16).transactions[0].amount == Decimal("5.00")


def test_parse_of_a_non_bank_file_names_the_supported_formats():
    with pytest.raises(ImportFileError) as excinfo:
        parse(sample("not_a_bank_file.txt"))
    assert excinfo.value.message == (
        "the file is not a bank file this app reads (CSV, OFX, CAMT.053, BAI2 or MT940)"
    )


def test_parse_of_an_empty_file():
    with pytest.raises(ImportFileError, match="the file is empty"):
        parse(b"")


# --- CSV -------------------------------------------------------------------------------------


def test_csv_date_description_amount_chase_export():
    result = parse(sample("chase_checking_date_description_amount.csv"))

    assert result.format == "csv"
    assert result.debits_skipped == 2
    assert result.rejected == []
    assert [summary(tx) for tx in result.transactions] == [
        (
            2,
            None,
            date(2024, 10, 1),
            Decimal("1250.00"),
            None,
            "ACME CORP",
            "ORIG CO NAME:ACME CORP ORIG ID:1234567890 DESC DATE:241001 CO ENTRY DESCR:PAYMENT "
            "SEC:CCD TRACE#:021000021234567 EED:241001 IND ID:INV-1042 IND NAME:NORTHWIND TRADERS",
            None,
            "ach",
        ),
        (
            4,
            None,
            date(2024, 10, 2),
            Decimal("8400.50"),
            None,
            "GLOBEX CORPORATION SPRINGFIELD IL",
            "FEDWIRE CREDIT VIA: BANK OF AMERICA N.A./026009593 B/O: GLOBEX CORPORATION "
            "SPRINGFIELD IL REF: CHASE NYC/CTR/BNF=NORTHWIND TRADERS OBI=Inv 1043",
            None,
            "wire",
        ),
        (
            5,
            None,
            date(2024, 10, 3),
            Decimal("2310.00"),
            None,
            "",
            "REMOTE ONLINE DEPOSIT # 1 Initech LLC invoice#0001044",
            None,
            "check",
        ),
        (
            7,
            None,
            date(2024, 10, 7),
            Decimal("975.25"),
            None,
            "",
            "DEPOSIT ID NUMBER 339812 Umbrella Corp INV-1045 INV-1046",
            None,
            None,
        ),
    ]
    assert result.transactions[0].raw["Amount"] == "1250.00"
    assert_money(result)


def test_csv_posting_date_amount_payee_reference_with_symbols_and_parentheses():
    result = parse(sample("posting_date_amount_payee_reference.csv"))

    assert result.debits_skipped == 2  # ($89.99) and -$1200.00
    assert result.rejected == []
    assert [
        (tx.line_number, tx.booking_date, tx.amount, tx.payer_name, tx.reference)
        for tx in result.transactions
    ] == [
        (2, date(2024, 11, 4), Decimal("3120.00"), "Acme Corp", "INV-1042"),
        (4, date(2024, 11, 5), Decimal("640.00"), "Wayne Enterprises", "Inv 1043 partial payment"),
        (
            5,
            date(2024, 11, 13),
            Decimal("12500.00"),
            "Stark Industries",
            "invoice#0001044 / 0001045",
        ),
    ]


def test_csv_separate_credit_and_debit_columns_with_day_first_dates():
    result = parse(sample("credit_debit_counterparty_details.csv"))

    assert result.debits_skipped == 2
    assert result.currency is None
    assert [
        (tx.line_number, tx.booking_date, tx.amount, tx.payer_name, tx.reference)
        for tx in result.transactions
    ] == [
        (2, date(2024, 9, 2), Decimal("1450.00"), "Hooli Ltd", "Payment INV-2001 thank you"),
        (4, date(2024, 9, 14), Decimal("2000.00"), "Pied Piper Ltd", "INV 2002 and INV-2003"),
        (
            5,
            date(2024, 9, 23),
            Decimal("760.10"),
            "Dunder Mifflin Paper Co",
            "Remittance for invoice 2004",
        ),
    ]


def test_csv_semicolon_decimal_comma_windows_1252():
    result = parse(sample("booking_date_semicolon_decimal_comma.csv"))

    assert result.currency == "EUR"
    assert result.debits_skipped == 1
    assert [summary(tx) for tx in result.transactions] == [
        (
            2,
            "TX2024100100001",
            date(2024, 10, 1),
            Decimal("1234.56"),
            "EUR",
            "Müller Maschinenbau GmbH",
            "RE-2024-0815 INV-1042",
            None,
            None,
        ),
        (
            4,
            "TX2024100200003",
            date(2024, 10, 2),
            Decimal("15000.00"),
            "EUR",
            "Schäfer & Söhne KG",
            "Inv 1043, Inv 1044",
            None,
            None,
        ),
        (
            5,
            "TX2024101500004",
            date(2024, 10, 15),
            Decimal("420.00"),
            "EUR",
            "Café Zürich SARL",
            "invoice#0001045",
            None,
            None,
        ),
    ]


def test_csv_chase_business_export_uses_details_as_direction_and_type_as_method():
    result = parse(sample("chase_business_details.csv"))

    assert result.debits_skipped == 2
    assert result.rejected == []
    assert [
        (tx.line_number, tx.amount, tx.payer_name, tx.payment_method) for tx in result.transactions
    ] == [
        (2, Decimal("4200.00"), "BLUTH COMPANY", "ach"),
        (4, Decimal("980.00"), "", "check"),
        (6, Decimal("15000.00"), "SOYLENT CORP NEW YORK NY", "wire"),
    ]
    assert result.transactions[2].reference.endswith("REF: INV-3002")


def test_csv_bad_lines_are_rejected_with_line_numbers_and_good_lines_kept():
    result = parse(sample("bad_lines.csv"))

    assert [tx.bank_transaction_id for tx in result.transactions] == [
        "T1",
        "T2",
        "T4",
        "T5",
        "T7",
        "T13",
    ]
    assert result.debits_skipped == 1
    assert result.rejected == [
        RejectedLine(7, "line 7: amount 'abc' is not a number"),
        RejectedLine(9, "line 9: date '2024-13-01' is not a valid date"),
        RejectedLine(10, "line 10: amount '12.345' has more than 2 decimal places"),
        RejectedLine(11, "line 11: amount is zero"),
        RejectedLine(12, "line 12: too few columns (2 of 4)"),
        RejectedLine(
            13, "line 13: ambiguous amount '1.999.999': the amounts use a decimal point (.)"
        ),
    ]
    assert [line.raw for line in result.rejected][-2:] == [
        "2024-10-11,SOYLENT INV-1051",
        '2024-10-12,"MASSIVE DYNAMIC INV-1052",1.999.999,T12',
    ]


def test_csv_line_numbers_count_physical_lines_of_multiline_fields():
    data = b'Date,Description,Amount\n2024-10-01,"ACME\nINV-1042",10.00\n2024-10-02,GLOBEX,x\n'
    result = parse(data)

    assert [(tx.line_number, tx.reference) for tx in result.transactions] == [(2, "ACME INV-1042")]
    assert result.rejected == [RejectedLine(4, "line 4: amount 'x' is not a number")]


def test_csv_preamble_lines_before_the_header_and_summary_rows_are_skipped():
    data = (
        b"Description,,Summary Amt.\n"
        b'Beginning balance as of 10/01/2024,,"1,000.00"\n'
        b"\n"
        b"Date,Description,Amount,Running Bal.\n"
        b'10/01/2024,Beginning balance as of 10/01/2024,,"1,000.00"\n'
        b'10/02/2024,ACME CORP DES:PAYMENT INV-1042,"1,250.00","2,250.00"\n'
        b"Total,,1250.00,\n"
    )
    result = parse(data)

    assert [(tx.line_number, tx.amount) for tx in result.transactions] == [(6, Decimal("1250.00"))]
    assert result.rejected == []


def test_csv_amount_header_currency_and_direction_column():
    data = (
        b"Value Date|Amount (GBP)|Cr/Dr|Remitter|Payment Reference\n"
        b"2024-10-01|1500.00|CR|Hooli Ltd|INV-1042\n"
        b"2024-10-02|99.00|DR|Barclays|Fee\n"
    )
    result = parse(data)

    assert [(tx.amount, tx.currency, tx.payer_name) for tx in result.transactions] == [
        (Decimal("1500.00"), "GBP", "Hooli Ltd")
    ]
    assert result.debits_skipped == 1


def test_csv_unsigned_amounts_with_a_credit_debit_column():
    data = b"Date,Amount,Credit/Debit,Name\n2024-10-01,100.00,Credit,Acme\n2024-10-02,40.00,Debit,Rent\n"
    result = parse(data)

    assert [(tx.amount, tx.payer_name) for tx in result.transactions] == [
        (Decimal("100.00"), "Acme")
    ]
    assert result.debits_skipped == 1


def test_csv_excel_delimiter_hint_line():
    data = b"sep=;\r\nDate;Amount;Payee\r\n2024-10-01;12,50;Acme\r\n"
    result = parse(data)

    assert [(tx.line_number, tx.amount, tx.payer_name) for tx in result.transactions] == [
        (3, Decimal("12.50"), "Acme")
    ]


def test_csv_mapping_names_unusual_columns_and_formats():
    data = (
        b"Buchung\tWert\tGegenpartei\tZweck\tKennung\n"
        b"2024/15/10\t1.250,00\tMuster AG\tINV-1042\tK1\n"
        b"2024/16/10\t-50,00\tStadtwerke\tStrom\tK2\n"
    )
    mapping = CsvMapping(
        date="Buchung",
        amount="Wert",
        payer_name="Gegenpartei",
        reference=["Zweck"],
        transaction_id="Kennung",
        date_format="%Y/%d/%m",
        decimal_separator=",",
        currency_default="EUR",
    )
    assert detect_format(data) is None
    result = parse(data, csv_mapping=mapping)

    assert [summary(tx) for tx in result.transactions] == [
        (
            2,
            "K1",
            date(2024, 10, 15),
            Decimal("1250.00"),
            "EUR",
            "Muster AG",
            "INV-1042",
            None,
            None,
        )
    ]
    assert result.debits_skipped == 1


def test_csv_mapping_by_index_without_header():
    data = b"01.10.2024;ACME;INV-1042;100,00\n02.10.2024;GLOBEX;INV-1043;200,50\n"
    mapping = CsvMapping(date=0, payer_name=1, reference=2, amount=3, has_header=False)
    result = parse(data, fmt="csv", csv_mapping=mapping)

    assert [(tx.line_number, tx.booking_date, tx.amount) for tx in result.transactions] == [
        (1, date(2024, 10, 1), Decimal("100.00")),
        (2, date(2024, 10, 2), Decimal("200.50")),
    ]


def test_csv_mapping_naming_a_missing_column_is_a_file_error():
    with pytest.raises(ImportFileError, match="no column 'Betrag' for amount"):
        parse(sample("bad_lines.csv"), csv_mapping=CsvMapping(date="Date", amount="Betrag"))


def test_csv_without_recognisable_header_asks_for_a_mapping():
    data = b"a,b,c\n2024-10-01,x,10.00\n2024-10-02,y,20.00\n"
    assert detect_format(data) == "csv"
    with pytest.raises(ImportFileError, match="give a column mapping"):
        parse(data)


def test_csv_currency_column_rejects_garbage_codes():
    data = b"Date,Amount,Currency\n2024-10-01,10.00,usd\n2024-10-02,5.00,dollars\n"
    result = parse(data)

    assert [tx.currency for tx in result.transactions] == ["USD"]
    assert result.rejected == [
        RejectedLine(3, "line 3: currency 'dollars' is not an ISO 4217 code")
    ]


# --- OFX -------------------------------------------------------------------------------------


def test_ofx_v1_sgml():
    result = parse(sample("wells_fargo_v1.ofx"))

    assert (result.format, result.account, result.currency) == ("ofx", "4417983211", "USD")
    assert result.debits_skipped == 1
    assert result.rejected == []
    assert [summary(tx) for tx in result.transactions] == [
        (43, "202410011", date(2024, 10, 1), Decimal("2150.00"), "USD", "ACME CORP",
         "ACH CREDIT PAYMENT INV-1042", "4417983211", "ach"),
        (59, "202410031", date(2024, 10, 3), Decimal("1875.50"), "USD", "GLOBEX CORPORATION",
         "Inv 1043", "4417983211", "check"),
        (68, "202410151", date(2024, 10, 15), Decimal("9340.00"), "USD", "BARNES & NOBLE INC",
         "WIRE TRANSFER IN invoice#0001044", "4417983211", "wire"),
    ]  # fmt: skip
    assert result.transactions[1].raw["CHECKNUM"] == "5521"


def test_ofx_v2_xml():
    result = parse(sample("bank_of_america_v2.ofx"))

    assert (result.account, result.currency, result.debits_skipped) == ("000123456789", "USD", 1)
    assert [summary(tx) for tx in result.transactions] == [
        (26, "90001234567", date(2024, 11, 1), Decimal("4500.00"), "USD", "WAYNE ENTERPRISES",
         "WIRE TYPE:FED IN REF INV-1042 INV-1043", "000123456789", "wire"),
        (42, "90001234569", date(2024, 11, 4), Decimal("310.45"), "USD", "Tyrell Corporation",
         "Online transfer Inv 1045", "000123456789", "transfer"),
    ]  # fmt: skip


def test_ofx_bad_transactions_are_rejected_individually():
    data = (
        sample("wells_fargo_v1.ofx")
        .replace(b"<TRNAMT>1875.50", b"<TRNAMT>12x")
        .replace(b"<DTPOSTED>20241015\n", b"<DTPOSTED>20241315\n")
    )
    result = parse(data)

    assert [tx.bank_transaction_id for tx in result.transactions] == ["202410011"]
    assert result.rejected == [
        RejectedLine(59, "line 59: amount '12x' is not a number"),
        RejectedLine(68, "line 68: date '20241315' is not a valid date"),
    ]


def test_ofx_truncated_is_a_file_error():
    with pytest.raises(ImportFileError, match="truncated"):
        parse(sample("malformed_truncated.ofx"))


def test_ofx_without_header_still_parses_from_the_ofx_element():
    data = sample("wells_fargo_v1.ofx").split(b"\n\n", 1)[1]
    result = parse(data)
    assert len(result.transactions) == 3


# --- camt.053 --------------------------------------------------------------------------------


def test_camt053_v08_with_batch_booking_and_a_debit():
    result = parse(sample("camt053_v08_deutsche_bank.xml"))

    assert (result.format, result.account, result.currency) == (
        "camt053",
        "DE89370400440532013000",
        "EUR",
    )
    assert result.debits_skipped == 1
    assert result.rejected == []
    assert [summary(tx) for tx in result.transactions] == [
        (23, "DEUT2024101500017", date(2024, 10, 15), Decimal("1500.00"), "EUR", "Acme Europe B.V.",
         "INV-1042", "DE89370400440532013000", "transfer"),
        (59, "DEUT2024101500018-1", date(2024, 10, 15), Decimal("2000.00"), "EUR", "Globex GmbH",
         "Inv 1043 / RF18539007547034 / E2E-GLOBEX-77120", "DE89370400440532013000", "transfer"),
        (76, "DEUT2024101500018-2", date(2024, 10, 15), Decimal("1250.75"), "EUR", "Initech SARL",
         "invoice#0001044 / merci", "DE89370400440532013000", "transfer"),
    ]  # fmt: skip
    assert result.transactions[0].raw["debtor_account"] == "NL91ABNA0417164300"
    assert result.transactions[1].raw["batch_item"] == 1


def test_camt053_v02_debtor_name_and_pending_entry():
    result = parse(sample("camt053_v02_ing.xml"))

    assert [summary(tx) for tx in result.transactions] == [
        (9, "INGNL20240930A1", date(2024, 9, 30), Decimal("612.00"), "EUR", "Stark Industries Europe",
         "INV 1046 / 20240930-INV1046", "NL69INGB0123456789", "transfer"),
    ]  # fmt: skip
    assert result.rejected == [RejectedLine(24, "line 24: entry has status PDNG, not booked")]


def test_camt053_bad_entry_amount_is_rejected_and_others_kept():
    data = sample("camt053_v08_deutsche_bank.xml").replace(
        b'<Amt Ccy="EUR">1500.00</Amt>\n        <CdtDbtInd>',
        b'<Amt Ccy="EUR">15OO.00</Amt>\n        <CdtDbtInd>',
    )
    result = parse(data)

    assert len(result.transactions) == 2
    assert result.rejected == [RejectedLine(23, "line 23: amount '15OO.00' is not a number")]


def test_camt053_batch_without_item_amounts_is_one_payment_with_all_references():
    data = (
        sample("camt053_v08_deutsche_bank.xml")
        .replace(b'<Amt Ccy="EUR">2000.00</Amt>', b"")
        .replace(b'<Amt Ccy="EUR">1250.75</Amt>', b"")
    )
    result = parse(data)

    assert [(tx.line_number, tx.bank_transaction_id, tx.amount) for tx in result.transactions] == [
        (23, "DEUT2024101500017", Decimal("1500.00")),
        (48, "DEUT2024101500018", Decimal("3250.75")),
    ]
    assert result.transactions[1].reference == (
        "Inv 1043 / RF18539007547034 / E2E-GLOBEX-77120 / invoice#0001044 / merci"
    )
    assert result.transactions[1].payer_name == ""  # two payers: naming one would mislead


def test_camt053_truncated_is_a_file_error():
    with pytest.raises(ImportFileError, match="malformed or truncated"):
        parse(sample("malformed_truncated_camt053.xml"))


def test_camt053_with_external_entity_is_refused():
    with pytest.raises(ImportFileError, match="DTD or entities"):
        parse(sample("xxe_camt053.xml"))


def test_camt053_billion_laughs_is_refused():
    data = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
        b"<Document><BkToCstmrStmt><Stmt><Id>&lol2;</Id></Stmt></BkToCstmrStmt></Document>"
    )
    assert detect_format(data) == "camt053"
    with pytest.raises(ImportFileError):
        parse(data)


# --- BAI2 ------------------------------------------------------------------------------------


def test_bai2_with_continuations_and_a_debit():
    result = parse(sample("jpmorgan_bai2.bai"))

    assert (result.format, result.account, result.currency) == ("bai2", "000987654321", "USD")
    assert result.debits_skipped == 1
    assert result.rejected == []
    assert [summary(tx) for tx in result.transactions] == [
        (4, "2024101400011", date(2024, 10, 14), Decimal("1500.00"), "USD", "ACME CORP",
         "ACH CREDIT ORIG CO NAME:ACME CORP ORIG ID:1234567890 IND ID:INV-1042", "000987654321", "ach"),
        (6, "FW2024101400022", date(2024, 10, 14), Decimal("8400.50"), "USD", "GLOBEX CORPORATION",
         "GLOBEX-77120 / FEDWIRE CREDIT B/O: GLOBEX CORPORATION REF: Inv 1043", "000987654321", "wire"),
        (9, "2024101400033", date(2024, 10, 14), Decimal("2310.00"), "USD", "",
         "DEP20241014 / LOCKBOX DEPOSIT INITECH LLC invoice#0001044", "000987654321", "check"),
        (10, "2024101400044", date(2024, 10, 14), Decimal("975.25"), "USD", "",
         "UMBRELLA CORP INV-1045, INV-1046", "000987654321", None),
    ]  # fmt: skip
    assert result.transactions[0].raw["type_code"] == "165"
    assert result.transactions[3].raw["funds_type"] == "V"


def test_bai2_bad_records_are_rejected_and_a_missing_trailer_refuses_the_file():
    # The sample stops after line 7: no 49/98/99 trailers, so nothing of it can be trusted.
    with pytest.raises(ImportFileError, match=r"no account trailer \(49\)|file trailer \(99\)"):
        parse(sample("malformed_bai2_truncated.bai"))
    completed = sample("malformed_bai2_truncated.bai") + (
        b"49,5254900,6/\n98,5254900,1,8/\n99,5254900,1,10/\n"
    )
    result = parse(completed)

    assert [tx.bank_transaction_id for tx in result.transactions] == [
        "2024101400011",
        "2024101400014",
    ]
    assert result.rejected == [
        RejectedLine(5, "line 5: amount '12AB00' is not a number"),
        RejectedLine(6, "line 6: type code 920 is not a credit (100-399) or debit (400-699) code"),
    ]
    assert result.rejected[0].raw == "16,165,12AB00,Z,2024101400012,,GLOBEX INV-1043"


def test_bai2_control_total_mismatch_refuses_the_file():
    data = sample("jpmorgan_bai2.bai").replace(b"49,13950920,9/", b"49,13950000,9/")
    with pytest.raises(ImportFileError) as excinfo:
        parse(data)
    assert excinfo.value.message == (
        "account 000987654321 (line 11) control total 139,500.00 does not match the sum of "
        "its records 139,509.20; the file may be incomplete"
    )


def test_bai2_invalid_group_date_falls_back_to_the_file_date():
    data = sample("jpmorgan_bai2.bai").replace(b"1,241014,2400", b"1,241314,2400")
    result = parse(data)

    assert {tx.booking_date for tx in result.transactions} == {date(2024, 10, 15)}
    assert result.rejected == [
        RejectedLine(
            2,
            "line 2: group as-of date '241314' is not a valid YYMMDD date; "
            "using the file creation date",
        )
    ]


def test_bai2_zero_decimal_currency():
    assert amount_from_minor_units("150000", "JPY") == Decimal("150000.00")
    assert amount_from_minor_units("150000", "USD") == Decimal("1500.00")
    assert amount_from_minor_units("150000", "KWD") == Decimal("150.00")


def test_bai2_without_file_header_is_a_file_error():
    with pytest.raises(ImportFileError, match="no 01 file header"):
        parse(b"16,165,100,Z,1,2,x\n", fmt="bai2")


# --- money and dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "separator", "expected"),
    [
        ("1,234.56", ".", ("1234.56", None)),
        ("1.234,56", ",", ("1234.56", None)),
        ("-89,90", ",", ("-89.90", None)),
        ("100", ".", ("100.00", None)),
        ("12.5", ".", ("12.50", None)),
        ("(45.00)", ".", ("-45.00", None)),
        ("$1,234.56", ".", ("1234.56", None)),
        ("-$1,200.00", ".", ("-1200.00", None)),
        ("1234.56-", ".", ("-1234.56", None)),
        ("EUR 1.234,56", ",", ("1234.56", "EUR")),
        ("1 234,56 €", ",", ("1234.56", None)),
        ("1'234.50 CHF", ".", ("1234.50", "CHF")),
        ("123.45 CR", ".", ("123.45", None)),
        ("99.10 DR", ".", ("-99.10", None)),
        ("+15.00", ".", ("15.00", None)),
        ("9,340.00", None, ("9340.00", None)),
        ("1.234,56", None, ("1234.56", None)),
        ("1,5", None, ("1.50", None)),
    ],
)
def test_parse_amount(text, separator, expected):
    value, currency = parse_amount(text, separator)
    assert (str(value), currency) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("abc", "amount 'abc' is not a number"),
        ("NaN", "amount 'NaN' is not a number"),
        ("Infinity", "amount 'Infinity' is not a number"),
        ("1e5", "amount '1e5' is not a number"),
        ("", "amount is empty"),
        ("12.345", "amount '12.345' has more than 2 decimal places"),
        ("1000000000000.00", "amount '1000000000000.00' is too large"),
    ],
)
def test_parse_amount_errors(text, reason):
    with pytest.raises(AmountError) as excinfo:
        parse_amount(text, ".")
    assert str(excinfo.value) == reason


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2024-10-15", "mdy", date(2024, 10, 15)),
        ("2024-10-15T09:30:00+02:00", "mdy", date(2024, 10, 15)),
        ("10/15/2024", "mdy", date(2024, 10, 15)),
        ("15/10/2024", "dmy", date(2024, 10, 15)),
        ("15.10.2024", "dmy", date(2024, 10, 15)),
        ("15.10.24", "dmy", date(2024, 10, 15)),
        ("20241015", "mdy", date(2024, 10, 15)),
        ("2024/10/15", "mdy", date(2024, 10, 15)),
        ("15 Oct 2024", "mdy", date(2024, 10, 15)),
        ("15-Oct-2024", "mdy", date(2024, 10, 15)),
        ("Oct 15, 2024", "mdy", date(2024, 10, 15)),
    ],
)
def test_parse_date(text, order, expected):
    assert parse_date(text, day_order=order) == expected


@pytest.mark.parametrize("text", ["2024-13-01", "31/02/2024", "yesterday", "2024-02-30"])
def test_parse_date_errors(text):
    with pytest.raises(DateError, match="is not a valid date"):
        parse_date(text)


def test_detect_day_order():
    assert detect_day_order(["01/02/2024", "13/02/2024"]) == "dmy"
    assert detect_day_order(["01/02/2024", "02/13/2024"]) == "mdy"
    assert detect_day_order(["01.02.2024"]) == "dmy"
    assert detect_day_order(["01/02/2024"]) == "mdy"


# --- fingerprints ----------------------------------------------------------------------------


def _tx(**changes) -> BankTransaction:
    values = {
        "line_number": 2,
        "bank_transaction_id": None,
        "booking_date": date(2024, 10, 1),
        "amount": Decimal("100.00"),
        "currency": "USD",
        "payer_name": "Acme Corp",
        "reference": "INV-1042",
        "account": "123",
        "payment_method": None,
    }
    return BankTransaction(**{**values, **changes})


def test_fingerprint_is_stable_and_ignores_case_spacing_punctuation_and_line():
    assert fingerprint(_tx()) == fingerprint(
        _tx(line_number=9, reference="  inv 1042 ", payer_name="ACME CORP.")
    )
    assert len(fingerprint(_tx())) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("100.01")},
        {"booking_date": date(2024, 10, 2)},
        {"reference": "INV-1043"},
        {"account": "456"},
        {"payer_name": "Globex"},
    ],
)
def test_fingerprint_changes_with_what_identifies_a_payment(change):
    assert fingerprint(_tx()) != fingerprint(_tx(**change))


def test_fingerprints_number_identical_transactions_within_a_file():
    first, second, other = fingerprints([_tx(), _tx(line_number=3), _tx(amount=Decimal("5.00"))])

    assert first == fingerprint(_tx())
    assert second != first
    assert second == fingerprints([_tx(), _tx()])[1]
    assert other == fingerprint(_tx(amount=Decimal("5.00")))


def test_reimporting_a_file_gives_the_same_fingerprints():
    data = sample("chase_checking_date_description_amount.csv")
    assert fingerprints(parse(data).transactions) == fingerprints(parse(data).transactions)


# --- robustness ------------------------------------------------------------------------------

ALL_SAMPLES = sorted(path.name for path in SAMPLES.iterdir())


def _parse_or_file_error(data: bytes, **kwargs) -> None:
    try:
        result = parse(data, **kwargs)
    except ImportFileError as exc:
        assert exc.message
        return
    assert_money(result)
    for rejected in result.rejected:
        assert rejected.reason.startswith(f"line {rejected.line_number}: ")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash(data):
    detect_format(data)
    _parse_or_file_error(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["csv", "ofx", "camt053", "bai2", "mt940"]), st.binary(max_size=500))
def test_random_bytes_forced_to_a_format_never_crash(fmt, data):
    _parse_or_file_error(data, fmt=fmt)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(ALL_SAMPLES),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=40),
    st.binary(max_size=8),
)
def test_corrupted_sample_files_never_crash(name, position, cut, junk):
    data = sample(name)
    position %= len(data) + 1
    corrupted = data[:position] + junk + data[position + cut :]
    detect_format(corrupted)
    _parse_or_file_error(corrupted)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.text(alphabet=st.characters(codec="utf-8"), max_size=12), min_size=1, max_size=6
        ),
        max_size=8,
    )
)
def test_random_csv_under_a_known_header_never_crashes(rows):
    body = "\n".join(",".join(cell.replace("\n", " ") for cell in row) for row in rows)
    _parse_or_file_error(("Date,Description,Amount\n" + body).encode())


@pytest.mark.slow
def test_generated_100k_line_export_parses_completely():
    from bench.gen_bank_csv import generate_csv

    data = generate_csv(100_000, seed=3)
    result = parse(data)

    assert result.rejected == []
    assert len(result.transactions) + result.debits_skipped == 100_000
    assert len({tx.bank_transaction_id for tx in result.transactions}) == len(result.transactions)
