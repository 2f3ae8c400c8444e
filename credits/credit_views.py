"""Clerk pages for customer on-account credit (apply, refund)."""

urlpatterns: list = []
