"""Sign-in of the clerk pages: lockout after repeated failures, sessions that end."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"


@pytest.fixture
def clerk_user(db):
    return get_user_model().objects.create_user("ada", password=PASSWORD)


def _sign_in(client: Client, password: str, *, address: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": "ada", "password": password}, REMOTE_ADDR=address
    )


def test_the_right_password_after_repeated_failures_does_not_sign_in(clerk_user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "wrong")

    response = _sign_in(client, PASSWORD)

    assert response.status_code == 429
    assert "Sign-in is locked" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_from_many_addresses_still_lock_the_user(clerk_user):
    client = Client()
    for index in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "wrong", address=f"10.0.1.{index}")

    assert _sign_in(client, PASSWORD, address="10.0.2.1").status_code == 429


def test_a_few_failures_then_the_right_password_signs_in(clerk_user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _sign_in(client, "wrong")

    response = _sign_in(client, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(clerk_user.pk)


def test_the_session_ends_with_the_browser_and_after_a_working_day(clerk_user):
    client = Client()

    _sign_in(client, PASSWORD)

    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["expires"] == "" and cookie["max-age"] == ""  # a browser-session cookie
    assert client.session.get_expiry_age() <= 10 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


def test_production_refuses_debug():
    env = {
        **os.environ,
        "ARPILOT_ENV": "production",
        "DJANGO_DEBUG": "true",
        "DJANGO_SECRET_KEY": "x7#kP2!vQ9@mL4$wR8^tY1&zN6*bC3(dF5)gH0-jK_sA+eU" + "q" * 10,
        "DJANGO_ALLOWED_HOSTS": "arpilot.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "DJANGO_DEBUG cannot be on in production" in result.stderr


@pytest.mark.shared_cache
@pytest.mark.django_db
def test_rate_limit_counters_live_in_the_cache_every_process_shares(api, monkeypatch):
    from arpilot.api.throttling import ApiKeyRateThrottle

    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    for _ in range(3):
        assert api.get("/api/v1/customers").status_code == 200
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        caches["default"].clear()  # another process has its own local memory

    response = api.get("/api/v1/customers")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    backend = settings.CACHES["shared"]["BACKEND"]
    assert backend.endswith(("RedisCache", "DatabaseCache"))
