from django.core.management.base import BaseCommand, CommandError

from arpilot import services


class Command(BaseCommand):
    help = "Create an API key for an organization (created if needed); prints the key last."

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, help="Organization name")
        parser.add_argument("--name", default="cli", help="A label for the key")

    def handle(self, *args, organization: str, name: str, **options):
        if not organization.strip():
            raise CommandError("--organization must not be empty")
        org, created = services.organization_get_or_create(name=organization.strip())
        _, key = services.api_key_create(organization=org, name=name)
        if created:
            self.stdout.write(f"Created organization {org.name!r} (id {org.pk}).")
        self.stdout.write(f"API key for {org.name!r}; it is shown only this once:")
        self.stdout.write(key)
