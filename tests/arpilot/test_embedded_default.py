"""The app as a newcomer's `make run` starts it: no configuration, a fresh SQLite file, tasks
in-process, `runserver` without DJANGO_DEBUG, reached over real HTTP.

The server is a subprocess, so these tests see exactly what a browser or an API client sees:
the static files the pages reference are served, and concurrent writers over HTTP get no
server errors and exact money.
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DEMO_USER, DEMO_PASSWORD = "clerk", "arpilot-demo"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _embedded_env(var_dir: Path) -> dict:
    """The environment of `make run` on a clean machine: nothing of ARPilot's configured."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "ARPILOT_", "DATABASE_", "REDIS_", "SQLITE_"))
    }
    env["ARPILOT_VAR_DIR"] = str(var_dir)  # a fresh var/ instead of the checkout's
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _manage(env, *args, timeout=300) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """A migrated, seeded embedded-default server; yields (base URL, API key, its log)."""
    var_dir = tmp_path_factory.mktemp("var")
    env = _embedded_env(var_dir)
    _manage(env, "migrate", "--noinput", "-v0")
    (var_dir / "seed.log").write_text(_manage(env, "seed_demo", "--if-empty"))
    key = _manage(env, "create_api_key", "--organization", "Embedded Writers").strip()
    key = key.splitlines()[-1]
    port = _free_port()
    log = (var_dir / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base, key, var_dir / "server.log"
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_the_demo_seed_sends_its_reminders_before_it_exits(embedded):
    """The demo's dunning run queues reminders; `seed_demo` waits for its in-process task
    threads to deliver them (into var/mail/), none left queued or half-sent."""
    _base, _key, log = embedded
    var_dir = log.parent
    seeded = (var_dir / "seed.log").read_text()
    reminders = int(re.search(r"(\d+) reminders", seeded).group(1))
    assert reminders > 0
    assert len(list((var_dir / "mail").glob("*.eml"))) == reminders


# --- static files -----------------------------------------------------------------------------

CONTENT_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/",
    ".woff2": "font/woff2",
    ".map": "application/json",
}
_ASSET = re.compile(r"""(?:href|src)=["'](/static/[^"'?#]+)""")


def _assets(html: str) -> set[str]:
    return set(_ASSET.findall(html))


def _signed_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": DEMO_USER, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    assert response.status_code == 200 and "/accounts/login/" not in response.url
    return session


def test_every_asset_the_pages_reference_is_served_with_its_type(embedded):
    base, _, _ = embedded
    anonymous = requests.Session()
    clerk = _signed_in(base)
    pages = {
        "/accounts/login/": anonymous,
        "/api/docs/": anonymous,
        "/admin/login/": anonymous,
        "/": clerk,
        "/payments/review/": clerk,
    }
    referenced: dict[str, str] = {}
    for path, session in pages.items():
        response = session.get(f"{base}{path}", timeout=10)
        assert response.status_code == 200, path
        found = _assets(response.text)
        assert found, f"{path} references no static file"
        referenced.update(dict.fromkeys(found, path))

    assert {"/static/css/app.css", "/static/js/app.js"} <= set(referenced)
    assert any("swagger-ui" in asset for asset in referenced)
    assert any(asset.startswith("/static/admin/") for asset in referenced)
    for asset, page in sorted(referenced.items()):
        response = anonymous.get(f"{base}{asset}", timeout=10)
        assert response.status_code == 200, f"{asset} (on {page})"
        wanted = CONTENT_TYPES[Path(asset).suffix]
        assert response.headers["Content-Type"].startswith(wanted), asset


# --- concurrent writers -----------------------------------------------------------------------

WRITERS = 50


def _api(key: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session


def _writer(base: str, key: str, customer_id: str, index: int, barrier) -> list[tuple]:
    """Create invoices and a payment, then apply it (odd writers split it over two)."""
    api = _api(key)
    barrier.wait(timeout=60)
    statuses = []

    def call(method, path, **kwargs):
        response = api.request(method, f"{base}/api/v1{path}", timeout=120, **kwargs)
        statuses.append((method, path, response.status_code, response.text[:300]))
        return response

    tag = uuid.uuid4().hex[:10]
    invoices = []
    for part in range(2 if index % 2 else 1):
        created = call(
            "POST",
            "/invoices",
            json={
                "invoice_number": f"W-{tag}-{part}",
                "customer_id": customer_id,
                "amount": "100.10",
                "due_date": "2026-12-31",
            },
            headers={"Idempotency-Key": f"inv-{tag}-{part}"},
        )
        if created.status_code == 201:
            invoices.append(created.json()["data"]["id"])
    payment = call(
        "POST",
        "/payments",
        json={
            "amount": "150.15",
            "payment_date": "2026-11-30",
            "payer_name": "Concurrent Payer",
            "external_payment_id": f"P-{tag}",
        },
    )
    if payment.status_code != 201 or not invoices:
        return statuses
    payment_id = payment.json()["data"]["id"]
    if len(invoices) == 1:
        call("PATCH", f"/payments/{payment_id}", json={"invoice_id": invoices[0]})
    else:
        call(
            "PATCH",
            f"/payments/{payment_id}",
            json={
                "allocations": [
                    {"invoice_id": invoices[0], "amount": "100.10"},
                    {"invoice_id": invoices[1], "amount": "50.05"},
                ]
            },
        )
    return statuses


def test_fifty_concurrent_writers_get_no_server_error_and_exact_money(embedded):
    base, key, log = embedded
    api = _api(key)
    customer = api.post(
        f"{base}/api/v1/customers",
        json={
            "company_name": "Concurrent Customer",
            "contacts": [{"contact_name": "Ada", "email": "ada@example.com"}],
        },
        timeout=30,
    )
    assert customer.status_code == 201, customer.text
    customer_id = customer.json()["data"]["id"]
    barrier = threading.Barrier(WRITERS)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(
            pool.map(lambda index: _writer(base, key, customer_id, index, barrier), range(WRITERS))
        )

    time.sleep(1)  # the in-process task thread matches the new payments meanwhile
    calls = [call for statuses in results for call in statuses]
    failures = [call for call in calls if call[2] >= 500 or call[2] in (409, 423)]
    assert failures == []
    assert len(calls) == WRITERS * 3 + WRITERS // 2
    assert {call[2] for call in calls} <= {200, 201}
    invoices = []
    page = 1
    while True:
        listed = api.get(
            f"{base}/api/v1/invoices",
            params={"customer_id": customer_id, "per_page": 100, "page": page},
            timeout=30,
        ).json()
        invoices += listed["data"]
        if page >= listed["pagination"]["total_pages"]:
            break
        page += 1
    assert len(invoices) == WRITERS + WRITERS // 2
    due = {Decimal(str(invoice["amount_due"])) for invoice in invoices}
    # Single invoices were paid 100.10 of 150.15 (fully); split ones 100.10 and 50.05.
    assert due == {Decimal("0"), Decimal("50.05")}
    assert sum(Decimal(str(invoice["amount_due"])) for invoice in invoices) == Decimal("50.05") * (
        WRITERS // 2
    )
    server_log = log.read_text()
    assert "database is locked" not in server_log
    assert "Traceback" not in server_log
