"""OAuth2 client-credentials for pushing channels (the mini-program): clients, the tokens issued to them,
and the role a presented bearer token carries. Below the API so its key check (api/auth.py) and the
webhook door (api/door.py) look tokens up without importing the channel routes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from store.read_model import _insert
from store.schema import oauth_clients, oauth_tokens


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def create_oauth_client(engine: Engine, client_id: str, secret: str, *, role: str = "channel",
                        channel: str = "miniprogram", ttl_seconds: int = 7200) -> None:
    row = {"client_id": client_id, "secret_sha256": _sha(secret), "role": role, "channel": channel,
           "token_ttl_seconds": ttl_seconds, "created_at": datetime.now(UTC)}
    with engine.begin() as conn:
        ins = _insert(engine, oauth_clients).values(**row)
        conn.execute(ins.on_conflict_do_update(index_elements=[oauth_clients.c.client_id],
                                               set_={k: ins.excluded[k] for k in row if k != "client_id"}))


def issue_token(engine: Engine, client_id: str, secret: str) -> tuple[str, int, str] | None:
    """(token, expires_in, role) for valid client credentials, else None."""
    with engine.begin() as conn:
        c = conn.execute(select(oauth_clients).where(oauth_clients.c.client_id == client_id)).first()
        if c is None or not secrets.compare_digest(c.secret_sha256, _sha(secret)):
            return None
        token = "zsat-" + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        conn.execute(oauth_tokens.insert().values(token_sha256=_sha(token), client_id=client_id, role=c.role,
                                                  issued_at=now, expires_at=now + timedelta(seconds=c.token_ttl_seconds)))
        conn.execute(oauth_tokens.delete().where(oauth_tokens.c.expires_at < now - timedelta(days=1)))
        return token, int(c.token_ttl_seconds), c.role


def token_role(engine: Engine, token: str) -> str | None:
    """The role of a live bearer token we issued, or None (unknown or expired)."""
    if not token.startswith("zsat-"):
        return None
    with engine.connect() as conn:
        r = conn.execute(select(oauth_tokens.c.role, oauth_tokens.c.expires_at)
                         .where(oauth_tokens.c.token_sha256 == _sha(token))).first()
    if r is None:
        return None
    exp = r.expires_at if r.expires_at.tzinfo else r.expires_at.replace(tzinfo=UTC)
    return r.role if exp > datetime.now(UTC) else None


def token_identity(engine: Engine, token: str) -> tuple[str, str, str | None] | None:
    """(role, client id, the client's channel) of a live bearer token we issued, or None."""
    if not token.startswith("zsat-"):
        return None
    with engine.connect() as conn:
        r = conn.execute(select(oauth_tokens.c.role, oauth_tokens.c.expires_at, oauth_tokens.c.client_id,
                                oauth_clients.c.channel)
                         .join(oauth_clients, oauth_clients.c.client_id == oauth_tokens.c.client_id, isouter=True)
                         .where(oauth_tokens.c.token_sha256 == _sha(token))).first()
    if r is None:
        return None
    exp = r.expires_at if r.expires_at.tzinfo else r.expires_at.replace(tzinfo=UTC)
    return (r.role, r.client_id, r.channel) if exp > datetime.now(UTC) else None
