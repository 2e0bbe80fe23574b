"""Fake external servers for development, the demo and tests.

Each fake is a small FastAPI app that behaves like the real third-party API on the wire (same
paths, same body shapes, same error codes) and records what it received, so tests can assert on
exactly what Zhongshu sent. ``fakes.serve.serve_in_thread`` runs any of them on 127.0.0.1.
"""
