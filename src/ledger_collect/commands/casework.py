"""Disputes, resubmissions, customer contacts, collection emails and activities. (Being written.)"""

from __future__ import annotations


class CaseworkCommands:
    """Collections methods for a specialist's casework."""
