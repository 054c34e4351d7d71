"""`lumos.yaml`: the typed configuration of a live stack (sources, actions, notify, server).

Parsed into pydantic models that forbid unknown keys; every error names `file:line: field:
message`. Secrets are never written in the file: a field ending in `_env` names the
environment variable that holds the secret, read only when a source or backend is opened.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lumos.tools.errors import InputError
from lumos.tools.runbooks.yamlpos import line_of, parse_with_positions

CONFIG_ENV = "LUMOS_CONFIG"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
ACTION_BACKENDS = ("simulated", "kubernetes", "http", "command")


class _Conf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_secret(env_name: str | None, what: str) -> str | None:
    """The value of the environment variable `env_name` (None when no variable is named).

    A named variable that is unset is an InputError: a configured secret must be there.
    """
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if not value:
        raise InputError(f"environment variable {env_name} is not set (named by {what})")
    return value


class Lookback(_Conf):
    """How much data around the alert's `startsAt` an investigation reads."""

    baseline_s: float = Field(default=1800.0, gt=0, description="Fault-free baseline read before the earliest onset the diagnosis "
                              "looks for (up to 15 min before startsAt: the diagnosis model's onset.max_alert_delay_s + margin_s).")
    after_s: float = Field(default=300.0, ge=0, description="Data read after startsAt (capped at the time of the investigation).")


class Signal(_Conf):
    """One named metric signal: a PromQL template and the label that names the service in its results."""

    query: str = Field(min_length=1, description="PromQL; `{service}` becomes the service matcher, `{label}` the label name.")
    service_label: str | None = Field(default=None, pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")

    @field_validator("query")
    @classmethod
    def _has_matcher(cls, value: str) -> str:
        if "{service}" not in value:
            raise ValueError("query must contain {service} inside a selector's braces, e.g. up{{service}}")
        return value


class PrometheusSource(_Conf):
    """Metrics from any Prometheus HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir)."""

    type: Literal["prometheus"] = "prometheus"
    url: str = Field(pattern=r"^https?://", description="API root, e.g. http://prometheus:9090 (a path prefix is kept).")
    service_label: str = Field(default="job", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
                               description="Label naming the service on the HTTP (OpenTelemetry) signals.")
    workload_label: str = Field(default="container", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
                                description="Label naming the service on the cAdvisor/kube-state-metrics signals.")
    preset: Literal["otel", "prometheus-client"] = Field(default="otel", description="Default templates of the HTTP signals.")
    signals: dict[str, Signal | None] = Field(default_factory=dict, description="Per signal: override its template, or null to drop it.")
    step_s: float = Field(default=15.0, gt=0)
    rate_window: str = Field(default="1m", pattern=r"^\d+[smh]$", description="Range of rate()/increase() in the defaults.")
    timeout_s: float = Field(default=10.0, gt=0)
    bearer_token_env: str | None = Field(default=None, pattern=ENV_NAME)
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers (no secrets: use bearer_token_env).")


class ElasticFieldNames(_Conf):
    """Document fields of the log index (ECS names by default)."""

    timestamp: str = "@timestamp"
    service: str = "service.name"
    level: str = "log.level"
    message: str = "message"
    trace_id: str = "trace.id"
    instance: str = "host.name"


class ElasticSource(_Conf):
    """Logs in Elasticsearch or OpenSearch."""

    type: Literal["elasticsearch", "opensearch"] = "elasticsearch"
    url: str = Field(pattern=r"^https?://")
    index: str = Field(default="logs-*", min_length=1, description="Index or pattern searched.")
    fields: ElasticFieldNames = Field(default_factory=ElasticFieldNames)
    max_lines: int = Field(default=20_000, ge=100, le=1_000_000, description="Cap on raw lines fetched per investigation.")
    timeout_s: float = Field(default=10.0, gt=0)
    api_key_env: str | None = Field(default=None, pattern=ENV_NAME)
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=ENV_NAME)
    verify_certs: bool = True
    plain_json: bool | None = Field(default=None, description="Send plain application/json (default: true for opensearch).")

    @model_validator(mode="after")
    def _basic_auth(self) -> "ElasticSource":
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together")
        return self


class OtlpSource(_Conf):
    """Spans received by `lumos serve` on POST /v1/traces and stored in its database."""

    type: Literal["otlp"] = "otlp"
    max_spans: int = Field(default=300_000, ge=1000, le=5_000_000, description="Cap on spans read per investigation.")


class KubernetesAccess(_Conf):
    """How to reach a Kubernetes API: in-cluster service account, else the kubeconfig."""

    namespace: str = Field(default="default", min_length=1)
    context: str | None = None
    kubeconfig: Path | None = None


