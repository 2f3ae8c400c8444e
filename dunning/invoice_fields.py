"""Fields collections adds to invoice JSON (``arpilot.hooks.InvoicesDescribed``)."""


def invoices_described(event) -> dict:
    """``{invoice id: {"dispute": …}}`` for the page of invoices: to be implemented."""
    return {}
