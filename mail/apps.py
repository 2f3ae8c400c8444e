from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "mail"

    def ready(self) -> None:
        # Registered at start-up, not at Celery's first autodiscovery: the beat schedule's
        # "mail.tasks.requeue_due" resolves in every process that loads the settings.
        from mail import tasks  # noqa: F401
