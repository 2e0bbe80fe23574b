"""Zhongshu (订单中枢): process-level glue — settings, CLI, the supervisor behind `make up`."""
