"""Zhongshu's development harness: the embedded stack (`zhongshu up`), the demo, the floor simulator,
the benchmarks and (package ``fakes``) the fake partner servers. Never installed into a production
image; the product never imports it (tests/test_architecture.py)."""
