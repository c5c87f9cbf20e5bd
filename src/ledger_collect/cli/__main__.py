"""``python -m ledger_collect.cli``: the same command line as ``ledger-collect``."""

from ledger_collect.cli import main

main()
