"""Inbound email as an ordered list of named steps (`pipeline`), each small and testable alone.

own mail → duplicate → bounce → commands → question answer → review answer → match →
invitation → auto-reply → unmatched → matched. Each step takes the message (processing ends
there) or passes it on, and says why either way; the item keeps that trace.
"""