class TopologySource(_Conf):
    """Where the service graph comes from: a YAML file, stored spans, or Kubernetes plus span edges."""

    type: Literal["static", "spans", "kubernetes"] = "spans"
    file: Path | None = Field(default=None, description="static: a topology.yaml (services, calls).")
    kubernetes: KubernetesAccess | None = None

    @model_validator(mode="after")
    def _needs(self) -> "TopologySource":
        if self.type == "static" and self.file is None:
            raise ValueError("type static needs file: path/to/topology.yaml")
        if self.type == "kubernetes" and self.kubernetes is None:
            raise ValueError("type kubernetes needs kubernetes: {namespace: ...}")
        return self


class ChangesSource(_Conf):
    """Deploy/config events: POST /webhooks/changes (stored), plus Kubernetes rollout history."""

    webhook: bool = Field(default=True, description="Read events received on POST /webhooks/changes.")
    kubernetes: KubernetesAccess | None = Field(default=None, description="Also read ReplicaSet revisions (rollout history).")
    lookback_s: float = Field(default=6 * 3600.0, gt=0, description="How far before the alert changes are read.")
    github_secret_env: str | None = Field(default=None, pattern=ENV_NAME,
                                          description="Variable holding the GitHub webhook secret (X-Hub-Signature-256 instead of a bearer token).")


class Sources(_Conf):
    """The observability data an investigation reads; leave a source out and it has nothing."""

    window: Lookback = Field(default_factory=Lookback)
    metrics: PrometheusSource | None = None
    logs: ElasticSource | None = None
    traces: OtlpSource | None = None
    topology: TopologySource | None = None
    changes: ChangesSource | None = None

    def configured(self) -> list[str]:
        """Names of the configured sources."""
        return [name for name in ("metrics", "logs", "traces", "topology", "changes") if getattr(self, name) is not None]


class ActionRoute(_Conf):
    """Where one action runs and whether it only says what it would do."""

    backend: Literal["simulated", "kubernetes", "http", "command"] = "simulated"
    dry_run: bool = True


class HttpBackendConf(_Conf):
    """HTTP hook receiver: signed POST {url}/actions."""

    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field(pattern=ENV_NAME, description="Variable holding the HMAC secret.")
    timeout_s: float = Field(default=10.0, gt=0)


class CommandBackendConf(_Conf):
    """Allowlisted commands: action/check name -> argv template (never a shell)."""

    actions: dict[str, list[str]] = Field(default_factory=dict)
    checks: dict[str, list[str]] = Field(default_factory=dict)
    timeout_s: float = Field(default=60.0, gt=0)


class KubernetesBackendConf(KubernetesAccess):
    """The Kubernetes action backend: Deployments in one namespace."""

    deployments: dict[str, str] = Field(default_factory=dict, description="service -> Deployment name when they differ.")


class Actions(_Conf):
    """Per-action backend and dry run; `default` covers every action not listed."""

    default: ActionRoute = Field(default_factory=ActionRoute)
    per_action: dict[str, ActionRoute] = Field(default_factory=dict)
    kubernetes: KubernetesBackendConf | None = None
    http: HttpBackendConf | None = None
    command: CommandBackendConf | None = None

    def route(self, action: str) -> ActionRoute:
        """The backend and dry-run setting of `action`."""
        return self.per_action.get(action, self.default)

    def backends_used(self) -> set[str]:
        """Every backend some action or the checks may use."""
        return {self.default.backend, *(r.backend for r in self.per_action.values())}

    @model_validator(mode="after")
    def _backends_configured(self) -> "Actions":
        missing = sorted(b for b in self.backends_used() if b != "simulated" and getattr(self, b) is None)
        if missing:
            raise ValueError(f"backend {missing[0]} is used but has no `{missing[0]}:` section")
        if self.default.backend == "kubernetes":
            raise ValueError("the kubernetes backend runs only restart_service, scale_service and rollback_deploy: keep the default "
                             "on simulated, http or command and route those actions with per_action")
        from lumos.tools.actions.registry import default_action_registry

        registry = default_action_registry()
        for action, route in self.per_action.items():
            if action not in registry:
                continue  # a plugin action: checked when it runs
            wanted = "http_hook" if route.backend == "http" else route.backend
            if wanted not in registry.get(action).backends:
                raise ValueError(f"per_action.{action}: the {route.backend} backend cannot run {action}")
        return self


