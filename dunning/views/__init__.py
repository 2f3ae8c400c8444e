"""The collector's pages (server-rendered, under /collections/).

- ``worklist``: customers by priority, keyboard-driven actions (call, note, promise,
  dispute, statement), and the collections panel of the customer page (its timeline);
- ``policy``: the dunning policy editor, the dry run and the run on demand, reminders.
"""
