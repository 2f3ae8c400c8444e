"""Clerk pages for credit notes."""

urlpatterns: list = []