class NotifyTarget(_Conf):
    """Where escalations are sent; the URL is a secret, so it is read from an environment variable."""

    kind: Literal["webhook", "slack"]
    url_env: str = Field(pattern=ENV_NAME)
    name: str | None = None


class Notify(_Conf):
    """Escalation notifications for every incident (workflows may add their own)."""

    targets: list[NotifyTarget] = Field(default_factory=list)


class OtlpReceiver(_Conf):
    """Bounds of the span store fed by POST /v1/traces."""

    retention_s: float = Field(default=6 * 3600.0, gt=0, description="Spans older than this are deleted.")
    max_spans: int = Field(default=2_000_000, ge=1000, description="Oldest spans are deleted past this count.")
    max_body_bytes: int = Field(default=8 * 1_048_576, ge=1024, description="Largest OTLP request body.")


class Server(_Conf):
    """`lumos serve` settings (each may still be overridden by LUMOS_* variables and flags)."""

    host: str | None = None
    port: int | None = Field(default=None, ge=0, le=65535)
    home: Path | None = None
    workers: int | None = Field(default=None, ge=1, le=64)
    database_url_env: str | None = Field(default=None, pattern=ENV_NAME, description="Variable holding postgresql://... (fleet mode).")
    otlp: OtlpReceiver = Field(default_factory=OtlpReceiver)
    changes_retention_s: float = Field(default=30 * 86400.0, gt=0)


class StackConfig(_Conf):
    """The whole of `lumos.yaml`."""

    version: Literal[1] = 1
    sources: Sources = Field(default_factory=Sources)
    actions: Actions = Field(default_factory=Actions)
    notify: Notify = Field(default_factory=Notify)
    server: Server = Field(default_factory=Server)

    path: Path | None = Field(default=None, exclude=True, description="The file it was read from (set by load_config).")

    def resolve(self, path: Path | None) -> Path | None:
        """A path of the config, relative to the config file's folder."""
        if path is None or path.is_absolute() or self.path is None:
            return path
        return (self.path.parent / path).resolve()


def check_config(path: Path) -> tuple[StackConfig | None, list[InputError]]:
    """Parse and validate `path`, returning (config or None, every error with file:line: field)."""
    try:
        data, node = parse_with_positions(path)
    except InputError as exc:
        return None, [exc]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [InputError(f"expected a mapping at the top level, got {type(data).__name__}", path=path, line=1)]
    if "path" in data:
        return None, [InputError("unknown field", path=path, line=line_of(node, ("path",)), field="path")]
    try:
        config = StackConfig.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(p for p in err.get("loc", ()) if not _is_union_tag(p))
            message = _message(err, loc)
            errors.append(InputError(message, path=path, line=line_of(node, loc), field=".".join(str(p) for p in loc) or None))
        return None, _unique(errors)
    return config.model_copy(update={"path": path.resolve()}), []


def _is_union_tag(part: Any) -> bool:
    """pydantic puts the chosen union member's class name in error locations; they are not fields."""
    return isinstance(part, str) and part[:1].isupper()


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The field names valid where `loc`'s last key sits (for 'unknown field' messages)."""
    model: Any = StackConfig
    for part in loc[:-1]:
        if isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            model = model.model_fields[part].annotation
        elif isinstance(part, str | int):
            pass  # a dict key or list index: the value type follows
        args = [a for a in getattr(model, "__args__", ()) if a is not type(None)]
        while args and not (isinstance(model, type) and issubclass(model, BaseModel)):
            model = args[-1]
            args = [a for a in getattr(model, "__args__", ()) if a is not type(None)]
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [n for n, f in model.model_fields.items() if not f.exclude]
    return []


def _message(err: dict[str, Any], loc: tuple[Any, ...]) -> str:
    kind, msg = err.get("type"), err.get("msg", "invalid")
    if kind == "extra_forbidden":
        valid = _fields_at(loc)
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1) if loc else []
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown field; {hint}valid here: {', '.join(valid)}" if valid else "unknown field"
    if kind == "literal_error":
        return msg.replace("Input should be", "expected")
    return msg.removeprefix("Value error, ")


def _unique(errors: list[InputError]) -> list[InputError]:
    seen: set[str] = set()
    out = []
    for e in errors:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    return out


def load_config(path: str | Path) -> StackConfig:
    """Read `lumos.yaml`; raise the first error as an InputError (file:line: field: message)."""
    config, errors = check_config(Path(path))
    if errors:
        raise errors[0]
    assert config is not None
    return config


def config_path(explicit: str | Path | None) -> Path | None:
    """The config file to use: `--config`, else LUMOS_CONFIG, else none."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else None
