"""Temporal workflows: the decisions and the waiting. No I/O here; activities do that."""
