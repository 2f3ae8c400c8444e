"""Credit notes over the API (/api/v1/credit-notes): filled in by the credit-notes work."""

urlpatterns: list = []
