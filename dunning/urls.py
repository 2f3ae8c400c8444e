from dunning.views import policy, worklist

app_name = "collections"

# Each page module lists its own routes: the worklist, its actions and the customer panel;
# the policy editor, the dry run, the run on demand and the reminders.
urlpatterns = [*worklist.routes, *policy.routes]
