"""Hooks and helpers the mail tests name by dotted path (``before_send``)."""

calls: list = []


def keep(email) -> bool:
    calls.append(("keep", email.pk))
    return True


def drop(email) -> bool:
    calls.append(("drop", email.pk))
    return False


def explode(email) -> bool:
    raise RuntimeError("the invoices could not be read")
