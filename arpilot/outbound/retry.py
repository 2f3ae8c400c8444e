"""Retry schedules of the outboxes (webhook deliveries, emails): the delay after a failed
attempt, jittered so that many failures at once do not come back at once."""

import random
from collections.abc import Sequence
from datetime import timedelta


def jittered_delay(
    delays: Sequence[timedelta],
    attempt_number: int,
    *,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> timedelta:
    """The wait after failed attempt ``attempt_number`` (1-based): ``delays[n - 1]`` (the
    last one from there on), times 1 ± ``jitter``."""
    base = delays[min(attempt_number, len(delays)) - 1]
    return base * (1 + (rng or random).uniform(-jitter, jitter))
