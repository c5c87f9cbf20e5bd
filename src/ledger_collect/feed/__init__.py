"""The ERP feed: typed records (``records``) read from JSON Lines or CSV files (``files``),
applied to the store in batches, idempotently (``importer``), and a generated demo portfolio
(``demo``)."""

from ledger_collect.feed.files import FeedFormatError, open_feed
from ledger_collect.feed.importer import DEFAULT_BATCH_SIZE, Importer, ImportResult
from ledger_collect.feed.records import BadLine, Record, parse_record

__all__ = ["DEFAULT_BATCH_SIZE", "BadLine", "FeedFormatError", "ImportResult", "Importer",
           "Record", "open_feed", "parse_record"]
