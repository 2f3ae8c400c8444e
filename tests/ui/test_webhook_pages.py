"""The webhook pages through Django's test client: editing, disabling, deleting an endpoint
and rotating its secret (admins only), the last response in words, and refusing "every
event type" ticked together with single types."""

import pytest
from django.urls import reverse

from tests.ui.builders import words
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.views import response_in_words

pytestmark = pytest.mark.django_db


def csrf(client) -> dict:
    client.get(reverse("webhooks:list"))
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


# --- every event type or single ones, not both ------------------------------------------------


def test_registering_with_every_event_type_and_single_ones_is_refused(admin_ui, org):
    response = admin_ui.post(
        reverse("webhooks:list"),
        {"url": "https://example.com/hook", "all_events": "on", "events": ["invoice.paid"]},
        **csrf(admin_ui),
    )

    assert response.status_code == 400
    assert "Events: Tick either every event type or single event types, not both." in words(
        response
    )
    assert not WebhookEndpoint.objects.for_org(org).exists()


def test_changing_to_both_kinds_of_events_is_refused(admin_ui, endpoint):
    response = admin_ui.post(
        reverse("webhooks:edit", args=[endpoint.pk]),
        {"url": endpoint.url, "all_events": "on", "events": ["invoice.paid", "invoice.voided"]},
        **csrf(admin_ui),
    )

    assert response.status_code == 400
    assert "not both" in words(response)
    endpoint.refresh_from_db()
    assert endpoint.events == ["invoice.paid"]


def test_the_form_carries_the_script_that_keeps_the_two_apart(admin_ui):
    html = admin_ui.get(reverse("webhooks:list")).content.decode()

    assert "<fieldset data-event-choice>" in html
    assert 'src="/static/js/records.js"' in html


# --- edit, disable, delete, rotate ----------------------------------------------------------


def test_an_admin_edits_an_endpoint(admin_ui, endpoint):
    form = admin_ui.get(reverse("webhooks:edit", args=[endpoint.pk]))
    assert form.status_code == 200
    html = form.content.decode()
    assert f'value="{endpoint.url}"' in html
    assert 'value="invoice.paid"' in html and "checked" in html

    response = admin_ui.post(
        reverse("webhooks:edit", args=[endpoint.pk]),
        {
            "url": "http://127.0.0.1:9/changed",
            "description": "ERP",
            "events": ["invoice.created", "invoice.voided"],
        },
        **csrf(admin_ui),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("webhooks:detail", args=[endpoint.pk])
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description) == ("http://127.0.0.1:9/changed", "ERP")
    assert endpoint.events == ["invoice.created", "invoice.voided"]


def test_an_edit_to_every_event_type(admin_ui, endpoint):
    admin_ui.post(
        reverse("webhooks:edit", args=[endpoint.pk]),
        {"url": endpoint.url, "all_events": "on"},
        **csrf(admin_ui),
    )

    endpoint.refresh_from_db()
    assert endpoint.events == ["*"]


def test_an_edit_with_a_bad_url_says_so(admin_ui, endpoint):
    response = admin_ui.post(
        reverse("webhooks:edit", args=[endpoint.pk]),
        {"url": "not a url", "all_events": "on"},
        **csrf(admin_ui),
    )

    assert response.status_code == 400
    assert "Enter a valid URL." in words(response)


def test_an_admin_disables_and_enables_an_endpoint(admin_ui, endpoint):
    url = reverse("webhooks:active", args=[endpoint.pk])

    admin_ui.post(url, {"active": "0"}, **csrf(admin_ui))
    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    page = words(admin_ui.get(reverse("webhooks:detail", args=[endpoint.pk])))
    assert "Endpoint disabled: new events wait until it is enabled again." in page
    assert "Enable" in page

    admin_ui.post(url, {"active": "1"}, **csrf(admin_ui))
    endpoint.refresh_from_db()
    assert endpoint.is_active is True


def test_deleting_asks_first_then_deletes_with_the_deliveries(admin_ui, org, endpoint):
    from webhooks import services

    services.endpoint_send_test(endpoint=endpoint)
    url = reverse("webhooks:delete", args=[endpoint.pk])

    question = words(admin_ui.get(url))
    assert "Delete endpoint?" in question
    assert "Its 1 delivery and their attempts are deleted with it." in question
    assert WebhookEndpoint.objects.for_org(org).exists()

    response = admin_ui.post(url, **csrf(admin_ui))

    assert response["Location"] == reverse("webhooks:list")
    assert not WebhookEndpoint.objects.for_org(org).exists()
    assert not WebhookDelivery.objects.for_org(org).exists()
    assert "Endpoint http://127.0.0.1:9/hook deleted." in words(
        admin_ui.get(reverse("webhooks:list"))
    )


