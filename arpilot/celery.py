"""The Celery application. Workers: `celery -A arpilot worker`; beat: `celery -A arpilot beat`."""

import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arpilot.settings")


class ArpilotTask(Task):
    """Sends to the broker, or to the in-process scheduler when no Redis is configured."""

    def apply_async(
        self,
        args=None,
        kwargs=None,
        task_id=None,
        producer=None,
        link=None,
        link_error=None,
        shadow=None,
        **options,
    ):
        from django.conf import settings

        if settings.ARPILOT_TASKS_IN_PROCESS and not self.app.conf.task_always_eager:
            from arpilot import inprocess

            return inprocess.submit(self, args or (), kwargs or {}, **options)
        return super().apply_async(
            args, kwargs, task_id, producer, link, link_error, shadow, **options
        )


app = Celery("arpilot", task_cls=ArpilotTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
