"""ledger-collect: an event-sourced back end for accounts-receivable collections."""

__version__ = "0.1.0"
