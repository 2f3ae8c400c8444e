import os
import sys

from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created


def _serving_in_this_process() -> bool:
    if os.environ.get("ARPILOT_INPROCESS_BEAT") == "1":
        return True
    if "runserver" not in sys.argv:
        return False
    # Under the autoreloader only the child process (RUN_MAIN) serves requests.
    return os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv


class ArpilotConfig(AppConfig):
    name = "arpilot"
    verbose_name = "ARPilot"

    def ready(self) -> None:
        from arpilot import checks  # noqa: F401  registers the start-up checks
        from arpilot.api import schema  # noqa: F401  registers the OpenAPI auth extension
        from arpilot.db import fast_timestamps

        connection_created.connect(fast_timestamps, dispatch_uid="arpilot.fast_timestamps")

        if settings.ARPILOT_TASKS_IN_PROCESS and _serving_in_this_process():
            from arpilot import inprocess
            from arpilot.celery import app

            inprocess.scheduler.start_beat(app)
