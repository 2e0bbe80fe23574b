"""Temporal activities: all I/O (database, HTTP, devices) lives here, behind small typed calls."""
