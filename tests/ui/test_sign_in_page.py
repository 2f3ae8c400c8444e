"""The sign-in page shows the demo password only in the demo, never in production
(``ARPILOT_DEMO``: on by default in development, off and refused in production)."""

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.ui.browser_kit import BROWSER_MARKS, close_page, expect, new_page

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "arpilot-demo"
PRODUCTION_ENV = {
    "ARPILOT_ENV": "production",
    "DJANGO_SECRET_KEY": "x7#kP2!vQ9@mL4$wR8^tY1&zN6*bC3(dF5)gH0-jK_sA+eU" + "q" * 10,
    "DJANGO_ALLOWED_HOSTS": "arpilot.example.com",
}


def sign_in_page(client: Client) -> str:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_the_demo_shows_its_sign_in(settings):
    settings.ARPILOT_DEMO = True

    page = sign_in_page(Client())

    assert (
        '<p class="hint" data-demo-sign-in>Demo: <code>clerk</code> / '
        "<code>arpilot-demo</code> after <code>manage.py seed_demo</code>.</p>"
    ) in page


@pytest.mark.django_db
def test_outside_the_demo_the_sign_in_page_shows_no_password(settings):
    settings.ARPILOT_DEMO = False

    page = sign_in_page(Client())

    assert DEMO_PASSWORD not in page
    assert "data-demo-sign-in" not in page
    assert "seed_demo" not in page
    assert '<h1 id="login-title">Sign in to ARPilot</h1>' in page


def demo_setting(**environment: str) -> subprocess.CompletedProcess:
    """``settings.ARPILOT_DEMO`` as a fresh process with this environment sees it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"ARPILOT_DEMO", "ARPILOT_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(environment, DJANGO_SETTINGS_MODULE="arpilot.settings")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.ARPILOT_DEMO)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_development_is_the_demo_by_default():
    result = demo_setting()

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_production_is_never_the_demo():
    result = demo_setting(**PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_production_refuses_the_demo_turned_on():
    result = demo_setting(**PRODUCTION_ENV, ARPILOT_DEMO="true")

    assert result.returncode != 0
    assert "ARPILOT_DEMO cannot be on in production" in result.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "width", [pytest.param(1280, marks=BROWSER_MARKS), pytest.param(390, marks=BROWSER_MARKS)]
)
def test_the_demo_sign_in_shown_signs_the_clerk_in(browser, live_server, settings, width):
    """Given the seeded demo, the user name and password the page shows sign in, on a desktop
    and on a phone."""
    settings.ARPILOT_DEMO = True
    call_command("seed_demo", "--small", stdout=StringIO())
    page = new_page(browser, viewport={"width": width, "height": 800}, has_touch=width < 500)
    try:
        page.goto(live_server.url + reverse("login"))
        username, password = page.locator("[data-demo-sign-in] code").all_inner_texts()[:2]
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()

        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        assert (username, password) == ("clerk", DEMO_PASSWORD)
        assert re.fullmatch(r"http://[^/]+/", page.url)
    finally:
        close_page(page)
