"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine here).

The compose file must stay in step with the code: the CLI commands it runs exist, the ZHONGSHU_*
variables it sets are real settings, the search attributes it registers are the ones the workflows
upsert, and the image contains every package the project installs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import typer.main
import yaml

from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES
from zhongshu.cli import app as cli_app
from zhongshu.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

APP_SERVICES = {"zhongshu-migrate": ["db", "migrate"], "worker": ["worker"], "api": ["api"], "console": ["console"]}
INFRA_SERVICES = {"postgresql", "temporal", "temporal-ui", "temporal-init"}
MONITORING_SERVICES = {"prometheus", "grafana"}
# read by console/api_client.py directly, not through Settings
NON_SETTINGS_VARS = {"ZHONGSHU_CONSOLE_API_URL"}
SECRETS = {"ZHONGSHU_API_KEY": "prod-key", "ZHONGSHU_CARRIER_APP_SECRET": "carrier-secret",
           "ZHONGSHU_CONFIRM_SECRET": "confirm-secret", "ZHONGSHU_CODEC_KEYS": "k1:" + "A" * 43 + "="}

_VAR = re.compile(r"\$\{(\w+)(?:(:?-)([^}]*)|(:?\?)[^}]*)?\}")


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} with the given environment."""
    env = env or {}

    def sub(m: re.Match) -> str:
        name, _, default, required = m.groups()
        if name in env:
            return env[name]
        if required:
            raise KeyError(f"{name} is required")
        return default or ""

    return _VAR.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def deps_of(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def container_ports(service: dict) -> set[int]:
    out = set()
    for p in service.get("ports", []):
        spec = str(p["target"]) if isinstance(p, dict) else str(p)
        out.add(int(spec.split("/")[0].rsplit(":", 1)[-1]))
    return out


# ---------------------------------------------------------------- shape


def test_names_every_service(services):
    assert set(services) == INFRA_SERVICES | MONITORING_SERVICES | set(APP_SERVICES)


def test_app_services_share_one_image_and_build(services):
    builds = {repr(services[s].get("build")) for s in APP_SERVICES}
    images = {services[s].get("image") for s in APP_SERVICES}
    assert len(builds) == 1 and len(images) == 1, (builds, images)
    build = services["api"]["build"]
    assert build["context"] == "." and (ROOT / build.get("dockerfile", "Dockerfile")) == DOCKERFILE


def test_app_commands_are_real_cli_commands(services):
    cli = typer.main.get_command(cli_app)
    for name, args in APP_SERVICES.items():
        command = services[name]["command"]
        assert command == ["zhongshu", *args], name
        group = cli
        for word in args:
            assert word in group.commands, f"`zhongshu {' '.join(args)}` is not a CLI command"
            group = group.commands[word]


def test_depends_on_targets_exist_and_there_is_no_cycle(services):
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        for dep, cond in deps_of(svc).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert cond in conditions, (name, dep, cond)
            if cond == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy; it has no healthcheck"

    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' → '.join(path + (name,))}"
        if name not in done:
            for dep in deps_of(services[name]):
                visit(dep, path + (name,))
            done.add(name)

    for name in services:
        visit(name, ())


def test_start_order(services):
    """The read model is migrated and the search attributes exist before any worker or API runs."""
    for name in ("worker", "api"):
        deps = deps_of(services[name])
        assert deps.get("zhongshu-migrate") == "service_completed_successfully", name
        assert deps.get("temporal-init") == "service_completed_successfully", name
    assert deps_of(services["zhongshu-migrate"])["postgresql"] == "service_healthy"
    assert deps_of(services["temporal"])["postgresql"] == "service_healthy"
    assert deps_of(services["console"])["api"] == "service_healthy"
    for one_shot in ("zhongshu-migrate", "temporal-init"):
        assert services[one_shot].get("restart") in ("no", "on-failure"), one_shot


def test_ports_are_declared(services):
    assert 8000 in container_ports(services["api"])
    assert 8501 in container_ports(services["console"])
    assert 8080 in container_ports(services["temporal-ui"])
    assert 7233 in container_ports(services["temporal"])


def test_unauthenticated_temporal_ports_stay_on_localhost(services):
    for name in ("temporal", "temporal-ui", "prometheus", "grafana", "console"):
        for p in services[name]["ports"]:
            assert str(p).startswith("127.0.0.1:"), (name, p)


# ---------------------------------------------------------------- configuration


def test_app_environment(services):
    for name in APP_SERVICES:
        env = env_of(services[name])
        assert env["ZHONGSHU_TEMPORAL_ADDRESS"] == "temporal:7233", name
        assert interpolate(env["DATABASE_URL"]) == "postgresql+psycopg://zhongshu:zhongshu@postgresql:5432/zhongshu"
        assert env["ZHONGSHU_API_HOST"] == "0.0.0.0"
        assert "${ZHONGSHU_API_KEY" in env["ZHONGSHU_API_KEY"], "the API key comes from the environment"
        with pytest.raises(KeyError):
            interpolate(env["ZHONGSHU_API_KEY"])  # required: compose refuses to start without one
        assert interpolate(env["ZHONGSHU_API_KEY"], {"ZHONGSHU_API_KEY": "k"}) == "k"
        assert "${ZHONGSHU_WECOM_WEBHOOK_URL" in env["ZHONGSHU_WECOM_WEBHOOK_URL"]
        for secret in ("ZHONGSHU_CARRIER_APP_SECRET", "ZHONGSHU_CONFIRM_SECRET"):  # issue 13: no defaults
            if name in ("worker", "api"):
                with pytest.raises(KeyError):
                    interpolate(env[secret])
    console = env_of(services["console"])
    assert console["ZHONGSHU_CONSOLE_API_URL"] == "http://api:8000"
    assert "ZHONGSHU_CONSOLE_API_KEY" not in console, "the console signs people in; it holds no service key"


def test_every_zhongshu_variable_is_a_real_setting(services):
    from zhongshu.auth_settings import AuthSettings

    fields = {f"ZHONGSHU_{name.upper()}" for name in (*Settings.model_fields, *AuthSettings.model_fields)}
    for name in APP_SERVICES:
        for var in env_of(services[name]):
            if var.startswith("ZHONGSHU_") and var not in NON_SETTINGS_VARS:
                assert var in fields, f"{name}: {var} is not a Settings field (typo?)"


def test_app_environment_builds_valid_settings(services, monkeypatch, tmp_path):
    for var in list(__import__("os").environ):
        if var.startswith("ZHONGSHU_") or var == "DATABASE_URL":
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)  # no stray .env
    for var, value in env_of(services["worker"]).items():
        monkeypatch.setenv(var, interpolate(value, SECRETS))
    s = Settings()
    from zhongshu.auth_settings import AuthSettings, refuse_default_secrets

    refuse_default_secrets(s, "worker", AuthSettings(dev_mode=False))  # compose's settings start outside dev mode
    assert s.temporal_address == "temporal:7233" and s.api_host == "0.0.0.0" and s.api_port == 8000
    assert s.db_url.startswith("postgresql+psycopg://zhongshu:") and s.db_url.endswith("@postgresql:5432/zhongshu")
    assert s.effective_api_key() == "prod-key" and s.wecom_webhook_url == ""
    assert s.console_url == "http://localhost:8501"
    assert s.log_console == "json" and s.otel_exporter == "none" and s.otel_protocol == "http/protobuf"
    assert (s.worker_metrics_host, s.worker_metrics_port) == ("0.0.0.0", 9464)

    for var, value in env_of(services["api"]).items():
        monkeypatch.setenv(var, interpolate(value, SECRETS | {"ZHONGSHU_METRICS_KEY": "scrape-key"}))
    keys = Settings().api_keys()
    assert keys == {"prod-key": "service", "scrape-key": "readonly"}, "an empty extra key list adds nothing"
    monkeypatch.setenv("ZHONGSHU_EXTRA_API_KEYS", interpolate(
        env_of(services["api"])["ZHONGSHU_EXTRA_API_KEYS"],
        {"ZHONGSHU_METRICS_KEY": "scrape-key", "ZHONGSHU_EXTRA_API_KEYS": "rev-1:reviewer"}))
    assert Settings().api_keys() == {"prod-key": "service", "scrape-key": "readonly", "rev-1": "reviewer"}


def test_postgresql(services, compose):
    pg = services["postgresql"]
    assert pg["image"] == "postgres:16"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    data, init = pg["volumes"][0], pg["volumes"][1]
    assert data.split(":")[0] in compose["volumes"], "data lives on a named volume"
    host_dir = init.split(":")[0]
    assert init.split(":")[1] == "/docker-entrypoint-initdb.d"
    scripts = sorted((ROOT / host_dir).glob("*"))
    assert scripts, f"{host_dir} holds the init script"
    text = "\n".join(p.read_text() for p in scripts)
    assert re.search(r"CREATE DATABASE zhongshu\b", text) and re.search(r"CREATE ROLE zhongshu\b", text)
    assert re.search(r"CREATE ROLE temporal\b.*CREATEDB", text)


def test_temporal_on_postgresql_with_its_own_database(services):
    t = services["temporal"]
    assert t["image"].startswith("temporalio/auto-setup:")
    env = env_of(t)
    assert env["DB"] == "postgres12" and env["DB_PORT"] == "5432" and env["POSTGRES_SEEDS"] == "postgresql"
    assert env["POSTGRES_USER"] and env["POSTGRES_PWD"]
    zs_url = interpolate(env_of(services["api"])["DATABASE_URL"])
    zs_user, zs_db = re.match(r".*://(\w+):.*/(\w+)$", zs_url).groups()
    assert env["POSTGRES_USER"] != zs_user, "Temporal and the read model use different roles"
    assert zs_db not in {env.get("DBNAME", "temporal"), env.get("VISIBILITY_DBNAME", "temporal_visibility")}


def test_temporal_ui(services):
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert env_of(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_the_temporal_ui_decodes_through_the_apis_codec_server(services, monkeypatch):
    """Issue 13: the UI (browser) calls the API's codec server with the console's sign-in cookie, and
    the API answers CORS for the UI's origin; the codec key is required, never the development one."""
    ui = env_of(services["temporal-ui"])
    assert interpolate(ui["TEMPORAL_CODEC_ENDPOINT"]) == "http://localhost:8000/v1/codec"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    api = env_of(services["api"])
    with pytest.raises(KeyError, match="ZHONGSHU_CODEC_KEYS"):
        interpolate(api["ZHONGSHU_CODEC_KEYS"])
    for var, value in api.items():
        monkeypatch.setenv(var, interpolate(value, SECRETS | {"ZHONGSHU_METRICS_KEY": "scrape-key"}))
    s = Settings()
    ui_port = int(str(services["temporal-ui"]["ports"][0]).rsplit(":", 1)[-1])
    assert f"http://localhost:{ui_port}" in s.codec_origins
    assert all(env_of(services[name]).get("ZHONGSHU_CODEC_KEYS") == api["ZHONGSHU_CODEC_KEYS"]
               for name in ("worker", "api", "console")), "every process holds the same codec keys"


