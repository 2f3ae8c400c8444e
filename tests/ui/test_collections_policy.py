"""The dunning policy editor, the dry run and Run now, and the reminders list (clerk pages).

The editor saves through the API's serializer and ``policy_update``, so its errors are the
API's, placed next to their field in their level; every other button of the form (add,
remove, move, renumber, preview) re-renders what was typed without saving it."""

import html as html_lib
import re
from datetime import time
from decimal import Decimal

import pytest
from django.urls import reverse

from dunning import services
from dunning.models import DunningPolicy, Reminder
from tests.dunning.factories import customer_with_contacts, overdue_invoice
from tests.ui.builders import words

pytestmark = pytest.mark.django_db

POLICY = reverse("collections:policy")
RUN = reverse("collections:run")
REMINDERS = reverse("collections:reminders")


@pytest.fixture(autouse=True)
def _no_pdf(monkeypatch):
    """Statement PDFs are small fakes (WeasyPrint is slow and may be missing)."""
    monkeypatch.setattr(
        "dunning.services.run.statement_pdf", lambda statement, organization_name: b"%PDF-fake"
    )


def csrf(client) -> dict:
    client.get(POLICY)
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def form_data(org, **overrides) -> dict:
    """The editor's form as the saved policy fills it (row keys 0, 1, …)."""
    policy = services.policy_get_or_seed(organization=org)
    data = {
        "op": "save",
        "run_at": policy.run_at.strftime("%H:%M"),
        "minimum_overdue": str(policy.minimum_overdue),
        "remittance_instructions": policy.remittance_instructions,
        "rows": [],
    }
    if policy.enabled:
        data["enabled"] = "on"
    for key, level in enumerate(policy.levels.all()):
        data["rows"].append(str(key))
        prefix = f"L{key}-"
        data.update(
            {
                prefix + "level": str(level.level),
                prefix + "days_after_due": str(level.days_after_due),
                prefix + "contact_escalation_levels": ", ".join(
                    str(n) for n in level.contact_escalation_levels
                ),
                prefix + "subject": level.subject,
                prefix + "body_text": level.body_text,
                prefix + "body_html": level.body_html,
            }
        )
        if level.attach_statement:
            data[prefix + "attach_statement"] = "on"
    data.update(overrides)
    return data


def field_error(response, field_id: str) -> str:
    """The error shown right under the field ``field_id`` (empty when none)."""
    html = response.content.decode()
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-err">(.*?)</p>', html)
    return html_lib.unescape(match.group(1)) if match else ""


def text_of(response) -> str:
    """The page's words, entities decoded."""
    return html_lib.unescape(words(response))


def saved(org) -> DunningPolicy:
    return services.policy_get_or_seed(organization=org)


def today(org):
    return services.organization_today(org)


def overdue_customer(org, name="Zenith <Tools> Ltd", external_id="ZT-1", days=5, amount="120.00"):
    customer = customer_with_contacts(org, company_name=name, external_id=external_id)
    invoice = overdue_invoice(org, customer, days_overdue=days, amount=amount, today=today(org))
    return customer, invoice


# --- the editor -------------------------------------------------------------------------------


def test_the_policy_page_shows_the_default_policy_with_placeholders(ui, org):
    response = ui.get(POLICY)

    assert response.status_code == 200
    html = response.content.decode()
    for subject in ("Friendly reminder", "Second notice", "Final notice", "Escalation"):
        assert f'value="{subject}: overdue invoices from {{{{ organization_name }}}}"' in html
    text = words(response)
    assert "In the organization's time zone, UTC" in text
    assert "{{ totals.amount_due }}" in text
    assert response.content.decode().count('name="rows"') == 5  # and the new-level template
    assert 'value="08:00"' in response.content.decode()


