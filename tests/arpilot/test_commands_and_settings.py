import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from arpilot.models import Organization, OrganizationAPIKey

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_create_api_key_creates_the_organization_and_prints_the_key_last():
    out = StringIO()

    call_command("create_api_key", "--organization", "Initech", stdout=out)

    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("arp_")
    org = Organization.objects.get(name="Initech")
    assert OrganizationAPIKey.objects.filter(organization=org).count() == 1
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/customers").status_code == 200


@pytest.mark.django_db
def test_create_api_key_reuses_an_existing_organization():
    call_command("create_api_key", "--organization", "Initech", stdout=StringIO())
    call_command("create_api_key", "--organization", "Initech", stdout=StringIO())

    assert Organization.objects.filter(name="Initech").count() == 1
    assert OrganizationAPIKey.objects.count() == 2


def test_production_settings_pass_check_deploy():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "ARPILOT_ENV": "production",
        "DJANGO_SECRET_KEY": "x7#kP2!vQ9@mL4$wR8^tY1&zN6*bC3(dF5)gH0-jK_sA+eU" + "q" * 10,
        "DJANGO_ALLOWED_HOSTS": "arpilot.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_a_missing_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["ARPILOT_ENV"] = "production"
    env["DJANGO_ALLOWED_HOSTS"] = "arpilot.example.com"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_inprocess_scheduler_honours_countdown():
    from celery import shared_task

    from arpilot.inprocess import InProcessScheduler

    ran: list[float] = []

    @shared_task(name="tests.record_time")
    def record_time():
        ran.append(time.monotonic())

    scheduler = InProcessScheduler(workers=1)
    started = time.monotonic()
    scheduler.submit(record_time, (), {}, countdown=0.5)
    scheduler.submit(record_time, (), {})
    deadline = time.monotonic() + 5
    while len(ran) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)

    assert len(ran) == 2
    assert ran[0] - started < 0.4
    assert ran[1] - started >= 0.5