def test_search_attributes_are_registered(services):
    init = services["temporal-init"]
    assert init["image"].startswith("temporalio/admin-tools:")
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert "temporal operator search-attribute create" in script and "--type Keyword" in script
    registered = env_of(init)["SEARCH_ATTRIBUTES"].split()
    assert sorted(registered) == sorted(k.name for k in SEARCH_ATTRIBUTES)
    assert env_of(init)["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_shell_dollars_are_escaped_for_compose(services):
    """In compose files `$VAR` is interpolated by compose itself; the init script must say `$$VAR`."""
    script = "\n".join(services["temporal-init"]["command"])
    unescaped = re.findall(r"(?<!\$)\$(?!\$)[({\w]", script.replace("$$", ""))
    assert not unescaped, unescaped


# ---------------------------------------------------------------- telemetry: Prometheus and Grafana


def _host_path(service: dict, container_path: str) -> Path:
    """The host file behind a path inside the container, from the service's bind mounts."""
    for vol in service.get("volumes", []):
        host, target = vol.split(":")[:2]
        if host.startswith("./") and (container_path == target or container_path.startswith(target.rstrip("/") + "/")):
            return ROOT / host[2:] / container_path[len(target):].lstrip("/")
    raise AssertionError(f"{container_path} is not mounted from the host")


@pytest.fixture(scope="module")
def prometheus_config(services) -> dict:
    prom = services["prometheus"]
    flag = next(a for a in prom["command"] if a.startswith("--config.file="))
    path = _host_path(prom, flag.split("=", 1)[1])
    assert path.exists(), path
    return yaml.safe_load(path.read_text())


def _job(config: dict, name: str) -> dict:
    return next(j for j in config["scrape_configs"] if j["job_name"] == name)


def test_prometheus_loads_its_rules_and_keeps_data_on_a_volume(services, compose, prometheus_config):
    prom = services["prometheus"]
    assert prom["image"].startswith("prom/prometheus:")
    assert any(v.split(":")[0] in compose["volumes"] and v.split(":")[1] == "/prometheus" for v in prom["volumes"])
    assert prometheus_config["rule_files"]
    for rules in prometheus_config["rule_files"]:
        path = _host_path(prom, rules)
        assert path.exists(), f"{rules} → {path}"
        assert yaml.safe_load(path.read_text())["groups"]
    assert 9090 in container_ports(prom)


def test_prometheus_scrapes_the_api_with_the_readonly_key(services, compose, prometheus_config):
    from zhongshu.telemetry import METRICS_ROLES

    job = _job(prometheus_config, "zhongshu-api")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["static_configs"][0]["targets"] == ["api:8000"] and 8000 in container_ports(services["api"])
    auth = job["authorization"]
    assert auth["type"] == "Bearer"  # api/auth.py takes `Authorization: Bearer <key>` as the key
    secret = auth["credentials_file"].removeprefix("/run/secrets/")
    assert secret in services["prometheus"]["secrets"]
    assert compose["secrets"][secret] == {"environment": "ZHONGSHU_METRICS_KEY"}
    extra = env_of(services["api"])["ZHONGSHU_EXTRA_API_KEYS"]
    with pytest.raises(KeyError):
        interpolate(extra)  # compose refuses to start without the metrics key
    key, _, role = interpolate(extra, {"ZHONGSHU_METRICS_KEY": "m"}).split(",")[0].partition(":")
    assert key == "m" and role in METRICS_ROLES and role != "service", "a readonly key, not the service key"


def test_prometheus_finds_every_worker_replica(services, prometheus_config):
    job = _job(prometheus_config, "zhongshu-worker")
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["type"] == "A"
    env = env_of(services["worker"])
    assert sd["port"] == int(env["ZHONGSHU_WORKER_METRICS_PORT"]) == Settings.model_fields["worker_metrics_port"].default
    assert env["ZHONGSHU_WORKER_METRICS_HOST"] == "0.0.0.0", "reachable from the prometheus container"
    assert str(sd["port"]) in [str(p) for p in services["worker"].get("expose", [])]
    assert "ports" not in services["worker"], "worker metrics stay on the compose network (replicas share no host port)"
    assert str(services["worker"]["deploy"]["replicas"]).endswith(":-2}"), "two workers by default: scale-out is real"


def test_prometheus_scrapes_the_temporal_server(services, prometheus_config):
    endpoint = env_of(services["temporal"])["PROMETHEUS_ENDPOINT"]
    port = endpoint.rsplit(":", 1)[1]
    assert _job(prometheus_config, "temporal")["static_configs"][0]["targets"] == [f"temporal:{port}"]


def test_grafana_provisions_the_datasource_and_the_dashboard(services):
    import json

    g = services["grafana"]
    assert g["image"].startswith("grafana/grafana:")
    assert deps_of(g)["prometheus"] == "service_healthy" and "healthcheck" in services["prometheus"]
    provisioning = _host_path(g, "/etc/grafana/provisioning")
    (ds,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert ds["url"] == "http://prometheus:9090" and ds["type"] == "prometheus"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "zhongshu.yml").read_text())["providers"]
    dashboards = [v for v in g["volumes"] if v.split(":")[1].startswith(provider["options"]["path"] + "/")]
    assert dashboards, "the dashboard file is mounted where the provider reads"
    dashboard = json.loads(_host_path(g, dashboards[0].split(":")[1]).read_text())
    uids = {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p}
    assert uids == {ds["uid"]}
    assert env_of(g)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == dashboards[0].split(":")[1]
    assert env_of(g)["GF_USERS_ALLOW_SIGN_UP"] == "false"


