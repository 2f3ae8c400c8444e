"""The payer's account (IBAN or account number): read from bank files, accepted over the API
(an IBAN must pass its check), learned for the customer when a clerk applies the payment,
unlearned on reassignment, and strong evidence for matching."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from arpilot.errors import ValidationFailed
from payments.importers import CsvMapping, parse
from payments.matching import MatchIndex, OpenInvoice, PayerHistory, PaymentInput
from payments.matching.normalize import account_key, account_normalize, iban_valid
from payments.models import PayerCustomerHistory, Payment
from payments.services import payer_alias_rename
from payments.services.aliases import payer_account_clean, payer_key
from tests.factories import CustomerFactory, make_invoice, make_payment

SAMPLES = Path(__file__).parent / "samples"
URL = "/api/v1/payments"
IBAN = "DE89 3704 0044 0532 0130 00"
IBAN_KEY = "DE89370400440532013000"


# --- the account itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (IBAN, True),
        ("GB82 WEST 1234 5698 7654 32", True),
        ("BE68539007547034", True),
        ("DE88370400440532013000", False),  # a check digit off
        ("GB82WEST12345698765433", False),
    ],
)
def test_an_iban_is_checked_by_mod_97(text, valid):
    assert iban_valid(account_normalize(text)) is valid


def test_an_account_is_stored_upper_case_without_spaces_and_an_iban_must_add_up():
    assert payer_account_clean(" de89-3704 0044 0532 0130 00 ") == IBAN_KEY
    assert payer_account_clean("0012 3456 78") == "0012345678"  # not an IBAN: kept as given
    assert payer_account_clean("") == ""
    with pytest.raises(ValidationFailed) as refused:
        payer_account_clean("DE88 3704 0044 0532 0130 00")
    assert list(refused.value.fields) == ["payer_account"]
    assert account_key(IBAN) == f"account:{IBAN_KEY}"


# --- over the API ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_takes_the_payer_account_and_shows_it(api):
    response = api.post(
        URL,
        {"amount": "10.00", "payment_date": "2026-06-01", "payer_account": IBAN},
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert data["payer_account"] == IBAN_KEY
    assert api.get(f"{URL}/{data['id']}").json()["data"]["payer_account"] == IBAN_KEY
    without = api.post(URL, {"amount": "10.00", "payment_date": "2026-06-01"}, format="json")
    assert without.json()["data"]["payer_account"] is None


@pytest.mark.django_db
def test_an_iban_that_does_not_add_up_is_a_400_naming_the_field(api):
    response = api.post(
        URL,
        {
            "amount": "10.00",
            "payment_date": "2026-06-01",
            "payer_account": "DE88370400440532013000",
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == ["payer_account"]
    assert not Payment.objects.exists()


# --- bank files ------------------------------------------------------------------------------


def test_camt053_reads_the_debtor_account():
    result = parse((SAMPLES / "camt053_v02_ing.xml").read_bytes())
    accounts = {tx.payer_name: tx.payer_account for tx in result.transactions}
    assert accounts["Stark Industries Europe"] == "BE68539007547034"


def test_camt053_reads_another_id_and_none_when_one_booking_has_several_payers():
    def entry(total, *items):
        details = "".join(
            "<TxDtls>"
            + (f"<AmtDtls><TxAmt><Amt Ccy='EUR'>{amount}</Amt></TxAmt></AmtDtls>" if amount else "")
            + f"<RltdPties><Dbtr><Nm>Payer</Nm></Dbtr><DbtrAcct><Id>{account}</Id></DbtrAcct>"
            "</RltdPties></TxDtls>"
            for amount, account in items
        )
        return (
            f"<Ntry><Amt Ccy='EUR'>{total}</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
            "<BookgDt><Dt>2026-06-01</Dt></BookgDt>"
            f"<NtryDtls>{details}</NtryDtls></Ntry>"
        )

    xml = (
        "<?xml version='1.0'?><Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>"
        "<BkToCstmrStmt><GrpHdr><MsgId>1</MsgId></GrpHdr><Stmt><Id>1</Id>"
        "<Acct><Id><IBAN>BE68539007547034</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        + entry("10.00", ("10.00", "<Othr><Id>acct 123-45</Id></Othr>"))
        # A batch whose items have their own amounts: one credit each, each its own account.
        + entry(
            "11.00", ("5.00", f"<IBAN>{IBAN_KEY}</IBAN>"), ("6.00", "<IBAN>BE68539007547034</IBAN>")
        )
        # One booking for two payers (no amounts of their own): no one account.
        + entry("7.00", ("", f"<IBAN>{IBAN_KEY}</IBAN>"), ("", "<IBAN>BE68539007547034</IBAN>"))
        + "</Stmt></BkToCstmrStmt></Document>"
    ).encode()
    result = parse(xml)
    assert not result.rejected, result.rejected
    assert [(tx.amount, tx.payer_account) for tx in result.transactions] == [
        (Decimal("10.00"), "ACCT12345"),
        (Decimal("5.00"), IBAN_KEY),
        (Decimal("6.00"), "BE68539007547034"),
        (Decimal("7.00"), None),
    ]


def test_a_csv_column_mapped_as_payer_account_is_read():
    data = b"Date,Amount,Payer,IBAN\n2026-06-01,12.50,Acme,de89 3704 0044 0532 0130 00\n"
    result = parse(data, csv_mapping=CsvMapping(payer_account="IBAN"))
    assert [tx.payer_account for tx in result.transactions] == [IBAN_KEY]
    # Not mapped: a header named IBAN is not guessed to be the payer's.
    assert [tx.payer_account for tx in parse(data).transactions] == [None]


@pytest.mark.django_db(transaction=True)
def test_an_imported_payment_keeps_the_payer_account(api, django_capture_on_commit_callbacks):
    data = (SAMPLES / "camt053_v02_ing.xml").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"{URL}/import", {"file": SimpleUploadedFile("s.xml", data)}, format="multipart"
        )
    assert response.status_code == 202, response.content
    payment = Payment.objects.get(payer_name="Stark Industries Europe")
    assert payment.payer_account == "BE68539007547034"


# --- learning --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_clerks_apply_teaches_the_account_and_a_reassignment_unlearns_it(api, org):
    first = CustomerFactory(organization=org, company_name="Globex Corporation")
    second = CustomerFactory(organization=org, company_name="Initech LLC")
    wrong = make_invoice(org, customer=first, amount="100.00")
    right = make_invoice(org, customer=second, amount="100.00")
    payment = make_payment(org, amount="100.00", payer_name="ACH 4471", payer_account=IBAN)

    applied = api.patch(f"{URL}/{payment.pk}", {"invoice_id": str(wrong.pk)}, format="json")
    assert applied.status_code == 200, applied.content
    learned = dict(
        PayerCustomerHistory.objects.filter(customer=first).values_list("payer_key", "count")
    )
    assert learned == {f"account:{IBAN_KEY}": 1, payer_key("ACH 4471"): 1}

    moved = api.patch(f"{URL}/{payment.pk}", {"invoice_id": str(right.pk)}, format="json")
    assert moved.status_code == 200, moved.content
    assert not PayerCustomerHistory.objects.filter(customer=first).exists()
    assert set(
        PayerCustomerHistory.objects.filter(customer=second).values_list("payer_key", flat=True)
    ) == {f"account:{IBAN_KEY}", payer_key("ACH 4471")}


@pytest.mark.django_db
def test_a_learned_account_is_forgotten_not_renamed(org):
    customer = CustomerFactory(organization=org)
    alias = PayerCustomerHistory.objects.create(
        organization=org, payer_key=account_key(IBAN), customer=customer, count=1
    )
    with pytest.raises(ValidationFailed) as refused:
        payer_alias_rename(organization=org, alias_id=alias.pk, payer_name="Acme")
    assert list(refused.value.fields) == ["payer_name"]


# --- matching --------------------------------------------------------------------------------


def _book():
    def invoice(pk, customer, name, amount):
        return OpenInvoice(
            id=pk,
            invoice_number=f"INV-{pk}",
            customer_id=customer,
            customer_name=name,
            customer_external_id=None,
            contact_names=(),
            open_balance=Decimal(amount),
            issue_date=date(2026, 5, 1),
        )

    return [
        invoice(1, "c1", "Globex Corporation", "250.00"),
        invoice(2, "c1", "Globex Corporation", "80.00"),
        invoice(3, "c2", "Initech LLC", "250.00"),
    ]


def test_a_learned_account_is_strong_evidence_for_its_customer():
    history = PayerHistory()
    history.add_account(IBAN, "c1", 2)
    payment = PaymentInput(
        id="p",
        amount=Decimal("250.00"),
        payment_date=date(2026, 6, 1),
        payer_name="ONLINE TRANSFER",
        payer_account=IBAN_KEY,
    )
    with_account = MatchIndex.build(_book(), history).suggest(payment)
    assert with_account[0].invoice_ids == (1,)
    assert "payer's account previously matched to this customer" in with_account[0].reasons
    assert with_account[0].score > with_account[1].score + 0.2

    # The same payment without the account: nothing tells the two customers apart.
    anonymous = PaymentInput(
        id="p",
        amount=Decimal("250.00"),
        payment_date=date(2026, 6, 1),
        payer_name="ONLINE TRANSFER",
    )
    plain = MatchIndex.build(_book(), history).suggest(anonymous)
    assert plain[0].score == plain[1].score


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="candidate reads are PostgreSQL's")
def test_candidate_reads_find_the_customer_of_a_learned_account(org):
    from payments.services.match_candidates import candidate_book

    customer = CustomerFactory(organization=org, company_name="Globex Corporation")
    invoice = make_invoice(org, customer=customer, amount="321.00")
    PayerCustomerHistory.objects.create(
        organization=org, payer_key=account_key(IBAN), customer=customer, count=3
    )
    payment = PaymentInput(
        id="p",
        amount=Decimal("17.00"),  # no invoice of the amount, no name: only the account
        payment_date=date(2026, 6, 1),
        payer_name="XYZ",
        payer_account=IBAN_KEY,
    )
    invoices, history = candidate_book(org.pk, [payment])
    assert [item.id for item in invoices] == [invoice.pk]
    assert history.counts[account_key(IBAN)] == {customer.pk: 3}


@pytest.mark.django_db
def test_the_payment_page_shows_the_payer_account(org):
    from django.test import Client

    from arpilot import services as org_services

    payment = make_payment(org, amount="10.00", payer_account=IBAN)
    user = org_services.user_create(username="clara", password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user)
    client = Client()
    client.force_login(user)
    page = client.get(f"/payments/{payment.pk}/").content.decode()
    assert f"<code data-payer-account>{IBAN_KEY}</code>" in page


# --- properties: an account from outside is kept exactly or refused with a reason -------------

_BBAN = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=11, max_size=30
)  # IBANs have 15 to 34


def _with_check_digits(country: str, bban: str) -> str:
    digits = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return f"{country}{98 - digits % 97:02d}{bban}"


@given(
    country=st.sampled_from(["DE", "GB", "FR", "NL", "BH", "KW"]), bban=_BBAN, spaces=st.booleans()
)
def test_property_a_valid_iban_is_kept_exactly_however_it_is_spaced(country, bban, spaces):
    iban = _with_check_digits(country, bban)
    written = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if spaces else iban
    assert iban_valid(iban)
    assert payer_account_clean(written.lower()) == iban


@given(country=st.sampled_from(["DE", "GB", "FR"]), bban=_BBAN, position=st.integers(0, 40))
def test_property_an_iban_with_one_wrong_digit_is_refused_naming_the_field(country, bban, position):
    iban = _with_check_digits(country, bban)
    digits = [i for i, ch in enumerate(iban) if ch.isdigit() and i >= 2]
    index = digits[position % len(digits)]
    wrong = iban[:index] + str((int(iban[index]) + 1) % 10) + iban[index + 1 :]
    with pytest.raises(ValidationFailed) as caught:
        payer_account_clean(wrong)
    assert "payer_account" in caught.value.fields


@given(st.text(max_size=80))
def test_property_any_text_is_stored_as_its_letters_and_digits_or_refused(text):
    try:
        stored = payer_account_clean(text)
    except ValidationFailed as exc:
        assert "payer_account" in exc.fields
        return
    assert stored == account_normalize(text)
    assert len(stored) <= 64
