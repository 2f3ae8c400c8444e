from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from dunning import services
from dunning.models import DunningPolicy, Promise, PromiseInvoice, Reminder, ReminderInvoice
from mail.models import OutboundEmail
from tests.dunning.factories import TODAY, customer_with_contacts, overdue_invoice
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _plan(org, today=TODAY):
    return [plan.as_dict() for plan in services.dunning_plan(organization=org, today=today)]


def test_one_reminder_per_customer_and_level_grouping_its_invoices(org, customer):
    a = overdue_invoice(org, customer, days_overdue=4)
    b = overdue_invoice(org, customer, days_overdue=10)
    c = overdue_invoice(org, customer, days_overdue=20)
    overdue_invoice(org, customer, days_overdue=2)  # not yet at level 1 (3 days)

    plans = _plan(org)

    assert [(p["level"], [i["invoice_number"] for i in p["invoices"]]) for p in plans] == [
        (1, [b.invoice_number, a.invoice_number]),
        (2, [c.invoice_number]),
    ]
    assert plans[0]["total"] == Decimal("200.00")
    assert plans[0]["to"] == [f"ap@{customer.external_id.lower()}.example.com"]


def test_a_run_sends_each_level_once_per_invoice(org, customer):
    overdue_invoice(org, customer, days_overdue=4)

    first = services.dunning_run(organization=org, today=TODAY)
    second = services.dunning_run(organization=org, today=TODAY + timedelta(days=1))

    assert [r.level for r in first] == [1]
    assert second == []
    assert OutboundEmail.objects.filter(kind="reminder").count() == 1


