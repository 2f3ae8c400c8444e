"""Customer on-account credit over the API (/api/v1/customers/{id}/credit …): served by
``payments.api.credit`` (the credit is payments' remainders, and credits cannot import
payments); nothing is routed here."""

urlpatterns: list = []
