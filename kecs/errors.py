"""Errors a user can act on: the CLI prints the message alone and exits 2."""

from __future__ import annotations


class KecsError(Exception):
    """Bad input or an environment problem, with a one-line message naming the fix."""
