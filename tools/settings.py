"""LUMOS configuration: one typed settings object, read from the environment (LUMOS_*) with defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from lumos.tools.domain.base import StrictModel
from lumos.tools.errors import InputError
from lumos.tools.validation import describe_validation_error

ENV_PREFIX = "LUMOS_"
_LIST_FIELDS = ("runbook_dirs", "workflow_dirs", "approver_roles")


class Settings(StrictModel):
    """Everything LUMOS can be configured with. Each field can be set with `LUMOS_<FIELD>`."""

    home: Path = Field(default=Path("~/.lumos"), description="State folder: checkpoints, audit trail, simulated world, reports.")
    mode: Literal["offline", "llm"] = Field(
        default="offline",
        description="offline: deterministic analyzers only; llm: model-backed agents (the default when OPENAI_API_KEY or OPENAI_BASE_URL is set).",
    )
    onset_lookback_s: float | None = Field(
        default=None, ge=0,
        description="Without an onset found in the data, how long before the alert the incident window opens (default: the diagnosis model's 120 s).",
    )
    diagnosis_model: Path | None = Field(
        default=None,
        description="A YAML file of diagnosis weights and calibration merged onto the shipped model (see lumos.tools.diagnosis_model).",
    )
    max_evidence_per_service: int = Field(default=5, ge=1, le=50, description="Hard bound on evidence lines per service in a report.")
    runbook_dirs: list[Path] = Field(default_factory=list, description="Extra runbook folders (os.pathsep-separated in the env).")
    runbook_index: Literal["auto", "chroma", "lexical"] = Field(
        default="auto",
        description="Runbook retrieval: chroma (vectors + BM25), lexical (BM25), or auto = chroma once `lumos runbooks index` "
        "has built the index (or LUMOS_CHROMA_HOST names a server), else lexical.",
    )
    approval_timeout_s: float = Field(default=3600.0, gt=0, description="How long a gate waits before the incident escalates.")
    model: str = Field(default="openai:gpt-4.1-mini", description="Default model of every agent role: 'openai:MODEL' or 'openai:MODEL@BASE_URL'.")
    coordinator_model: str | None = Field(default=None, description="Model of the coordinator (triage, chat); default `model`.")
    log_analyst_model: str | None = Field(default=None, description="Model of the log analysis agent; default `model`.")
    dependency_mapper_model: str | None = Field(default=None, description="Model of the dependency mapping agent; default `model`.")
    runbook_executor_model: str | None = Field(default=None, description="Model of the runbook agent; default `model`.")
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp); default OPENAI_BASE_URL.")
    llm_max_iterations: int = Field(default=8, ge=1, le=50, description="Model calls one agent loop may make before falling back.")
    llm_max_tokens: int = Field(default=60000, ge=100, description="Tokens (in + out) one agent loop may spend before falling back.")
    llm_timeout_s: float = Field(default=60.0, gt=0, description="Wall-clock seconds one agent loop may take before falling back.")
    llm_max_retries: int = Field(default=2, ge=0, le=10, description="Retries of a model call after a 429, 5xx, timeout or connection error.")
    llm_backoff_s: float = Field(default=1.0, ge=0, description="First retry delay in seconds (doubles per retry, capped at 30 s).")
    llm_redact_emails: bool = Field(default=True, description="Replace e-mail addresses before text reaches a model.")
    llm_redact_ips: bool = Field(default=False, description="Replace IP addresses before text reaches a model.")
    workflow_dirs: list[Path] = Field(default_factory=list, description="Extra workflow folders (os.pathsep-separated in the env).")
    approver_roles: list[str] = Field(default_factory=lambda: ["oncall", "sre", "dba", "security", "incident-commander"],
                                      description="Role names workflows may require of approvers (os.pathsep-separated in the env).")
    console_url: str = Field(default="http://127.0.0.1:8000", description="Base URL of the web console, linked from notifications.")
    notify_webhook_url: str | None = Field(default=None, description="Generic JSON webhook told of every escalation (all workflows).")
    notify_slack_url: str | None = Field(default=None, description="Slack-compatible incoming webhook told of every escalation.")
    notify_retries: int = Field(default=3, ge=0, le=10, description="Retries of an escalation notification after a transient failure.")
    notify_backoff_s: float = Field(default=0.5, ge=0, description="First notification retry delay in seconds (doubles per retry).")
    notify_timeout_s: float = Field(default=5.0, gt=0, description="Seconds one notification request may take.")
    audit_key: str | None = Field(default=None, repr=False, min_length=32,
                                  description="HMAC key of the audit trail (>= 32 characters; default: <home>/audit.key, created 0600). "
                                  "Every process sharing a Postgres trail needs the same key.")
    plugins: bool = Field(default=True, description="Load agents, tools, sources and actions from installed entry points.")
    prompt_dir: Path | None = Field(default=None, description="Folder whose *.j2 files override the bundled prompt templates.")
    config: Path | None = Field(default=None, description="lumos.yaml: live sources, action backends, notifications (see `lumos config example`).")

    @property
    def state_dir(self) -> Path:
        """The expanded state folder."""
        return self.home.expanduser()

    @property
    def checkpoint_db(self) -> Path:
        """SQLite file of the LangGraph checkpointer (one thread per incident)."""
        return self.state_dir / "checkpoints.sqlite"

    @property
    def audit_db(self) -> Path:
        """SQLite file of the hash-chained audit trail."""
        return self.state_dir / "audit.sqlite"

    @property
    def audit_key_file(self) -> Path:
        """The audit key file used when LUMOS_AUDIT_KEY is not set (created on first use, mode 0600)."""
        return self.state_dir / "audit.key"

    @property
    def simenv_db(self) -> Path:
        """SQLite file of the simulated environment that demo and eval incidents act on."""
        return self.state_dir / "simenv.sqlite"

    @property
    def reports_dir(self) -> Path:
        """Where incident reports are written."""
        return self.state_dir / "reports"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from `LUMOS_*` variables, then explicit overrides; bad values are InputErrors."""
        env = os.environ if env is None else env
        raw: dict[str, object] = {}
        for name in cls.model_fields:
            value = env.get(ENV_PREFIX + name.upper())
            if value is None or value == "":
                continue
            raw[name] = [p for p in value.split(os.pathsep) if p] if name in _LIST_FIELDS else value
        raw.update({k: v for k, v in overrides.items() if v is not None})
        if "mode" not in raw and (env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL")):
            raw["mode"] = "llm"
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            field, message = describe_validation_error(exc)
            raise InputError(message, field=f"{ENV_PREFIX}{(field or '').upper()}" if field else None) from None
