"""Amounts are read exactly or rejected with a reason, never as a different number.

Property tests render Decimal amounts in every form each importer accepts and read them
back; arbitrary text must either be refused or read as the number it literally spells.
"""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django import forms
from hypothesis import example, given, settings
from hypothesis import strategies as st

from payments.forms import parse_money
from payments.importers import ImportFileError, RejectedLine, parse
from payments.importers.money import (
    AmountError,
    amount_from_minor_units,
    parse_amount,
    parse_ofx_amount,
    parse_swift_amount,
    parse_xml_decimal,
)

SAMPLES = Path(__file__).parent / "samples"
CENTS = st.integers(min_value=1, max_value=99_999_999_999_999)
AMOUNTS = CENTS.map(lambda cents: Decimal(cents).scaleb(-2))
FAST = settings(max_examples=100, deadline=None)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def grouped(value: Decimal, thousands: str, decimal: str) -> str:
    text = f"{value:,.2f}"
    return text.replace(",", "\x00").replace(".", decimal).replace("\x00", thousands)


def plain(value: Decimal, decimal: str = ".") -> str:
    return f"{value:.2f}".replace(".", decimal)


# --- property tests: rendered amounts read back exactly ---------------------------------------

POINT_FORMS = [
    (lambda v: plain(v), 1),
    (lambda v: grouped(v, ",", "."), 1),
    (lambda v: grouped(v, " ", "."), 1),
    (lambda v: grouped(v, "'", ".") + " CHF", 1),
    (lambda v: "$" + grouped(v, ",", "."), 1),
    (lambda v: "-$" + grouped(v, ",", "."), -1),
    (lambda v: "(" + grouped(v, ",", ".") + ")", -1),
    (lambda v: grouped(v, ",", ".") + " CR", 1),
    (lambda v: grouped(v, ",", ".") + " DR", -1),
    (lambda v: plain(v) + "-", -1),
    (lambda v: "+" + plain(v), 1),
    (lambda v: "USD " + grouped(v, ",", "."), 1),
    (lambda v: plain(v) + "0", 1),  # 3 decimals, the last a zero
]
COMMA_FORMS = [
    (lambda v: plain(v, ","), 1),
    (lambda v: grouped(v, ".", ","), 1),
    (lambda v: grouped(v, "\u00a0", ",") + " €", 1),
    (lambda v: "EUR " + grouped(v, ".", ","), 1),
    (lambda v: "-" + grouped(v, ".", ","), -1),
    (lambda v: grouped(v, ".", ",") + "-", -1),
]


@FAST
@given(AMOUNTS, st.sampled_from(range(len(POINT_FORMS))))
def test_property_decimal_point_renderings_read_back_exactly(value, index):
    render, sign = POINT_FORMS[index]
    text = render(value)
    assert parse_amount(text, ".")[0] == sign * value
    # Unknown separators: the same number, or refused as ambiguous - never another one.
    try:
        assert parse_amount(text, None)[0] == sign * value
    except AmountError as exc:
        assert "ambiguous" in str(exc)


@FAST
@given(AMOUNTS, st.sampled_from(range(len(COMMA_FORMS))))
def test_property_decimal_comma_renderings_read_back_exactly(value, index):
    render, sign = COMMA_FORMS[index]
    text = render(value)
    assert parse_amount(text, ",")[0] == sign * value
    try:
        assert parse_amount(text, None)[0] == sign * value
    except AmountError as exc:
        assert "ambiguous" in str(exc)


@FAST
@given(AMOUNTS, st.booleans(), st.sampled_from(range(len(COMMA_FORMS))))
def test_property_wrong_separator_is_rejected_never_rescaled(value, point_file, index):
    """A decimal-comma amount in a decimal-point file (and the reverse) is refused."""
    if point_file:
        text, separator = COMMA_FORMS[index][0](value), "."
    else:
        text, separator = POINT_FORMS[index % 2][0](value), ","
    try:
        parsed = abs(parse_amount(text, separator)[0])
    except AmountError:
        return
    assert parsed == value  # only when both readings agree (e.g. "5,000.00" vs "5000")


