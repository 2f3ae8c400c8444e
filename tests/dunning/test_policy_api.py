import pytest

from dunning.models import DisputeReason, DunningPolicy

pytestmark = pytest.mark.django_db

URL = "/api/v1/collections/policy"


def _level(level=1, days=3, **overrides):
    return {
        "level": level,
        "days_after_due": days,
        "contact_escalation_levels": [1],
        "subject": "Reminder {{ level }}",
        "body_text": "Dear {{ contact.name }}",
        "body_html": "<p>{{ customer.company_name }}</p>",
        "attach_statement": False,
        **overrides,
    }


def _policy(**overrides):
    return {
        "enabled": True,
        "run_at": "07:30",
        "minimum_overdue": "25.00",
        "remittance_instructions": "IBAN XX00",
        "levels": [_level(1, 5), _level(2, 20, contact_escalation_levels=[1, 2])],
        **overrides,
    }


def test_a_new_organization_has_the_default_policy_and_reasons(api, org):
    response = api.get(URL)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["enabled"] is True
    assert data["run_at"] == "08:00:00"
    assert [(lv["level"], lv["days_after_due"]) for lv in data["levels"]] == [
        (1, 3),
        (2, 14),
        (3, 30),
        (4, 45),
    ]
    assert [lv["attach_statement"] for lv in data["levels"]] == [False, False, True, True]
    codes = set(DisputeReason.objects.for_org(org).values_list("code", flat=True))
    assert codes == {"pricing", "damaged_goods", "not_received", "duplicate", "other"}


def test_put_replaces_the_policy(api, org):
    response = api.put(URL, _policy(), format="json")

    assert response.status_code == 200, response.json()
    data = api.get(URL).json()["data"]
    assert data["run_at"] == "07:30:00"
    assert data["minimum_overdue"] == 25.0
    assert [lv["level"] for lv in data["levels"]] == [1, 2]
    assert data["levels"][1]["contact_escalation_levels"] == [1, 2]


def test_bad_template_syntax_is_a_400_naming_the_field(api):
    policy = _policy(levels=[_level(1, 5, body_html="<p>{% if %}</p>")])

    response = api.put(URL, policy, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["levels.0.body_html"]


def test_loader_tags_are_not_available_in_templates(api):
    policy = _policy(levels=[_level(1, 5, body_text='{% include "base.html" %}')])

    response = api.put(URL, policy, format="json")

    assert response.status_code == 400
    assert "levels.0.body_text" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"run_at": "25:00"}, "run_at"),
        ({"run_at": "08:00+02:00"}, "run_at"),  # a local time: no offset
        ({"run_at": "8"}, "run_at"),
        ({"minimum_overdue": "-1"}, "minimum_overdue"),
        ({"enabled": None}, "enabled"),
        ({"levels": [_level(1, 5), _level(2, 5)]}, "levels.1.days_after_due"),
        ({"levels": [_level(1, 5), _level(1, 9)]}, "levels.1.level"),
        (
            {"levels": [_level(1, 5, contact_escalation_levels=[])]},
            "levels.0.contact_escalation_levels",
        ),
        ({"levels": [_level(1, -1)]}, "levels.0.days_after_due"),
        ({"levels": [_level(1, 5, subject="")]}, "levels.0.subject"),
    ],
)
def test_put_validation_names_the_field(api, change, field):
    response = api.put(URL, _policy(**change), format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_policies_are_per_organization(api, other_api, org, other_org):
    api.put(URL, _policy(), format="json")

    assert other_api.get(URL).json()["data"]["run_at"] == "08:00:00"
    assert DunningPolicy.objects.for_org(other_org).get().run_at.hour == 8
