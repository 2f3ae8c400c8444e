from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from arpilot import services
from arpilot.demo import seed_organization
from arpilot.models import Membership, Organization

DEMO_ORG = "Demo Receivables Co"
CLERK_USERNAME = "clerk"
CLERK_PASSWORD = "arpilot-demo"


class Command(BaseCommand):
    help = "Fill an organization with believable demo data and create a clerk login."

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
            user = get_user_model().objects.filter(username=CLERK_USERNAME).first()
            if user is None:
                user = services.user_create(
                    username=CLERK_USERNAME,
                    password=CLERK_PASSWORD,
                    email="clerk@example.com",
                    is_staff=True,
                    is_superuser=True,
                )
            services.membership_add(organization=org, user=user, role=Membership.Role.ADMIN)
            _, key = services.api_key_create(organization=org, name="demo")
        summary = ", ".join(f"{n} {label}" for label, n in counts.items())
        self.stdout.write(f"Seeded {org.name!r}: {summary}.")
        self.stdout.write(
            "Sign in at http://127.0.0.1:8000/ (admin at /admin/) as "
            f"{CLERK_USERNAME!r} with password {CLERK_PASSWORD!r}."
        )
        self.stdout.write(f"API docs: http://127.0.0.1:8000/api/docs/ — demo API key: {key}")
