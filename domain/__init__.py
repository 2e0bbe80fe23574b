"""Pure models and rules: no I/O, importable from workflows (sandbox-safe) and from tests."""
