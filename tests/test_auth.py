"""People sign in (issue 13): accounts, lock-out, expiring sessions, the actor is who signed in, the
audit log, masked phones for readonly, WeCom OAuth against the fake, no default secrets outside
development. The API over real HTTP on its own SQLite read model (no worker needed)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from store import users
from store.db import engine_for, migrate
from tests.api_support import REVIEWER_KEY, SERVICE_KEY, api_settings

PASSWORD = "correct-horse-1"


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    migrate(url)
    return engine_for(url)


def sign_in(engine, name, password=PASSWORD, **kw):
    kw = {"ttl": timedelta(hours=1), "max_failures": 3, "lockout": timedelta(minutes=15)} | kw
    return users.sign_in(engine, name, password, **kw)


def test_passwords_are_argon2_hashes_never_the_text(engine):
    users.add_user(engine, "wang", "reviewer", PASSWORD, display_name="小王")
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("select password_hash from users").scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert sign_in(engine, "wang").ok and not sign_in(engine, "wang", "wrong-password").ok


@pytest.mark.parametrize("name, role, password, field", [
    ("system", "reviewer", PASSWORD, "reserved"), ("a b", "reviewer", PASSWORD, "username"),
    ("li", "superuser", PASSWORD, "role"), ("li", "reviewer", "short", "password"),
])
def test_bad_accounts_are_refused_with_the_field(engine, name, role, password, field):
    with pytest.raises(users.UserError, match=field):
        users.add_user(engine, name, role, password)


def test_repeated_failures_lock_the_account_even_for_the_right_password(engine):
    users.add_user(engine, "li", "customer_service", PASSWORD)
    assert [sign_in(engine, "li", "nope-nope-1").reason for _ in range(3)] == ["wrong", "wrong", "locked"]
    assert sign_in(engine, "li").reason == "locked"
    users.reset_password(engine, "li", "another-pass-2")  # an admin's reset unlocks
    assert sign_in(engine, "li", "another-pass-2").ok


def test_the_lock_ends_after_its_time(engine):
    users.add_user(engine, "zhao", "finance", PASSWORD)
    for _ in range(3):
        sign_in(engine, "zhao", "nope-nope-1", lockout=timedelta(seconds=-1))  # a lock already over
    assert sign_in(engine, "zhao").ok


def test_sessions_expire_and_end_on_disable(engine):
    users.add_user(engine, "qian", "warehouse_lead", PASSWORD)
    gone = sign_in(engine, "qian", ttl=timedelta(seconds=-1))
    assert gone.ok and users.session_user(engine, gone.token) is None
    live = sign_in(engine, "qian")
    assert users.session_user(engine, live.token)["username"] == "qian"
    users.set_disabled(engine, "qian")
    assert users.session_user(engine, live.token) is None and sign_in(engine, "qian").reason == "disabled"


# ------------------------------------------------------------------ over HTTP


@pytest.fixture
def api(tmp_path, fake_wecom, monkeypatch):
    from zhongshu.auth_settings import get_auth_settings

    base = fake_wecom.webhook_url.split("/cgi-bin")[0]
    for k, v in {"ZHONGSHU_WECOM_OAUTH": "true", "ZHONGSHU_WECOM_CORP_ID": "corp1", "ZHONGSHU_WECOM_CORP_SECRET": "s",
                 "ZHONGSHU_WECOM_API_URL": base, "ZHONGSHU_WECOM_AUTHORIZE_URL": f"{base}/connect/oauth2/authorize",
                 "ZHONGSHU_LOGIN_MAX_FAILURES": "3"}.items():
        monkeypatch.setenv(k, v)
    get_auth_settings.cache_clear()
    settings = api_settings(f"sqlite:///{tmp_path / 'api.db'}", "127.0.0.1:1", tmp_path,
                            extra_api_keys=f"{REVIEWER_KEY}:reviewer,ro-key:readonly")
    from temporalio.client import Client

    from api.app import create_app
    from tests.support import ThreadedServer

    class NoTemporal(Client):  # these routes never reach Temporal; lifespan just needs a client
        def __init__(self):
            pass

    with ThreadedServer(create_app(settings, client=NoTemporal())) as server:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": SERVICE_KEY}, timeout=30) as svc:
            assert svc.post("/v1/users", json={"username": "xiaoli", "role": "reviewer", "password": PASSWORD,
                                                "display_name": "小李", "wecom_userid": "LiWei"}).status_code == 201
            yield server.url, svc
    get_auth_settings.cache_clear()


def login(url, user="xiaoli", password=PASSWORD):
    return httpx.post(f"{url}/v1/auth/login", json={"username": user, "password": password}, timeout=30)


def test_login_me_logout(api):
    url, _ = api
    r = login(url)
    assert r.status_code == 200 and r.json()["user"]["role"] == "reviewer", r.text
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    me = httpx.get(f"{url}/v1/auth/me", headers=bearer).json()
    assert me["name"] == "xiaoli" and me["role_label"] == "审核员" and me["kind"] == "user"
    assert httpx.post(f"{url}/v1/auth/logout", headers=bearer).status_code == 204
    assert httpx.get(f"{url}/v1/auth/me", headers=bearer).status_code == 401


def test_lockout_over_http_is_423_and_audited(api):
    url, svc = api
    codes = [login(url, password="wrong-password").status_code for _ in range(3)]
    assert codes == [401, 401, 423]
    assert login(url).status_code == 423
    items = svc.get("/v1/audit", params={"actor": "xiaoli", "action": "login"}).json()["items"]
    assert [i["status"] for i in items][:4] == [423, 423, 401, 401]
    assert items[0]["detail"] == "locked" and items[0]["client_ip"] == "127.0.0.1"


def test_each_call_is_in_the_audit_log_by_the_time_its_answer_arrives(api, monkeypatch):
    """The row is written before the answer's last byte: a caller that reads the log right after its
    answer finds its own call, every time (it was written after the answer and was missed when the
    database was slow: here every audit write takes 0.2 s)."""
    import time

    from store import audit

    url, svc = api
    write = audit.record

    def slow_record(*args, **kwargs):
        time.sleep(0.2)
        return write(*args, **kwargs)

    monkeypatch.setattr(audit, "record", slow_record)
    for i in range(4):
        name = f"clerk{i}"
        assert svc.post("/v1/users", json={"username": name, "role": "reviewer", "password": PASSWORD}).status_code == 201
        targets = [it["target"] for it in svc.get("/v1/audit", params={"action": "POST /v1/users"}).json()["items"]]
        assert targets.count("/v1/users") == i + 2, (i, targets)  # the fixture's own account, then each of these


def test_a_person_cannot_claim_another_name_nor_system(api):
    url, _ = api
    bearer = {"Authorization": f"Bearer {login(url).json()['token']}"}
    r = httpx.post(f"{url}/v1/reviews/order-x~risk-1/decision", json={"decision": "approve", "reviewer": "system"},
                   headers=bearer)
    assert r.status_code == 403 and "signed-in" in r.json()["detail"], r.text
    r = httpx.post(f"{url}/v1/orders/order-x/cancel", json={"reason": "x", "actor": "小王"}, headers=bearer)
    assert r.status_code == 403


def test_a_key_cannot_claim_system(api):
    url, _ = api
    r = httpx.post(f"{url}/v1/reviews/order-x~risk-1/decision", json={"decision": "approve", "reviewer": "system"},
                   headers={"X-API-Key": REVIEWER_KEY})
    assert r.status_code == 403 and "reserved" in r.json()["detail"], r.text


def test_admin_manages_people_and_reads_the_audit_log(api):
    url, svc = api
    assert svc.post("/v1/users", json={"username": "boss", "role": "admin", "password": PASSWORD}).status_code == 201
    admin = {"Authorization": f"Bearer {login(url, 'boss').json()['token']}"}
    reviewer = {"Authorization": f"Bearer {login(url).json()['token']}"}
    assert httpx.get(f"{url}/v1/users", headers=reviewer).status_code == 403
    assert httpx.get(f"{url}/v1/audit", headers=reviewer).status_code == 403
    r = httpx.post(f"{url}/v1/users", json={"username": "kefu1", "role": "customer_service", "password": "x"}, headers=admin)
    assert r.status_code == 422 and "password" in r.json()["detail"]
    r = httpx.post(f"{url}/v1/users", json={"username": "kefu1", "role": "customer_service", "password": PASSWORD},
                   headers=admin)
    assert r.status_code == 201 and "password_hash" not in r.json()
    assert httpx.post(f"{url}/v1/users/xiaoli/disable", headers=admin).status_code == 200
    assert httpx.get(f"{url}/v1/auth/me", headers=reviewer).status_code == 401  # signed out everywhere
    assert httpx.post(f"{url}/v1/users/boss/disable", headers=admin).status_code == 409  # not oneself
    log = httpx.get(f"{url}/v1/audit", headers=admin).json()["items"]
    by_boss = [(i["action"], i["status"]) for i in log if i["actor"] == "boss"]
    assert ("POST /v1/users/{username}/disable", 200) in by_boss and ("POST /v1/users", 201) in by_boss
    assert all(i["role"] == "admin" and i["kind"] == "user" for i in log if i["actor"] == "boss")


def test_readonly_sees_masked_phones():
    from api.masking import mask_personal

    view = {"phone": "+8613812345678", "parts": [{"customer_phone": "13812345678"}], "name": "张三"}
    masked = mask_personal(view)
    assert masked == {"phone": "+86138****5678", "parts": [{"customer_phone": "138****5678"}], "name": "张三"}


def test_wecom_sign_in_through_the_fake(api, fake_wecom):
    url, _ = api
    base = fake_wecom.webhook_url.split("/cgi-bin")[0]
    start = httpx.get(f"{url}/v1/auth/wecom", params={"redirect_uri": "http://console.test/"}).json()
    assert start["authorize_url"].startswith(f"{base}/connect/oauth2/authorize?appid=corp1")
    code = httpx.post(f"{base}/_control/oauth_code", params={"userid": "LiWei"}).json()["code"]
    r = httpx.post(f"{url}/v1/auth/wecom/callback", json={"code": code})
    assert r.status_code == 200 and r.json()["user"]["username"] == "xiaoli", r.text
    assert httpx.post(f"{url}/v1/auth/wecom/callback", json={"code": code}).status_code == 401  # a code is good once
    stranger = httpx.post(f"{base}/_control/oauth_code", params={"userid": "nobody"}).json()["code"]
    assert httpx.post(f"{url}/v1/auth/wecom/callback", json={"code": stranger}).status_code == 401


def test_no_default_secrets_outside_development(tmp_path):
    from zhongshu.auth_settings import AuthSettings, DefaultSecretError, refuse_default_secrets
    from zhongshu.payload_codec import new_key
    from zhongshu.settings import Settings

    prod = AuthSettings(dev_mode=False)
    with pytest.raises(DefaultSecretError, match="ZHONGSHU_API_KEY.*ZHONGSHU_CARRIER_APP_SECRET.*ZHONGSHU_CONFIRM_SECRET"):
        refuse_default_secrets(Settings(var_dir=tmp_path), "API", prod)
    with pytest.raises(DefaultSecretError, match="CARRIER"):
        refuse_default_secrets(Settings(var_dir=tmp_path, api_key="k" * 24, confirm_secret="c" * 24), "worker", prod)
    with pytest.raises(DefaultSecretError, match="ZHONGSHU_CODEC_KEYS"):  # the published codec key
        refuse_default_secrets(Settings(var_dir=tmp_path, api_key="k" * 24, confirm_secret="c" * 24,
                                        carrier_app_secret="real-secret"), "API", prod)
    refuse_default_secrets(Settings(var_dir=tmp_path, api_key="k" * 24, confirm_secret="c" * 24,
                                    carrier_app_secret="real-secret", codec_keys=f"k1:{new_key()}"), "API", prod)
    refuse_default_secrets(Settings(var_dir=tmp_path), "API", AuthSettings(dev_mode=True))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_audit_entry_with_a_nul_in_the_typed_name_is_still_recorded(backend, tmp_path):
    """PostgreSQL text cannot hold NUL: a login typed with one (a fuzzer, a broken client) is kept
    on the record with the NUL spelt out, never lost with a database error."""
    from store import audit
    from tests.support import fresh_pg_database

    def check(url: str) -> None:
        migrate(url)
        engine = engine_for(url)
        audit.record(engine, actor="xiao\x00li", role="-", kind="anonymous", action="POST /v1/auth/login", status=422,
                     target="/v1/auth/login\x00", detail="bad\x00body")
        total, items = audit.query(engine)
        engine.dispose()
        assert total == 1 and items[0]["actor"] == "xiao\\x00li" and items[0]["detail"] == "bad\\x00body"

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'audit.db'}")
    else:
        with fresh_pg_database() as url:
            check(url)
