"""The worklist (réserve de travail): per customer, the facts a collection strategy scores, and
the specialists' lists ranked from them, one page at a time.

Strategies, as data:
    ``strategy_rules``     a strategy's rules, read as SQL (to rank) and in Python (to explain)
    ``strategy_versions``  versions published, activated again and read
Writer (the projector's side):
    ``model_tables``       its row tables, declared once
    ``model_writer``       the ``Worklist`` read model: a page of events into rows
    ``event_fold``         how each event changes those rows
    ``customer_figures``   the per-customer figures the ranking reads, recomputed
    ``day_rankings``       the day's rankings: built, kept in step, dropped (projector or job)
    ``generated_lists``    the day's generated lists (``DailyWorklist``), and their rows' SQL
Shared by both sides:
    ``ranking_sql``        who is on a list on a day, and in which order
Readers (the API's side, asyncpg, read-only):
    ``ranked_pages``       a page of a list, its size, its cursors
    ``amounts_to_collect`` the amount to be collected on a day (the customer overview's too)
    ``segment_rankings``   each segment's customers to work on a day (the generation's input)

Tables: ``projections/worklist.sql``.
"""

from ledger_collect.projections.worklist.model_writer import Worklist

__all__ = ["Worklist"]
