from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from arpilot import inprocess, services
from arpilot.models import Membership, Organization
from demo.seed import seed_collections, seed_credits, seed_organization

DEMO_ORG = "Demo Receivables Co"
CLERK_USERNAME = "clerk"
CLERK_PASSWORD = "arpilot-demo"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "arpilot-demo"


class Command(BaseCommand):
    help = "Fill an organization with believable demo data; create a clerk and an admin login."

    def add_arguments(self, parser):
        parser.add_argument("--organization", default=DEMO_ORG)
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any organization already exists",
        )
        parser.add_argument("--small", action="store_true", help="A handful of rows only")

    def handle(self, *args, organization: str, if_empty: bool, small: bool, **options):
        if if_empty and Organization.objects.exists():
            self.stdout.write("Database already has data; demo seeding skipped.")
            return
        with transaction.atomic():
            org, _ = services.organization_get_or_create(name=organization)
            counts = seed_organization(org, small=small)
            # The clerk works payments, imports and approvals; the admin also manages webhook
            # endpoints, the sync target, API keys and members (and may use Django admin).
            # Maker-checker is on: one of them approves what the other did.
            org.maker_checker = True
            org.save(update_fields=["maker_checker"])
            clerk = _demo_user(
                org, CLERK_USERNAME, CLERK_PASSWORD, Membership.Role.CLERK, staff=False
            )
            _demo_user(org, ADMIN_USERNAME, ADMIN_PASSWORD, Membership.Role.ADMIN, staff=True)
            _, key = services.api_key_create(organization=org, name="demo")
            counts.update(seed_collections(org, user=clerk))
            counts.update(seed_credits(org))
        if settings.ARPILOT_TASKS_IN_PROCESS:
            # The reminders of the demo's dunning run are being sent by this process's
            # task threads: let them finish (into var/mail/) before the command exits.
            inprocess.scheduler.wait_idle(timeout=120)
        summary = ", ".join(f"{n} {label}" for label, n in counts.items())
        self.stdout.write(f"Seeded {org.name!r}: {summary}.")
        self.stdout.write(
            f"Sign in at http://127.0.0.1:8000/ as {CLERK_USERNAME!r} (a clerk) or "
            f"{ADMIN_USERNAME!r} (an admin, also at /admin/), password {CLERK_PASSWORD!r}."
        )
        self.stdout.write(f"API docs: http://127.0.0.1:8000/api/docs/ — demo API key: {key}")


def _demo_user(organization, username: str, password: str, role: str, *, staff: bool):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        user = services.user_create(
            username=username,
            password=password,
            email=f"{username}@example.com",
            is_staff=staff,
            is_superuser=staff,
        )
    services.membership_add(organization=organization, user=user, role=role)
    return user