def test_rotating_the_secret_shows_the_new_one_once(admin_ui, endpoint):
    old = endpoint.secret

    response = admin_ui.post(
        reverse("webhooks:rotate-secret", args=[endpoint.pk]), **csrf(admin_ui)
    )

    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.previous_secret == old
    first = admin_ui.get(response["Location"])
    assert "New signing secret" in words(first)
    assert f'value="{endpoint.secret}"' in first.content.decode()
    assert "The previous secret keeps signing beside it for 24 hours" in words(first)
    assert endpoint.secret not in admin_ui.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "edit"),
        ("post", "edit"),
        ("post", "active"),
        ("get", "delete"),
        ("post", "delete"),
        ("post", "rotate-secret"),
    ],
)
def test_a_clerk_may_not_change_an_endpoint(ui, endpoint, method, name):
    response = getattr(ui, method)(
        reverse(f"webhooks:{name}", args=[endpoint.pk]), {"active": "0"}, **csrf(ui)
    )

    assert response.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.is_active


def test_a_clerk_sees_no_endpoint_actions(ui, endpoint):
    html = ui.get(reverse("webhooks:detail", args=[endpoint.pk])).content.decode()

    assert "Rotate secret" not in html
    assert reverse("webhooks:delete", args=[endpoint.pk]) not in html


def test_another_organizations_endpoint_is_not_found(admin_ui, other_org, settings):
    from webhooks import services

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    theirs = services.endpoint_create(
        organization=other_org, url="http://127.0.0.1:9/theirs", events=["*"]
    )

    for name in ("edit", "delete"):
        assert admin_ui.get(reverse(f"webhooks:{name}", args=[theirs.pk])).status_code == 404
    response = admin_ui.post(reverse("webhooks:rotate-secret", args=[theirs.pk]), **csrf(admin_ui))
    assert response.status_code == 404


# --- the last response in words ---------------------------------------------------------------


CONNECTION_REFUSED = (
    "ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with "
    "url: /hook (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at "
    "0x7f>: Failed to establish a new connection: [Errno 111] Connection refused'))"
)


@pytest.mark.parametrize(
    ("status_code", "error", "shown"),
    [
        (200, "", "HTTP 200 OK: delivered."),
        (500, "HTTP 500", "HTTP 500 Internal Server Error: the endpoint failed."),
        (404, "HTTP 404", "HTTP 404 Not Found: the endpoint refused the event."),
        (
            302,
            "HTTP 302: redirects are not followed.",
            "HTTP 302 Found: a redirect, which is not followed.",
        ),
        (599, "HTTP 599", "HTTP 599: the endpoint failed."),
        (None, CONNECTION_REFUSED, "The server refused the connection."),
        (
            None,
            "ConnectionError: HTTPSConnectionPool(host='nowhere.invalid', port=443): Max retries "
            "(Caused by NameResolutionError(\"Failed to resolve 'nowhere.invalid' ([Errno -2] "
            'Name or service not known)"))',
            "The host name could not be found.",
        ),
        (
            None,
            "SSLError: [SSL: CERTIFICATE_VERIFY_FAILED]",
            "The server's TLS certificate was refused.",
        ),
        (None, "Timed out after 10 s.", "No response in time: timed out after 10 s."),
        (
            None,
            "ChunkedEncodingError: ('Connection broken')",
            "The request failed before any response came back.",
        ),
        (None, "Refused: the URL must use https.", "Refused: the URL must use https."),
        (None, "Endpoint disabled: failing for 3 days", "Endpoint disabled: failing for 3 days"),
        (None, "", ""),
    ],
)
def test_the_last_response_reads_as_words(status_code, error, shown):
    assert response_in_words(status_code, error) == shown


def test_the_delivery_list_shows_the_last_response_in_words(admin_ui, org, endpoint):
    from webhooks import services

    services.endpoint_send_test(endpoint=endpoint)
    WebhookDelivery.objects.for_org(org).update(
        status="failed", attempt_count=3, last_error=CONNECTION_REFUSED
    )

    response = admin_ui.get(reverse("webhooks:detail", args=[endpoint.pk]))

    page = words(response)
    assert "The server refused the connection." in page
    assert "Errno" not in page
    assert "ConnectionError" not in page


# --- query counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 6])
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # session, user, memberships; the endpoints.
        ("list", 4),
        # … the endpoint; deliveries (count, page), their attempts.
        ("detail", 7),
        # … the endpoint.
        ("edit", 4),
        # … the endpoint, its deliveries' count.
        ("delete", 5),
    ],
)
def test_webhook_pages_query_counts_do_not_grow_with_rows(
    admin_ui, org, endpoint, size, name, expected, django_assert_num_queries
):
    from webhooks import services

    for _ in range(size):
        services.endpoint_send_test(endpoint=endpoint)
        services.endpoint_create(
            organization=org, url="http://127.0.0.1:9/other", events=["invoice.paid"]
        )
    url = reverse(f"webhooks:{name}", **({} if name == "list" else {"args": [endpoint.pk]}))

    with django_assert_num_queries(expected):
        response = admin_ui.get(url)

    assert response.status_code == 200
