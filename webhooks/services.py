"""Event emission. Domain apps call ``event_emit`` inside their transaction (the outbox)."""


def event_emit(*, organization_id: int, event_type: str, data: dict) -> None:
    """Record an event for delivery to the organization's subscribed endpoints.

    Placeholder until the webhooks issue lands: the signature is the contract.
    """
    return None
