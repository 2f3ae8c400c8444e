import os
import sys

from django.apps import AppConfig
from django.conf import settings


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

        if settings.ARPILOT_TASKS_IN_PROCESS and _serving_in_this_process():
            from arpilot import inprocess
            from arpilot.celery import app

            inprocess.scheduler.start_beat(app)
