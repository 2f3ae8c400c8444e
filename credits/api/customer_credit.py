"""Customer on-account credit over the API (/api/v1/customers/{id}/credit …)."""

urlpatterns: list = []