@FAST
@given(
    AMOUNTS,
    st.sampled_from(["plain", "zeros", "plus", "comma", "grouped", "minus"]),
    st.integers(min_value=0, max_value=3),
)
def test_property_ofx_amounts(value, style, zeros):
    text = plain(value) + "0" * zeros
    expected = value
    if style == "plus":
        text = "+" + text
    elif style == "comma":
        text = text.replace(".", ",")
    elif style == "grouped":
        text = grouped(value, ",", ".")
    elif style == "minus":
        text, expected = "-" + text, -value
    if value < 1 and style in ("plain", "plus"):
        text = text.replace("0.", ".", 1)  # ".50", "+.75"
    assert parse_ofx_amount(text) == expected


@FAST
@given(AMOUNTS, st.integers(min_value=0, max_value=3), st.booleans())
def test_property_camt_amounts(value, zeros, leading_point):
    text = plain(value) + "0" * zeros
    if leading_point and value < 1:
        text = text[1:]  # ".02"
    assert parse_xml_decimal(text) == value


@FAST
@given(AMOUNTS, st.sampled_from(["USD", "EUR", "KWD", "BHD", "JPY"]))
def test_property_bai2_minor_units(value, currency):
    if currency == "JPY":
        value = value.to_integral_value() % 10**11
        if value == 0:
            return
        digits = str(int(value))
    elif currency in ("KWD", "BHD"):
        digits = str(int(value * 1000))
    else:
        digits = str(int(value * 100))
    assert amount_from_minor_units(digits, currency) == value


@FAST
@given(AMOUNTS)
def test_property_mt940_amounts(value):
    text = plain(value, ",")
    assert parse_swift_amount(text) == value
    trimmed = text.rstrip("0")  # "1500," and "12,5" are valid SWIFT amounts
    assert parse_swift_amount(trimmed) == value


@FAST
@given(st.integers(min_value=1, max_value=9_999_999), st.sampled_from(["KWD", "BHD", "OMR"]))
def test_property_three_decimal_currencies_are_exact(thousandths, currency):
    value = Decimal(thousandths).scaleb(-3)
    parsed = amount_from_minor_units(str(thousandths), currency)
    assert parsed == value
    assert parse_amount(f"{value:.3f}", ".", currency=currency)[0] == value
    assert parse_xml_decimal(f"{value:.3f}", currency) == value
    with pytest.raises(AmountError, match="more than 3 decimal places"):
        parse_amount(f"{value:.3f}7", ".", currency=currency)


# --- arbitrary text: refused, or the number it literally spells --------------------------------

TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789012345678901234567.,.,  -+()$€'CRDUSEOa\u00a0")),
    max_size=20,
)


def _spelled(text: str, separator: str) -> Decimal | None:
    """The number the text spells with this decimal separator (groupings dropped)."""
    kept = "".join(ch for ch in text if ch.isdigit() or ch == separator)
    kept = kept.replace(separator, ".")
    if kept.count(".") > 1 or not kept.strip("."):
        return None
    return Decimal(kept)


@pytest.mark.parametrize("text", ["0.00€0", "12 USD 34", "1$250.00", "7 € 5"])
def test_a_currency_sign_between_digits_is_refused_not_dropped(text):
    """Dropping it would join the digits into another number (found by the property below:
    "0.00€0" was read as 0.000)."""
    for separator in (".", ",", None):
        with pytest.raises(AmountError, match="currency sign inside"):
            parse_amount(text, separator)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.sampled_from([".", ",", None]))
@example("0.00€0", ",")
def test_property_arbitrary_text_is_refused_or_read_literally(text, separator):
    try:
        value, _currency = parse_amount(text, separator)
    except AmountError as exc:
        assert str(exc)
        return
    choices = [separator] if separator else [".", ","]
    # Some reading spells the value, where the other separator only ever groups three digits.
    assert any(_literal(text, choice, abs(value)) for choice in choices), (text, value)


def _literal(text: str, separator: str, value: Decimal) -> bool:
    if _spelled(text, separator) != value:
        return False
    other = "," if separator == "." else "."
    return all(
        re.match(r"[0-9]{3}(?![0-9])", text[match.end() :])
        for match in re.finditer(re.escape(other), text)
    )


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.,+- ")), max_size=12))
def test_property_arbitrary_ofx_text_is_refused_or_read_literally(text):
    try:
        value = parse_ofx_amount(text)
    except AmountError:
        return
    stripped = text.strip().lstrip("+")
    if "," in stripped and "." in stripped:
        expected = Decimal(stripped.replace(",", ""))
    else:
        expected = Decimal(stripped.replace(",", "."))
    assert value == expected


