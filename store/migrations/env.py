"""Alembic environment: runs against the engine handed over by store.db.migrate (or the URL)."""

from alembic import context
from sqlalchemy import create_engine

from store.schema import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no engine handed over and no sqlalchemy.url set")
    engine = create_engine(url)

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
