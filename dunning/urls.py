from django.urls import path

from dunning.views import policy, worklist

app_name = "collections"

urlpatterns = [
    # worklist.py (the worklist, its actions and the customer panel) adds its routes here,
    path("", worklist.worklist, name="worklist"),
    # and policy.py (the policy editor, dry run, run now, reminders) its own.
    path("policy/", policy.policy, name="policy"),
]