# --- named tests (issue A) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25.000", "25.00"),
        ("100.0000", "100.00"),
        ("1,500", "1.50"),
        (".50", "0.50"),
        ("+.75", "0.75"),
        ("-64.12", "-64.12"),
        ("9,340.00", "9340.00"),
    ],
)
def test_ofx_amounts_decimal_point_is_always_the_decimal_point(text, expected):
    assert parse_ofx_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["25.001", "1.500,00", "1,234,567", "1 500", "12x", ""])
def test_ofx_amounts_refused(text):
    with pytest.raises(AmountError):
        parse_ofx_amount(text)


def test_ofx_file_trnamt_with_three_decimals_is_not_rescaled():
    data = sample("wells_fargo_v1.ofx").replace(b"<TRNAMT>2150.00", b"<TRNAMT>25.000")
    data = data.replace(b"<TRNAMT>1875.50", b"<TRNAMT>.50")
    result = parse(data)
    assert [tx.amount for tx in result.transactions][:2] == [Decimal("25.00"), Decimal("0.50")]


def test_camt_amount_with_a_leading_point_parses():
    data = sample("camt053_v08_deutsche_bank.xml").replace(
        b'<Amt Ccy="EUR">1500.00</Amt>\n        <CdtDbtInd>',
        b'<Amt Ccy="EUR">.02</Amt>\n        <CdtDbtInd>',
    )
    result = parse(data)
    assert result.transactions[0].amount == Decimal("0.02")
    assert result.rejected == []


@pytest.mark.parametrize(
    ("text", "separator", "reason"),
    [
        ("12.50", ",", "ambiguous amount '12.50': the amounts use a decimal comma (,)"),
        ("1,00", ".", "ambiguous amount '1,00': the amounts use a decimal point (.)"),
        ("1.2.3", ".", "amount '1.2.3' is not a number"),
        ("25.001", ".", "amount '25.001' has more than 2 decimal places"),
        ("1,234", None, "ambiguous amount '1,234': it may use a decimal point or a decimal comma"),
    ],
)
def test_amount_not_fitting_the_separators_is_rejected_with_a_reason(text, separator, reason):
    with pytest.raises(AmountError) as excinfo:
        parse_amount(text, separator)
    assert str(excinfo.value) == reason


def test_more_than_two_decimals_only_when_the_extra_digits_are_zeros():
    assert parse_amount("25.000", ".")[0] == Decimal("25.00")
    assert parse_amount("25,0000", ",")[0] == Decimal("25.00")
    with pytest.raises(AmountError, match="more than 2 decimal places"):
        parse_amount("25.001", ".")
    assert parse_amount("1.234", ".", currency="KWD")[0] == Decimal("1.234")
    assert parse_amount("1.230", ".", currency="KWD")[0] == Decimal("1.23")
    with pytest.raises(AmountError, match="more than 2 decimal places"):
        parse_amount("1.234", ".", currency="USD")


def test_csv_decimal_comma_file_rejects_a_decimal_point_amount():
    data = (
        b"Buchungstag;Betrag;Verwendungszweck\n"
        b"01.10.2024;1.234,56;INV-1\n"
        b"02.10.2024;12.50;INV-2\n"
        b"03.10.2024;100,00;INV-3\n"
    )
    result = parse(data)
    assert [tx.amount for tx in result.transactions] == [Decimal("1234.56"), Decimal("100.00")]
    assert result.rejected == [
        RejectedLine(3, "line 3: ambiguous amount '12.50': the amounts use a decimal comma (,)")
    ]
    assert result.rejected[0].raw == "02.10.2024;12.50;INV-2"