def test_saving_changes_the_policy_as_the_api_serves_it(ui, org, api):
    data = form_data(
        org,
        run_at="06:45",
        minimum_overdue="25.50",
        **{"L0-days_after_due": "5", "L0-subject": "Hello {{ customer.company_name }}"},
    )
    data.pop("enabled")
    data["L1-contact_escalation_levels"] = "2, 1"

    response = ui.post(POLICY, data, **csrf(ui))

    assert response.status_code == 302
    assert response.url == POLICY
    policy = saved(org)
    assert policy.enabled is False
    assert policy.run_at == time(6, 45)
    assert policy.minimum_overdue == Decimal("25.50")
    levels = list(policy.levels.all())
    assert (levels[0].days_after_due, levels[0].subject) == (5, "Hello {{ customer.company_name }}")
    assert levels[1].contact_escalation_levels == [1, 2]
    api_levels = api.get("/api/v1/collections/policy").json()["data"]["levels"]
    assert api_levels[0]["days_after_due"] == 5
    assert "Dunning policy saved." in words(ui.get(POLICY))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("run_at", "25:00", "HH:MM"),
        ("minimum_overdue", "lots", "valid number"),
        ("minimum_overdue", "-1", "greater than or equal to 0"),
    ],
)
def test_a_bad_policy_field_is_shown_next_to_it(ui, org, field, value, message):
    response = ui.post(POLICY, form_data(org, **{field: value}), **csrf(ui))

    assert response.status_code == 400
    ids = {"run_at": "run_at", "minimum_overdue": "minimum_overdue"}
    assert message in field_error(response, ids[field])
    assert f'value="{value}"' in response.content.decode()
    assert saved(org).run_at == time(8, 0)


@pytest.mark.parametrize(
    ("key", "field", "value", "message"),
    [
        ("0", "days_after_due", "", "valid integer"),
        ("2", "days_after_due", "-4", "greater than or equal to 0"),
        ("1", "level", "0", "greater than or equal to 1"),
        ("3", "contact_escalation_levels", "first", "valid integer"),
        ("1", "contact_escalation_levels", "", "may not be empty"),
        ("2", "subject", "", "may not be blank"),
        ("1", "body_text", "{% if %}", "Template syntax error"),
        ("3", "body_html", "{% include 'base.html' %}", "Template syntax error"),
        ("1", "days_after_due", "2", "Must be more than level 1's 3 days."),
        ("2", "level", "1", "Level 1 appears twice."),
    ],
)
def test_a_bad_level_field_is_shown_next_to_it_in_its_level(ui, org, key, field, value, message):
    data = form_data(org, **{f"L{key}-{field}": value, "L0-subject": "Typed, not saved"})

    response = ui.post(POLICY, data, **csrf(ui))

    assert response.status_code == 400
    assert message in field_error(response, f"L{key}-{field}"), words(response)
    others = [k for k in "0123" if k != key]
    assert not any(field_error(response, f"L{k}-{field}") for k in others)
    html = response.content.decode()
    assert 'value="Typed, not saved"' in html  # nothing typed is lost
    assert "was not saved" in words(response)
    assert saved(org).levels.get(level=1).subject.startswith("Friendly reminder")


def test_nothing_typed_is_lost_on_an_error(ui, org):
    data = form_data(
        org,
        run_at="07:15",
        minimum_overdue="12.34",
        remittance_instructions="IBAN <XX00>",
        **{
            "L1-days_after_due": "1",
            "L2-body_text": "Typed body & more",
            "L3-body_html": "<p>{{ customer.company_name }}</p>",
        },
    )
    data.pop("L2-attach_statement")

    response = ui.post(POLICY, data, **csrf(ui))

    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="07:15"' in html
    assert 'value="12.34"' in html
    assert "IBAN &lt;XX00&gt;</textarea>" in html
    assert "Typed body &amp; more</textarea>" in html
    assert "&lt;p&gt;{{ customer.company_name }}&lt;/p&gt;</textarea>" in html
    assert 'name="L2-attach_statement" id="L2-attach_statement">' in html  # unticked stays so
    assert 'name="L3-attach_statement" id="L3-attach_statement" checked>' in html


