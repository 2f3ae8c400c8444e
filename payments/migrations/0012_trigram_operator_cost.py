"""Tell PostgreSQL what a trigram word-similarity test costs.

pg_trgm declares the functions behind ``<%`` / ``%>`` at the default cost of one simple
operator, but each call compares two names' trigram sets (~5.5 µs, measured: about 300
times a simple comparison, in the planner's units on this machine where 20,000 names were
filtered in 110 ms). So for a table of up to a few tens of thousands of names the planner
preferred filtering every row (a sequential scan, or the organization's btree index) over the
GIN index ``customer_name_trgm``: reading one payment's candidates took 90-130 ms at 20,000
customers, 7 ms through the index. At cost 300 it picks the index from a few thousand names
on.

It changes the extension's functions, which only their owner (or a superuser) may do; where
this role may not, the migration says so and leaves them (matching is slower, not wrong).
An ``ALTER EXTENSION pg_trgm UPDATE`` may reset the cost: run this migration's SQL again.
PostgreSQL only.
"""

from django.db import migrations

FUNCTIONS = ("word_similarity_op(text, text)", "word_similarity_commutator_op(text, text)")


def _set_cost(schema_editor, cost: int) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    statements = " ".join(f"ALTER FUNCTION {name} COST {cost};" for name in FUNCTIONS)
    schema_editor.execute(
        f"""
        DO $$ BEGIN {statements}
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pg_trgm word similarity cost left as it was: %%', SQLERRM;
        END $$
        """
    )


def raise_cost(apps, schema_editor):
    _set_cost(schema_editor, 300)


def restore_cost(apps, schema_editor):
    _set_cost(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("payments", "0011_payer_account")]

    operations = [migrations.RunPython(raise_cost, restore_cost)]
