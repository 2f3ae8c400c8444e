"""Statements of account emailed through the mail outbox: one customer's
(``POST /customers/{id}/statement/send``) or many (``POST /statements/send``, rendered by
``statements_send_task``)."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail as django_mail
from django.utils import timezone

from mail.models import OutboundEmail
from receivables import services, tasks
from receivables.services import statements as statement_services
from tests.factories import ContactFactory, CustomerFactory, make_invoice

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _emails_stay_in_memory(settings):
    settings.EMAIL_BACKEND = LOCMEM


def reachable_customer(org, name, *, email, balance="500.00"):
    """A customer with a primary contact at ``email`` and, unless ``balance`` is None, an
    open invoice of ``balance``."""
    customer = CustomerFactory(organization=org, company_name=name)
    ContactFactory(customer=customer, email=email, is_primary=True)
    if balance is not None:
        make_invoice(org, customer=customer, amount=balance)
    return customer


@pytest.fixture
def booked(org, customer):
    """Acme Corp owes 1,050.00: INV-MAIL-1 of 1,250.00 issued ten days ago, 200.00 paid."""
    invoice = make_invoice(
        org,
        customer=customer,
        amount="1250.00",
        invoice_number="INV-MAIL-1",
        issue_date=TODAY - timedelta(days=10),
    )
    services.invoice_apply_payment(
        invoice=invoice, amount=Decimal("200.00"), received_date=TODAY - timedelta(days=3)
    )
    return invoice


@pytest.fixture
def contacts(customer):
    """The primary contact and an escalation-level-1 one get statements; a level-2 contact
    and a contact without an email do not."""
    return {
        "primary": ContactFactory(
            customer=customer,
            contact_name="Zoe Primary",
            email="zoe@acme.test",
            is_primary=True,
            escalation_level=2,
        ),
        "level_1": ContactFactory(
            customer=customer, contact_name="Al Accounts", email="ap@acme.test"
        ),
        "level_1_again": ContactFactory(
            customer=customer, contact_name="Bo Accounts", email="AP@acme.test"
        ),
        "level_2": ContactFactory(
            customer=customer, contact_name="Cy Boss", email="boss@acme.test", escalation_level=2
        ),
        "no_email": ContactFactory(customer=customer, contact_name="Di Phone", email=""),
    }


# --- one customer ------------------------------------------------------------------------------


def test_send_queues_the_statement_pdf_to_the_primary_and_level_1_contacts(
    api, org, customer, booked, contacts, django_capture_on_commit_callbacks
):
    start = (TODAY - timedelta(days=30)).isoformat()

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(
            f"/api/v1/customers/{customer.pk}/statement/send", {"from": start}, format="json"
        )

    assert response.status_code == 202
    email = OutboundEmail.objects.get()
    assert response.json() == {
        "queued": 1,
        "email_id": str(email.pk),
        "to": ["zoe@acme.test", "ap@acme.test"],
    }
    assert len(callbacks) == 1  # the outbox's send task, after commit
    assert email.organization_id == org.pk
    assert email.kind == "statement"
    assert email.status == OutboundEmail.Status.QUEUED
    assert email.to == ["zoe@acme.test", "ap@acme.test"]
    assert email.reference == {"customer_id": str(customer.pk), "from": start, "to": str(TODAY)}
    assert email.subject == (
        f"Statement of account from Acme Receivables: {start} to {TODAY.isoformat()}"
    )
    assert "Dear Acme Corp," in email.body_text
    assert f"for {start} to {TODAY.isoformat()}" in email.body_text
    assert f"Closing balance on {TODAY.isoformat()}: $1,050.00" in email.body_text
    assert "$1,050.00" in email.body_html and "Acme Corp" in email.body_html
    [attachment] = email.attachments.all()
    assert attachment.filename == f"statement-{customer.external_id}-{start}-{TODAY}.pdf"
    assert attachment.mimetype == "application/pdf"
    assert bytes(attachment.content).startswith(b"%PDF-")
    assert attachment.size == len(bytes(attachment.content))


def test_send_defaults_to_the_last_90_days(api, customer, booked, contacts):
    response = api.post(f"/api/v1/customers/{customer.pk}/statement/send")

    assert response.status_code == 202
    assert OutboundEmail.objects.get().reference == {
        "customer_id": str(customer.pk),
        "from": str(TODAY - timedelta(days=90)),
        "to": str(TODAY),
    }


def test_send_without_a_contact_with_an_email_is_a_400_naming_customer_id(api, customer, booked):
    ContactFactory(customer=customer, email="", is_primary=True)
    ContactFactory(customer=customer, email="later@acme.test", escalation_level=2)

    response = api.post(f"/api/v1/customers/{customer.pk}/statement/send")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["customer_id"]
    assert "no contact with an email" in error["message"]
    assert OutboundEmail.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "someday"}, "from"),
        ({"to": "2024-02-30"}, "to"),
        ({"from": "2024-03-02", "to": "2024-03-01"}, "from"),
    ],
)
def test_send_with_a_bad_period_is_a_400_naming_the_field(api, customer, contacts, body, field):
    response = api.post(f"/api/v1/customers/{customer.pk}/statement/send", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert OutboundEmail.objects.count() == 0


def test_another_organizations_customer_is_a_404(api, other_api, customer, contacts):
    other = other_api.post(f"/api/v1/customers/{customer.pk}/statement/send")
    malformed = api.post("/api/v1/customers/not-an-id/statement/send")

    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
    assert malformed.status_code == 404
    assert OutboundEmail.objects.count() == 0


def test_an_idempotency_key_sends_one_email_for_a_retried_request(api, customer, contacts):
    url = f"/api/v1/customers/{customer.pk}/statement/send"

    first = api.post(url, HTTP_IDEMPOTENCY_KEY="statement-1")
    again = api.post(url, HTTP_IDEMPOTENCY_KEY="statement-1")

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert OutboundEmail.objects.count() == 1


def test_the_statement_get_route_still_refuses_post(api, customer, contacts):
    response = api.post(f"/api/v1/customers/{customer.pk}/statement")

    assert response.status_code == 405


def test_service_returns_none_and_queues_nothing_without_a_recipient(org, customer, booked):
    assert services.statement_send(organization=org, customer=customer) is None
    assert OutboundEmail.objects.count() == 0


# --- many customers --------------------------------------------------------------------------


def test_bulk_send_selects_every_customer_with_an_open_balance(
    api, org, other_org, django_capture_on_commit_callbacks
):
    owing = reachable_customer(org, "Owing Ltd", email="ap@owing.test")
    partly_paid = reachable_customer(org, "Partly Ltd", email="ap@partly.test")
    services.invoice_apply_payment(
        invoice=partly_paid.invoices.get(), amount=Decimal("100.00"), received_date=TODAY
    )
    silent = CustomerFactory(organization=org, company_name="Silent Ltd")
    ContactFactory(customer=silent, email="", is_primary=True)
    make_invoice(org, customer=silent, amount="50.00")
    paid_up = reachable_customer(org, "Paid Ltd", email="ap@paid.test")
    services.invoice_apply_payment(
        invoice=paid_up.invoices.get(), amount=Decimal("500.00"), received_date=TODAY
    )
    reachable_customer(org, "Quiet Ltd", email="ap@quiet.test", balance=None)
    reachable_customer(other_org, "Elsewhere Ltd", email="ap@elsewhere.test")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("/api/v1/statements/send")

    assert response.status_code == 202
    assert response.json() == {"queued": 2, "skipped_no_email": 1}
    assert len(callbacks) == 3  # the batch's task, then each email's send task
    emails = OutboundEmail.objects.order_by("subject", "to")
    assert sorted(email.reference["customer_id"] for email in emails) == sorted(
        [str(owing.pk), str(partly_paid.pk)]
    )
    assert {tuple(email.to) for email in emails} == {("ap@owing.test",), ("ap@partly.test",)}
    assert all(email.organization_id == org.pk for email in emails)
    assert sorted(tuple(message.to) for message in django_mail.outbox) == [
        ("ap@owing.test",),
        ("ap@partly.test",),
    ]
    pdfs = [message.attachments[0] for message in django_mail.outbox]
    assert all(content.startswith(b"%PDF-") for _name, content, _type in pdfs)


def test_bulk_send_of_named_customers_sends_them_whatever_their_balance(
    api, org, django_capture_on_commit_callbacks
):
    quiet = reachable_customer(org, "Quiet Ltd", email="ap@quiet.test", balance=None)
    owing = reachable_customer(org, "Owing Ltd", email="ap@owing.test")
    reachable_customer(org, "Not Asked Ltd", email="ap@notasked.test")
    silent = CustomerFactory(organization=org, company_name="Silent Ltd")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/statements/send",
            {"customer_ids": [str(quiet.pk), str(owing.pk), str(silent.pk), str(quiet.pk)]},
            format="json",
        )

    assert response.status_code == 202
    assert response.json() == {"queued": 2, "skipped_no_email": 1}
    assert sorted(email.to[0] for email in OutboundEmail.objects.all()) == [
        "ap@owing.test",
        "ap@quiet.test",
    ]


@pytest.mark.parametrize(
    "customer_ids",
    [
        "unknown",
        "other_org",
        "not_an_id",
        "empty",
        "not_a_list",
    ],
)
def test_bulk_send_with_bad_customer_ids_is_a_400_naming_customer_ids(
    api, org, customer, other_customer, contacts, django_capture_on_commit_callbacks, customer_ids
):
    ids = {
        "unknown": [str(customer.pk), str(uuid.uuid4())],
        "other_org": [str(customer.pk), str(other_customer.pk)],
        "not_an_id": [str(customer.pk), "banana"],
        "empty": [],
        "not_a_list": str(customer.pk),
    }[customer_ids]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("/api/v1/statements/send", {"customer_ids": ids}, format="json")

    assert response.status_code == 400
    assert [field.split(".")[0] for field in response.json()["error"]["fields"]] == ["customer_ids"]
    assert callbacks == []
    assert OutboundEmail.objects.count() == 0


def test_bulk_send_with_nothing_to_send_queues_no_task(
    api, org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post("/api/v1/statements/send")

    assert response.status_code == 202
    assert response.json() == {"queued": 0, "skipped_no_email": 0}
    assert callbacks == []


def test_bulk_send_queues_a_task_per_chunk_of_customers(
    org, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(statement_services, "STATEMENTS_PER_TASK", 2)
    sent = []
    batches = []
    monkeypatch.setattr(
        tasks.statements_send_task,
        "apply_async",
        lambda args, **options: sent.append(args) or batches.append(options["kwargs"]["batch"]),
    )
    for n in range(5):
        reachable_customer(org, f"Customer {n}", email=f"ap{n}@example.test")

    with django_capture_on_commit_callbacks(execute=True):
        result = services.statements_send(organization=org)

    assert result == services.StatementsQueued(queued=5, skipped_no_email=0)
    assert [len(ids) for _org_id, ids in sent] == [2, 2, 1]
    assert {org_id for org_id, _ids in sent} == {org.pk}
    assert len(set(batches)) == 1 and batches[0]  # one batch id for every chunk
    assert OutboundEmail.objects.count() == 0  # rendered by the task, not in the request


# --- the task ------------------------------------------------------------------------------


def test_task_sends_each_customer_in_its_own_transaction(org, monkeypatch):
    good = reachable_customer(org, "Good Ltd", email="ap@good.test")
    broken = reachable_customer(org, "Broken Ltd", email="ap@broken.test")
    gone_quiet = reachable_customer(org, "Gone Quiet Ltd", email="ap@quiet.test")
    gone_quiet.contacts.update(email="")
    real_pdf = statement_services.statement_pdf

    def pdf_failing_for_broken(statement, **kwargs):
        if statement.customer.pk == broken.pk:
            raise RuntimeError("renderer crashed")
        return real_pdf(statement, **kwargs)

    monkeypatch.setattr(statement_services, "statement_pdf", pdf_failing_for_broken)
    ids = [str(pk) for pk in (broken.pk, good.pk, gone_quiet.pk, uuid.uuid4())]

    queued = tasks.statements_send_task(org.pk, ids)

    assert queued == 1
    [email] = OutboundEmail.objects.all()
    assert email.to == ["ap@good.test"]
    assert email.reference["customer_id"] == str(good.pk)


def test_task_ignores_another_organizations_customers(org, other_org):
    elsewhere = reachable_customer(other_org, "Elsewhere Ltd", email="ap@elsewhere.test")

    assert tasks.statements_send_task(org.pk, [str(elsewhere.pk)]) == 0
    assert OutboundEmail.objects.count() == 0


def test_a_redelivered_task_does_not_send_a_statement_of_its_batch_twice(org):
    """The worker died mid-chunk after queueing some statements: the redelivered task
    queues only the others; another batch (a new request) sends them all again."""
    first = reachable_customer(org, "First Ltd", email="ap@first.test")
    second = reachable_customer(org, "Second Ltd", email="ap@second.test")
    ids = [str(first.pk), str(second.pk)]
    tasks.statements_send_task(org.pk, ids[:1], batch="batch-1")  # then the worker died

    assert tasks.statements_send_task(org.pk, ids, batch="batch-1") == 1  # redelivered
    assert tasks.statements_send_task(org.pk, ids, batch="batch-1") == 0
    assert tasks.statements_send_task(org.pk, ids, batch="batch-2") == 2

    sent = OutboundEmail.objects.filter(kind="statement")
    assert sorted(e.reference["customer_id"] for e in sent) == sorted(ids + ids)
    assert {e.reference["batch"] for e in sent} == {"batch-1", "batch-2"}