def test_levels_are_added_removed_and_moved_without_saving(ui, org):
    headers = csrf(ui)

    added = ui.post(POLICY, form_data(org, op="add"), **headers)
    assert added.status_code == 200
    assert added.content.decode().count('name="rows"') == 6
    assert (
        'name="L4-level" id="L4-level" min="1" max="20" step="1" inputmode="numeric" value="5"'
        in (added.content.decode())
    )
    assert "Not saved yet" in words(added)
    assert saved(org).levels.count() == 4

    removed = ui.post(POLICY, form_data(org, op="remove:1"), **headers)
    html = removed.content.decode()
    assert html.count('name="rows"') == 4  # 3 rows and the new-level template
    assert 'name="L1-level"' not in html.split('id="level-template"')[0]

    moved = ui.post(POLICY, form_data(org, op="up:1"), **headers)
    html = moved.content.decode().split('id="level-template"')[0]
    assert html.index('id="level-1"') < html.index('id="level-0"')
    assert (
        'name="L1-level" id="L1-level" min="1" max="20" step="1" inputmode="numeric" value="1"'
        in html
    )

    # Saved in the new order: level 1 now says "Second notice" (and needs fewer days).
    data = form_data(org, op="save", **{"L1-days_after_due": "2"})
    data["rows"] = ["1", "0", "2", "3"]
    data["L1-level"], data["L0-level"] = "1", "2"
    assert ui.post(POLICY, data, **headers).status_code == 302
    assert saved(org).levels.get(level=1).subject.startswith("Second notice")


def test_an_unknown_row_key_or_operation_is_ignored_not_a_500(ui, org):
    data = form_data(org, op="remove:99")
    data["rows"] = [*data["rows"], "../etc", "0"]

    response = ui.post(POLICY, data, **csrf(ui))

    assert response.status_code == 200
    assert response.content.decode().count('name="rows"') == 5  # 4 and the template


# --- previews ---------------------------------------------------------------------------------


def test_a_level_previews_with_a_real_overdue_customer(ui, org):
    _, invoice = overdue_customer(org, days=20)
    data = form_data(org, op="preview:1", **{"L1-subject": "Typed {{ customer.company_name }}"})

    response = ui.post(POLICY, data, **csrf(ui))

    assert response.status_code == 200
    html = response.content.decode()
    preview = html.split('id="level-1-preview"')[1]
    assert "Typed Zenith &lt;Tools&gt; Ltd" in preview  # rendered, then escaped on the page
    assert invoice.invoice_number in preview
    assert "ap@zt-1.example.com" in preview
    assert 'sandbox=""' in preview
    assert "&lt;table&gt;" in preview  # the HTML body only inside the sandboxed frame
    assert "Not saved yet" in words(response)
    assert saved(org).levels.get(level=2).subject.startswith("Second notice")


def test_a_preview_says_when_no_customer_has_overdue_invoices(ui, org):
    response = ui.post(POLICY, form_data(org, op="preview:0"), **csrf(ui))

    assert response.status_code == 200
    assert "No customer has overdue invoices today" in words(response)


def test_a_preview_of_a_broken_template_names_the_field(ui, org):
    overdue_customer(org)
    data = form_data(org, op="preview:0", **{"L0-body_text": "{% for x in %}"})

    response = ui.post(POLICY, data, **csrf(ui))

    assert response.status_code == 200
    assert "Template syntax error" in field_error(response, "L0-body_text")
    assert "Correct the template errors" in words(response)


def test_a_preview_uses_another_overdue_customer_before_anyone_reaches_the_level(ui, org):
    overdue_customer(org, days=4)

    response = ui.post(POLICY, form_data(org, op="preview:3"), **csrf(ui))

    assert "No customer has reached this level's 45 days yet" in words(response)


@pytest.mark.parametrize("days", ["99999999999999", "²", "-3", "three"])
def test_a_preview_of_odd_numbers_is_never_a_500(ui, org, days):
    overdue_customer(org)
    data = form_data(org, op="preview:1", **{"L1-days_after_due": days, "L1-level": days})

    response = ui.post(POLICY, data, **csrf(ui))

    assert response.status_code == 200
    assert 'id="level-1-preview"' in response.content.decode()


# --- who may change it ------------------------------------------------------------------------


