"""The dunning policy editor in a real browser (Playwright, Debian's Chromium): edit a level,
add one in place, save and see it kept; a refused value is shown next to its field with
everything typed still there; a level's preview. The shared ``page`` fixture fails a test
whose page logged a console error it did not announce."""

import re

import pytest

from tests.ui.browser_kit import BROWSER_MARKS, expect, sign_in

pytestmark = BROWSER_MARKS


def open_policy(page, base):
    sign_in(page, base)
    page.get_by_role("link", name="Dunning policy").click()
    expect(page.get_by_role("heading", name="Dunning policy", exact=True)).to_be_visible()


def level(page, key: int):
    return page.locator(f"#level-{key}")


@pytest.mark.django_db(transaction=True)
def test_edit_a_level_add_one_and_save(page, live_server, clerk_book):
    from dunning import services

    open_policy(page, live_server.url)
    first = level(page, 0)
    first.get_by_label("Days after due date").fill("5")
    first.get_by_label("Subject").fill("Gentle nudge from {{ organization_name }}")

    page.get_by_role("button", name="Add a level").click()
    rows = page.locator("[data-levels] > [data-level-row]")
    expect(rows).to_have_count(5)
    added = level(page, 4)
    expect(added.get_by_label("Level number")).to_have_value("5")
    expect(added.get_by_label("Days after due date")).to_have_value("59")
    expect(added.get_by_role("heading", name="Level 5")).to_be_visible()
    expect(added.get_by_label("Days after due date")).to_be_focused()
    added.get_by_label("Days after due date").fill("60")
    added.get_by_label("Subject").fill("Handed to our lawyers")
    added.get_by_label("Contact escalation levels").fill("3")
    added.get_by_label("Attach the statement (PDF)").check()

    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Dunning policy saved.")).to_be_visible()
    expect(rows).to_have_count(5)
    expect(level(page, 0).get_by_label("Days after due date")).to_have_value("5")
    expect(level(page, 0).get_by_label("Subject")).to_have_value(
        "Gentle nudge from {{ organization_name }}"
    )
    expect(level(page, 4).get_by_label("Subject")).to_have_value("Handed to our lawyers")

    page.reload()
    expect(level(page, 4).get_by_label("Days after due date")).to_have_value("60")
    policy = services.policy_get_or_seed(organization=clerk_book)
    levels = list(policy.levels.all())
    assert [lv.days_after_due for lv in levels] == [5, 14, 30, 45, 60]
    assert levels[4].subject == "Handed to our lawyers"
    assert levels[4].contact_escalation_levels == [3]
    assert levels[4].attach_statement is True


@pytest.mark.django_db(transaction=True)
def test_a_refused_value_is_shown_next_to_its_field(page, live_server, clerk_book):
    from dunning import services

    open_policy(page, live_server.url)
    second = level(page, 1)
    second.get_by_label("Subject").fill("Typed and kept")
    second.get_by_label("Days after due date").fill("2")

    page.expect_console_errors(r"status of 400")
    page.get_by_role("button", name="Save policy").click()

    error = page.locator("#L1-days_after_due-err")
    expect(error).to_have_text("Must be more than level 1's 3 days.")
    days = level(page, 1).get_by_label("Days after due date")
    expect(days).to_have_attribute("aria-invalid", "true")
    expect(days).to_be_focused()
    expect(days).to_have_value("2")
    expect(level(page, 1).get_by_label("Subject")).to_have_value("Typed and kept")
    expect(page.get_by_role("alert").first).to_contain_text("was not saved")
    expect(level(page, 0).locator("[aria-invalid]")).to_have_count(0)
    assert (
        services.policy_get_or_seed(organization=clerk_book).levels.get(level=2).days_after_due
        == 14
    )


@pytest.mark.django_db(transaction=True)
def test_moving_a_level_renumbers_and_preview_shows_its_email(page, live_server, clerk_book):
    from dunning import services
    from tests.dunning.factories import customer_with_contacts, overdue_invoice

    customer = customer_with_contacts(
        clerk_book, company_name="Late Payers Ltd", external_id="LP-1"
    )
    overdue_invoice(
        clerk_book,
        customer,
        days_overdue=4,
        amount="300.00",
        today=services.organization_today(clerk_book),
    )
    open_policy(page, live_server.url)

    level(page, 1).get_by_role("button", name="Move level 2 up").click()
    rows = page.locator("[data-levels] > [data-level-row]")
    expect(rows.first).to_have_attribute("id", "level-1")
    expect(level(page, 1).get_by_label("Level number")).to_have_value("1")
    expect(level(page, 0).get_by_role("heading", name="Level 2")).to_be_visible()
    level(page, 0).get_by_role("button", name="Move level 2 up").click()
    expect(rows.first).to_have_attribute("id", "level-0")

    level(page, 0).get_by_label("Subject").fill("Overdue: {{ customer.company_name }}")
    level(page, 0).get_by_role("button", name="Preview this level").click()
    preview = page.locator("#level-0-preview")
    expect(preview.locator("[data-preview-subject]")).to_have_text("Overdue: Late Payers Ltd")
    expect(preview).to_contain_text("ap@lp-1.example.com")
    frame = page.frame_locator("#level-0-preview iframe")
    expect(frame.locator("table")).to_contain_text("300.00")
    expect(page.get_by_text("Not saved yet")).to_be_visible()
    expect(level(page, 0).get_by_label("Subject")).to_have_value(
        re.compile(r"Overdue: \{\{ customer\.company_name \}\}")
    )
