"""Remittance advice read into lines: exactly what the advice says, or rejected with a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.remittance import RemittanceError, parse_remittance

amounts = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2, allow_nan=False
)
numbers = st.integers(min_value=1, max_value=99_999_999)


def grouped(value: Decimal) -> str:
    return f"{value:,.2f}"


@st.composite
def advice_lines(draw):
    count = draw(st.integers(min_value=1, max_value=12))
    refs = draw(st.lists(numbers, min_size=count, max_size=count, unique=True))
    rows = []
    for ref in refs:
        paid = draw(amounts)
        deduction = draw(st.one_of(st.none(), amounts.filter(lambda d: d < Decimal("100000"))))
        rows.append((f"INV-{ref:06d}", paid, deduction))
    return rows


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=advice_lines(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    style=st.sampled_from(["plain", "grouped", "dollar"]),
)
def test_a_csv_advice_reads_back_exactly(rows, delimiter, style):
    def show(value: Decimal) -> str:
        text = {"plain": str(value), "grouped": grouped(value), "dollar": f"${grouped(value)}"}[
            style
        ]
        if delimiter == "," and "," in text:
            return f'"{text}"'
        return text

    lines = [delimiter.join(["Invoice No", "Amount Paid", "Deduction", "Reason"])]
    for ref, paid, deduction in rows:
        lines.append(
            delimiter.join([ref, show(paid), show(deduction) if deduction else "", "pricing"])
        )
    result = parse_remittance("\n".join(lines).encode(), "advice.csv")

    assert result.format == "csv"
    assert result.rejected == []
    assert [(line.reference, line.amount, line.deduction) for line in result.lines] == [
        (ref, paid, deduction or Decimal("0.00")) for ref, paid, deduction in rows
    ]
    assert result.total == sum(paid for _, paid, _ in rows)


@settings(max_examples=150)
@given(rows=advice_lines(), word=st.sampled_from(["Invoice ", "INV ", "#", "Inv. No. "]))
def test_an_email_advice_reads_back_exactly(rows, word):
    body = ["Hello,", "please find our payment for the following invoices:", ""]
    for ref, paid, deduction in rows:
        line = f"{word}{ref[4:]}   ${grouped(paid)}"
        if deduction:
            line += f" (less {grouped(deduction)} damaged goods)"
        body.append(line)
    body += ["", "Regards, Accounts Payable"]
    result = parse_remittance("\n".join(body))

    assert result.format == "text"
    assert result.rejected == []
    assert [(line.amount, line.deduction) for line in result.lines] == [
        (paid, deduction or Decimal("0.00")) for _, paid, deduction in rows
    ]
    assert [line.reference.lstrip("#").split()[-1].lstrip("0") for line in result.lines] == [
        ref[4:].lstrip("0") for ref, _, _ in rows
    ]


CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><Stmt>
<Ntry><Amt Ccy="EUR">{total}</Amt><NtryDtls><TxDtls><RmtInf>{docs}</RmtInf></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>"""
DOC = (
    "<Strd><RfrdDocInf><Nb>{ref}</Nb></RfrdDocInf><RfrdDocAmt>"
    '<DuePyblAmt Ccy="EUR">{gross}</DuePyblAmt>{discount}<RmtdAmt Ccy="EUR">{paid}</RmtdAmt>'
    "</RfrdDocAmt></Strd>"
)


@settings(max_examples=100)
@given(rows=advice_lines())
def test_camt053_structured_remittance_reads_back_exactly(rows):
    docs = "".join(
        DOC.format(
            ref=ref,
            gross=paid + (deduction or 0),
            paid=paid,
            discount=f'<DscntApldAmt Ccy="EUR">{deduction}</DscntApldAmt>' if deduction else "",
        )
        for ref, paid, deduction in rows
    )
    total = sum(paid for _, paid, _ in rows)
    result = parse_remittance(CAMT.format(total=total, docs=docs).encode(), "statement.xml")

    assert result.format == "camt053"
    assert [(line.reference, line.amount, line.deduction) for line in result.lines] == [
        (ref, paid, deduction or Decimal("0.00")) for ref, paid, deduction in rows
    ]


def test_lines_that_do_not_add_up_or_cannot_be_read_are_rejected_with_their_line():
    csv_text = (
        "Invoice,Invoice Amount,Deduction,Amount Paid\n"
        "INV-1,100.00,10.00,90.00\n"
        "INV-2,100.00,10.00,95.00\n"  # does not add up
        "INV-3,1.250.00,,\n"  # an ambiguous number: never rescaled
        ",50.00,,50.00\n"  # no invoice
    )
    result = parse_remittance(csv_text.encode(), "a.csv")
    assert [(line.reference, line.amount, line.deduction) for line in result.lines] == [
        ("INV-1", Decimal("90.00"), Decimal("10.00"))
    ]
    assert [number for number, _ in result.rejected] == [3, 4, 5]
    assert "is not the 95.00 paid" in result.rejected[0][1]
    assert result.rejected[1][1].startswith("amount:")
    assert result.rejected[2][1] == "no invoice reference"


def test_an_email_line_with_two_amounts_is_left_for_the_clerk():
    result = parse_remittance("Invoice 1042 1,250.00 1,300.00\nInvoice 1043 20.00")
    assert [line.amount for line in result.lines] == [Decimal("20.00")]
    assert result.rejected == [(1, "more than one amount on the line: 1,250.00, 1,300.00")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello there, nothing to see", "No line names an invoice"),
        (b"<html><body>x</body></html>", "not a CAMT.053"),
        (b"Name,Street\nAcme,Main St\n", "No header names an invoice column"),
    ],
)
def test_what_cannot_be_read_at_all_says_why(data, message):
    with pytest.raises(RemittanceError, match=message):
        parse_remittance(data, "x.csv" if b"Street" in data else "")


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_any_text_is_read_or_refused_never_crashes(text):
    try:
        result = parse_remittance(text)
    except RemittanceError:
        return
    for line in result.lines:
        assert line.amount is None or line.amount >= 0
        assert line.deduction >= 0