def test_a_clerk_may_change_the_policy_as_any_api_key_may(ui, org):
    assert ui.post(POLICY, form_data(org, run_at="09:00"), **csrf(ui)).status_code == 302
    assert saved(org).run_at == time(9, 0)


def test_when_kept_for_admins_a_clerk_sees_it_read_only(ui, org, monkeypatch):
    monkeypatch.setattr("dunning.views.policy.policy_editable", lambda request: False)
    headers = csrf(ui)

    page = ui.get(POLICY)
    assert "read-only" in words(page)
    assert 'class="policy-fieldset" disabled' in page.content.decode()
    assert "Save policy" not in page.content.decode()
    assert ui.post(POLICY, form_data(org, run_at="09:00"), **headers).status_code == 403
    assert ui.post(RUN, **headers).status_code == 403
    assert saved(org).run_at == time(8, 0)
    assert not Reminder.objects.for_org(org).exists()


def test_signed_out_goes_to_sign_in(client, org):
    for url in (POLICY, RUN, REMINDERS):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response.url


def test_pages_show_only_the_signed_in_organization(other_ui, org, other_org):
    overdue_customer(org, name="Ours Only Ltd")
    services.dunning_run(organization=org)

    assert "Ours Only Ltd" not in text_of(other_ui.get(RUN))
    assert "Ours Only Ltd" not in text_of(other_ui.get(REMINDERS))
    assert 'value="Friendly reminder' in other_ui.get(POLICY).content.decode()  # its own


# --- dry run and run now ----------------------------------------------------------------------


def test_the_dry_run_lists_what_would_be_sent(ui, org):
    _, invoice = overdue_customer(org, days=20, amount="250.00")
    overdue_customer(org, name="Tiny Debts", external_id="TD-1", amount="1.00")

    response = ui.get(RUN)

    assert response.status_code == 200
    text = text_of(response)
    assert "1 reminder would go out, $250.00 in all" in text
    assert "Zenith <Tools> Ltd" in text
    assert invoice.invoice_number in text
    assert "20 days overdue" in text
    assert "ap@zt-1.example.com" in text
    assert "Tiny Debts" not in text  # under the minimum overdue
    row = response.content.decode().split("data-plan>")[1]
    assert '<td class="num">2</td>' in row
    assert not Reminder.objects.for_org(org).exists()


def test_the_dry_run_with_nothing_to_send(ui, org):
    assert "Nothing to send now" in words(ui.get(RUN))


def test_run_now_queues_the_run_and_confirms(ui, org):
    overdue_customer(org, days=5)

    response = ui.post(RUN, **csrf(ui))

    assert response.status_code == 302
    assert response.url == RUN
    page = ui.get(RUN)
    assert "Dunning run queued" in words(page)
    assert "Nothing to send now" in words(page)  # the run (inline in tests) sent it
    reminder = Reminder.objects.for_org(org).get()
    assert (reminder.level, reminder.email_id is not None) == (1, True)


def test_run_now_needs_a_post_with_csrf(ui, org):
    assert ui.post(RUN).status_code == 403
    assert ui.put(RUN, **csrf(ui)).status_code == 405


def test_run_now_says_so_when_the_queue_is_away(ui, org, monkeypatch):
    monkeypatch.setattr("dunning.views.policy.task_send", lambda *args, **kwargs: False)

    ui.post(RUN, **csrf(ui))

    assert "could not be queued" in words(ui.get(RUN))


# --- the reminders list -----------------------------------------------------------------------


def reminders_of_two_customers(org):
    """Zenith: a level-2 reminder; Bolt: a level-1 one, then cancelled."""
    acme, acme_invoice = overdue_customer(org, days=20)
    bolt, bolt_invoice = overdue_customer(org, name="Bolt Logistics", external_id="BO-1")
    services.dunning_run(organization=org)
    bolt_reminder = Reminder.objects.for_org(org).get(customer=bolt)
    Reminder.objects.filter(pk=bolt_reminder.pk).update(status="cancelled")
    return acme, acme_invoice, bolt, bolt_invoice


