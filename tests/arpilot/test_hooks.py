"""The one way a lower app tells a higher one: typed events, one dispatcher, checked receivers."""

from decimal import Decimal

import pytest

from arpilot import hooks
from arpilot.checks import hook_receivers_resolve

RECEIVED: list = []


def receive(event):
    RECEIVED.append(event)
    return "recorded"


def test_dispatch_calls_the_configured_receivers_and_returns_what_they_recorded(settings):
    RECEIVED.clear()
    settings.ARPILOT_HOOK_RECEIVERS = {
        "MoneyMoved": ["tests.arpilot.test_hooks.receive", "tests.arpilot.test_hooks.receive"]
    }
    event = hooks.MoneyMoved(organization=1, change_type="write_off", amount=Decimal("1.00"))

    assert hooks.dispatch(event) == ["recorded", "recorded"]
    assert [event, event] == RECEIVED
    assert hooks.dispatch(hooks.PaymentReviewed(organization=1, payment=None)) == []


def test_the_configured_receivers_resolve():
    assert hook_receivers_resolve(None) == []


@pytest.mark.parametrize(
    ("receivers", "error_id"),
    [
        ({"MoneyMoved": ["reconciliation.receivers.no_such_function"]}, "arpilot.E002"),
        ({"MoneyMovd": ["reconciliation.receivers.money_moved"]}, "arpilot.E001"),
        ({"MoneyMoved": ["arpilot.hooks.EVENTS"]}, "arpilot.E003"),
    ],
)
def test_a_receiver_that_does_not_resolve_stops_start_up(settings, receivers, error_id):
    settings.ARPILOT_HOOK_RECEIVERS = receivers

    assert [error.id for error in hook_receivers_resolve(None)] == [error_id]