def test_csv_decimal_point_file_rejects_a_decimal_comma_amount_and_junk_numbers():
    data = (
        b"Date,Description,Amount\n"
        b'2024-10-01,A,"1,250.50"\n'
        b'2024-10-02,B,"1,00"\n'
        b"2024-10-03,C,1.2.3\n"
        b"2024-10-04,D,25.000\n"
    )
    result = parse(data)
    assert [tx.amount for tx in result.transactions] == [Decimal("1250.50"), Decimal("25.00")]
    assert [line.reason for line in result.rejected] == [
        "line 3: ambiguous amount '1,00': the amounts use a decimal point (.)",
        "line 4: amount '1.2.3' is not a number",
    ]


def test_csv_truncated_last_line_is_rejected_not_imported():
    data = b"Date,Amount,Payer\n2026-11-08,125.00,Acme\n2026-11-09,8"
    result = parse(data)
    assert [tx.amount for tx in result.transactions] == [Decimal("125.00")]
    assert result.rejected == [
        RejectedLine(3, "line 3: truncated line (2 of 3 columns); the file may be incomplete")
    ]
    assert result.rejected[0].raw == "2026-11-09,8"


def test_csv_too_few_columns_and_junk_lines_are_rejected():
    data = (
        b"Date,Amount,Payer,Reference\n"
        b"2026-11-08,125.00,Acme,INV-1\n"
        b"2026-11-09,80.00,Globex\n"
        b"garbage\n"
        b"\n"
        b"Closing balance,1000.00\n"
        b"2026-11-10,90.00,Initech,INV-2\n"
    )
    result = parse(data, fmt="csv")
    assert [tx.amount for tx in result.transactions] == [Decimal("125.00"), Decimal("90.00")]
    assert result.rejected == [
        RejectedLine(3, "line 3: too few columns (3 of 4)"),
        RejectedLine(4, "line 4: too few columns (1 of 4)"),
    ]
    assert [line.raw for line in result.rejected] == ["2026-11-09,80.00,Globex", "garbage"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1,250.50", "1250.50"), ("12.5", "12.50"), ("25.000", "25.00"), ("$40", "40.00")],
)
def test_parse_money_accepts_exact_amounts(raw, expected):
    assert parse_money(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("12,50", "“12,50” is ambiguous"),
        ("0,5", "“0,5” is ambiguous"),
        ("1.234", "At most two decimal places."),
        ("abc", "“abc” is not an amount."),
        ("1.2.3", "“1.2.3” is not an amount."),
        ("-5", "Must be greater than zero."),
        ("1000000000000", "Too large."),
    ],
)
def test_parse_money_rejects_what_the_importers_reject(raw, message):
    with pytest.raises(forms.ValidationError) as excinfo:
        parse_money(raw)
    assert excinfo.value.messages[0].startswith(message)


def test_rejected_lines_carry_the_raw_text_in_every_format():
    ofx = parse(sample("wells_fargo_v1.ofx").replace(b"<TRNAMT>1875.50", b"<TRNAMT>12x"))
    assert ofx.rejected[0].raw.startswith("<STMTTRN>") and "<TRNAMT>12x" in ofx.rejected[0].raw
    camt = parse(sample("camt053_v02_ing.xml"))
    assert camt.rejected[0].raw.lstrip().startswith("<Ntry>")
    assert "PDNG" in camt.rejected[0].raw
    bai2 = parse(sample("jpmorgan_bai2.bai").replace(b"16,301,97525,V", b"16,3X1,97525,V"))
    assert bai2.rejected[0].raw.startswith("16,3X1,97525,V")
    mt940 = parse(
        sample("mt940_abn_swift_keywords.sta").replace(b"C2000,NTRF", b"C20x0,NTRF"), fmt="mt940"
    )
    assert mt940.rejected[0].raw.startswith(":61:2410161016C20x0")
    assert ":86:" in mt940.rejected[0].raw


def test_reject_keeps_its_two_argument_form_and_caps_raw():
    from payments.importers import ParseResult

    result = ParseResult(format="csv")
    result.reject(3, "bad")
    result.reject(4, "long", "x" * 2000)
    assert result.rejected == [RejectedLine(3, "line 3: bad"), RejectedLine(4, "line 4: long")]
    assert result.rejected[0].raw == ""
    assert len(result.rejected[1].raw) <= 500


def test_import_file_error_is_still_raised_for_unreadable_files():
    with pytest.raises(ImportFileError):
        parse(b"\x00\x01", fmt="ofx")