def test_the_reminders_list_links_emails_and_invoices(ui, org):
    _, acme_invoice, _, bolt_invoice = reminders_of_two_customers(org)
    acme_reminder = Reminder.objects.for_org(org).get(level=2)

    response = ui.get(REMINDERS)

    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("mail:detail", args=[acme_reminder.email_id]) in html
    assert reverse("receivables:invoice", args=[acme_invoice.pk]) in html
    assert reverse("receivables:invoice", args=[bolt_invoice.pk]) in html
    assert ui.get(reverse("mail:detail", args=[acme_reminder.email_id])).status_code == 200


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"status": "cancelled"}, "Bolt Logistics", "Zenith"),
        ({"status": "queued"}, "Zenith", "Bolt Logistics"),
        ({"level": "2"}, "Zenith", "Bolt Logistics"),
        ({"level": "1"}, "Bolt Logistics", "Zenith"),
        ({"customer": "bolt"}, "Bolt Logistics", "Zenith"),
    ],
)
def test_the_reminders_list_filters(ui, org, query, shown, hidden):
    reminders_of_two_customers(org)

    response = ui.get(REMINDERS, query)

    rows = response.content.decode().split("<tbody>")[1]
    assert shown in rows
    assert hidden not in rows


def test_the_reminders_list_filters_by_customer_id(ui, org):
    acme, *_ = reminders_of_two_customers(org)

    response = ui.get(REMINDERS, {"customer_id": str(acme.pk)})

    rows = response.content.decode().split("<tbody>")[1]
    assert "Zenith" in rows
    assert "Bolt Logistics" not in rows


def test_bad_filters_say_so_and_list_nothing(ui, org):
    reminders_of_two_customers(org)

    response = ui.get(REMINDERS, {"level": "two", "status": "lost", "customer_id": "nope"})

    assert response.status_code == 200
    text = words(response)
    assert "These filters were not understood" in text
    assert "No reminders match" in text


def test_another_organizations_reminders_and_emails_stay_hidden(ui, org, other_org):
    theirs, *_ = reminders_of_two_customers(other_org)
    their_reminder = Reminder.objects.for_org(other_org).filter(email_id__isnull=False).first()

    response = ui.get(REMINDERS, {"customer_id": str(theirs.pk)})

    assert "No reminders match" in words(response)
    assert theirs.company_name not in words(response)
    assert ui.get(reverse("mail:detail", args=[their_reminder.email_id])).status_code == 404
    assert theirs.company_name not in text_of(ui.get(REMINDERS))


# --- query counts -----------------------------------------------------------------------------

# Every page costs 3 queries first (session, user, memberships); then the policy and its
# levels, and the policy's seed check does not repeat.
POLICY_QUERIES = 5
# + the count, the page, its invoices (prefetched), the levels of the filter.
REMINDER_QUERIES = 7


@pytest.mark.parametrize("levels", [2, 12])
def test_the_policy_page_queries_are_fixed(ui, org, levels, django_assert_num_queries):
    level = {
        "contact_escalation_levels": [1],
        "subject": "S {{ level }}",
        "body_text": "T",
        "body_html": "",
        "attach_statement": False,
    }
    services.policy_update(
        organization=org,
        enabled=True,
        run_at=time(8, 0),
        minimum_overdue=Decimal("0.00"),
        levels=[{**level, "level": n, "days_after_due": n * 3} for n in range(1, levels + 1)],
    )
    ui.get(POLICY)

    with django_assert_num_queries(POLICY_QUERIES):
        response = ui.get(POLICY)

    assert response.content.decode().count('name="rows"') == levels + 1


@pytest.mark.parametrize("customers", [2, 12])
def test_the_reminders_list_queries_are_fixed(ui, org, customers, django_assert_num_queries):
    for index in range(customers):
        overdue_customer(org, name=f"Customer {index}", external_id=f"CU-{index}", days=20)
    services.dunning_run(organization=org)
    ui.get(REMINDERS)

    with django_assert_num_queries(REMINDER_QUERIES):
        response = ui.get(REMINDERS)

    assert response.content.decode().count("data-reminder=") == customers
