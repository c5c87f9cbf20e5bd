"""The collections domain: aggregates with their nested events and rules.

Knows nothing of SQL, GraphQL or jobs. Every public method decides; a private ``@event`` method
records, so that replay never re-takes a decision.
"""