# ---------------------------------------------------------------- the image


def dockerfile() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instr, _, rest = line.partition(" ")
            out.append((instr.upper(), rest.strip()))
    return out


def test_dockerfile_base_user_and_cmd():
    assert DOCKERFILE.exists()
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [rest for instr, rest in steps if instr == "USER"]
    assert users and users[-1] not in ("root", "0"), "runs as a non-root user"
    assert [rest for instr, rest in steps if instr == "CMD"][-1] == '["zhongshu", "api"]'
    runs = " ".join(rest for instr, rest in steps if instr == "RUN")
    assert re.search(r"pip install [^&]*-e \.", runs), "the project itself is pip-installed"
    assert "8000" in " ".join(rest for instr, rest in steps if instr == "EXPOSE")


def test_dockerfile_copies_every_package_and_the_data_it_needs():
    copied = set()
    for instr, rest in dockerfile():
        if instr == "COPY":
            copied.update(p.rstrip("/") for p in rest.split()[:-1])
    assert "." not in copied, "copy the source explicitly, never the working tree (.venv, var/, .env)"
    assert {"pyproject.toml", "README.md", "rules"} <= copied
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    includes = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in includes:
        pkg = pattern.rstrip("*")
        if any((ROOT / pkg).glob("*.py")):
            assert pkg in copied, f"package {pkg} is installed by pyproject.toml but not copied into the image"
    for path in copied:
        assert (ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"
