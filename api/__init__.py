"""The FastAPI service: starts and signals order workflows, serves the read model."""