def test_the_next_level_follows_when_its_day_comes(org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    services.dunning_run(organization=org, today=TODAY)

    later = services.dunning_run(organization=org, today=TODAY + timedelta(days=10))

    assert [(r.level, r.to) for r in later] == [(2, list(later[0].to))]
    levels = ReminderInvoice.objects.filter(invoice=invoice).values_list("level", flat=True)
    assert sorted(levels) == [1, 2]


def test_an_invoice_past_several_levels_gets_only_the_highest(org, customer):
    overdue_invoice(org, customer, days_overdue=31)

    assert [p["level"] for p in _plan(org)] == [3]


def test_the_same_level_twice_for_an_invoice_is_refused_by_the_database(org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]

    with pytest.raises(IntegrityError), transaction.atomic():
        ReminderInvoice.objects.create(
            organization=org,
            reminder=reminder,
            invoice=invoice,
            level=1,
            amount_due=Decimal("1.00"),
            days_overdue=4,
        )


def test_no_reminder_under_the_minimum_overdue_total(org, customer):
    overdue_invoice(org, customer, days_overdue=4, amount="9.99")  # default minimum 10.00
    small = customer_with_contacts(org)
    overdue_invoice(org, small, days_overdue=4, amount="5.00")
    overdue_invoice(org, small, days_overdue=1, amount="5.00")  # counts toward the total

    plans = _plan(org)

    assert [p["customer_id"] for p in plans] == [str(small.pk)]


def test_disputed_and_promised_invoices_are_left_out(org, customer):
    disputed = overdue_invoice(org, customer, days_overdue=4)
    promised = overdue_invoice(org, customer, days_overdue=5)
    kept = overdue_invoice(org, customer, days_overdue=6)
    services.dispute_open(organization=org, invoice_id=disputed.pk, reason_code="pricing")
    services.promise_create(
        organization=org,
        customer_id=customer.pk,
        invoice_ids=[promised.pk],
        amount=Decimal("100.00"),
        promised_date=datetime.now(UTC).date() + timedelta(days=5),
    )

    plans = _plan(org)

    assert [i["invoice_id"] for p in plans for i in p["invoices"]] == [str(kept.pk)]


def test_a_broken_promise_lets_dunning_resume(org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=5)
    promise = Promise.objects.create(
        organization=org,
        customer=customer,
        amount=Decimal("100.00"),
        promised_date=TODAY,
        amount_due_at_promise=Decimal("100.00"),
        status=Promise.Status.BROKEN,
    )
    PromiseInvoice.objects.create(organization=org, promise=promise, invoice=invoice)

    assert len(_plan(org)) == 1


def test_level_contacts_by_escalation_level_else_the_primary(org):
    customer = customer_with_contacts(org)
    overdue_invoice(org, customer, days_overdue=31)  # level 3: escalation levels 1 and 2
    lonely = CustomerFactory(organization=org)
    ContactFactory(
        customer=lonely, email="only@lonely.example.com", is_primary=True, escalation_level=5
    )
    overdue_invoice(org, lonely, days_overdue=4)
    nobody = CustomerFactory(organization=org)
    ContactFactory(customer=nobody, email="", is_primary=True)
    overdue_invoice(org, nobody, days_overdue=4)

    plans = {p["customer_id"]: p["to"] for p in _plan(org)}

    ext = customer.external_id.lower()
    assert plans == {
        str(customer.pk): [f"ap@{ext}.example.com", f"cfo@{ext}.example.com"],
        str(lonely.pk): ["only@lonely.example.com"],
    }


def test_the_email_is_rendered_from_the_templates(org, customer):
    a = overdue_invoice(org, customer, days_overdue=4, amount="120.50")

    reminder = services.dunning_run(organization=org, today=TODAY)[0]

    email = OutboundEmail.objects.get(pk=reminder.email_id)
    assert email.subject == "Friendly reminder: overdue invoices from Acme Receivables"
    assert email.before_send == "dunning.services.reminders.reminder_before_send"
    assert email.reference == {"reminder_id": str(reminder.pk)}
    assert "Dear Ada Payable," in email.body_text
    assert f"- {a.invoice_number}: 120.50 USD, due 2026-03-06 (4 days overdue)" in email.body_text
    assert "Total overdue: 120.50 USD" in email.body_text
    assert "Please pay by bank transfer" in email.body_text
    assert "<td>120.50 USD</td>" in email.body_html
    assert email.attachments.count() == 0
    assert reminder.total == Decimal("120.50")


def test_html_is_autoescaped_and_text_is_not(org):
    customer = customer_with_contacts(org, company_name="Bits & <Bytes>")
    customer.contacts.update(contact_name="")
    overdue_invoice(org, customer, days_overdue=4)

    reminder = services.dunning_run(organization=org, today=TODAY)[0]

    email = OutboundEmail.objects.get(pk=reminder.email_id)
    assert "Dear Bits & <Bytes>," in email.body_text
    assert "Dear Bits &amp; &lt;Bytes&gt;," in email.body_html


def test_levels_with_attach_statement_carry_the_statement_pdf(org, customer):
    overdue_invoice(org, customer, days_overdue=31)

    reminder = services.dunning_run(organization=org, today=TODAY)[0]

    attachment = OutboundEmail.objects.get(pk=reminder.email_id).attachments.get()
    assert attachment.mimetype == "application/pdf"
    assert attachment.filename.startswith("statement-")
    assert bytes(attachment.content) == b"%PDF-fake"


def test_dry_run_over_the_api_sends_nothing(api, org, customer):
    overdue_invoice(org, customer, days_overdue=4, today=datetime.now(UTC).date())

    response = api.post("/api/v1/collections/run", {"dry_run": True}, format="json")

    assert response.status_code == 200
    assert [p["level"] for p in response.json()["data"]] == [1]
    assert Reminder.objects.count() == 0
    assert OutboundEmail.objects.count() == 0


def test_run_over_the_api_queues_the_run(api, org, customer):
    overdue_invoice(org, customer, days_overdue=4, today=datetime.now(UTC).date())

    response = api.post("/api/v1/collections/run", {}, format="json")

    assert response.status_code == 202
    assert response.json() == {"queued": True}
    assert Reminder.objects.for_org(org).count() == 1


def test_run_input_is_validated(api):
    response = api.post("/api/v1/collections/run", {"dry_run": "maybe"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["dry_run"]


def test_a_run_sees_only_its_organization(org, other_org, customer):
    overdue_invoice(org, customer, days_overdue=4)

    assert services.dunning_run(organization=other_org, today=TODAY) == []


# --- the schedule: run_at in the organization's time zone ------------------------------------


def _at(hour, minute=0, day=TODAY):
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def test_the_run_starts_at_run_at_local_time_not_utc(org):
    org.timezone = "America/New_York"  # UTC-4 on 2026-03-10 (daylight time since 03-08)
    org.save()
    DunningPolicy.objects.for_org(org).update(run_at=time(8, 0))

    assert services.policies_due(now=_at(8, 5)) == []  # 08:05 UTC is 04:05 in New York
    assert services.policies_due(now=_at(11, 59)) == []  # 07:59 local
    assert services.policies_due(now=_at(12, 0)) == [org.pk]  # 08:00 local
    assert services.policies_due(now=_at(12, 5)) == []  # once a local day
    assert services.policies_due(now=_at(23, 0)) == []  # 19:00 local, same day
    assert services.policies_due(now=_at(12, 0, TODAY + timedelta(days=1))) == [org.pk]


def test_a_zone_ahead_of_utc_runs_on_its_own_date(org):
    org.timezone = "Pacific/Auckland"  # UTC+13 in March
    org.save()
    DunningPolicy.objects.for_org(org).update(run_at=time(8, 0), last_run_on=TODAY)

    # 19:30 UTC on the 10th is 08:30 on the 11th in Auckland: a new local day.
    assert services.policies_due(now=_at(19, 30)) == [org.pk]
    assert DunningPolicy.objects.for_org(org).get().last_run_on == TODAY + timedelta(days=1)


def test_a_disabled_policy_never_runs(org):
    DunningPolicy.objects.for_org(org).update(enabled=False, run_at=time(0, 0))

    assert services.policies_due(now=_at(12, 0)) == []


def test_the_beat_task_runs_the_due_organizations(org, customer, monkeypatch):
    from dunning import tasks

    today = datetime.now(UTC).date()
    overdue_invoice(org, customer, days_overdue=4, today=today)
    DunningPolicy.objects.for_org(org).update(run_at=time(0, 0))

    assert tasks.runs_due_task() == 1
    assert Reminder.objects.for_org(org).count() == 1
    assert tasks.runs_due_task() == 0


# --- query counts: constant per batch of customers ------------------------------------------


def _customers(org, count):
    for _ in range(count):
        customer = customer_with_contacts(org)
        overdue_invoice(org, customer, days_overdue=4)
        overdue_invoice(org, customer, days_overdue=31)


def _queries(func):
    with CaptureQueriesContext(connection) as captured:
        result = func()
    return len(captured), result


@pytest.mark.parametrize("count", [2, 5])
def test_dry_run_queries_do_not_grow_with_customers(org, count):
    _customers(org, count)
    services.policy_get_or_seed(organization=org)

    queries, plans = _queries(lambda: services.dunning_plan(organization=org, today=TODAY))

    assert len(plans) == 2 * count
    # the policy and its levels, the customer ids, then per batch: invoices, levels sent,
    # contacts
    assert queries == 6


@pytest.mark.parametrize("count", [2, 5])
def test_run_queries_are_fixed_per_batch_plus_the_emails(org, count, settings):
    _customers(org, count)
    services.policy_get_or_seed(organization=org)

    queries, reminders = _queries(lambda: services.dunning_run(organization=org, today=TODAY))

    assert len(reminders) == 2 * count
    # Fixed: the policy and its levels, the customer ids, then per batch the transaction,
    # the policy lock and its levels, invoices, levels sent, contacts, the emails and their
    # attachments, the reminders and their invoices (four bulk inserts). Per customer (a
    # level-1 and a level-3 reminder): for level 3 the statement's journal read.
    assert queries == 14 + count
