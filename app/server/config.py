"""The server's one typed configuration object, read from `LUMOS_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import IntEnum
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from lumos.tools.domain.base import StrictModel
from lumos.tools.errors import InputError
from lumos.tools.settings import Settings
from lumos.tools.validation import describe_validation_error


class Role(IntEnum):
    """API roles, each including the rights of the ones below it."""

    viewer = 1
    """Read incidents, audit trails and events."""
    responder = 2
    """Also send alerts (webhooks)."""
    approver = 3
    """Also approve or reject gated steps."""
    admin = 4
    """Everything."""


class ApiToken(StrictModel):
    """One bearer token: who holds it and what it may do."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role
    token: str = Field(min_length=16, max_length=512, repr=False)
    groups: list[str] = Field(default_factory=list, description="Approver groups (e.g. dba) that workflows may require.")

    @field_validator("role", mode="before")
    @classmethod
    def _role_name(cls, value: object) -> object:
        if isinstance(value, str) and not value.isdigit():
            try:
                return Role[value.strip().lower()]
            except KeyError:
                raise ValueError(f"unknown role {value!r}; valid roles: {', '.join(r.name for r in Role)}") from None
        return value


def parse_tokens(text: str) -> list[ApiToken]:
    """Parse `name:role:token,...` (the LUMOS_API_TOKENS format); `role+group+group` adds approver groups (e.g. approver+dba)."""
    tokens: list[ApiToken] = []
    seen: dict[str, tuple[int, str]] = {}
    for number, item in enumerate((p.strip() for p in text.split(",")), start=1):
        if not item:
            continue
        parts = item.split(":", 2)
        if len(parts) != 3:
            raise InputError(f"entry {number} is not name:role:token", field="LUMOS_API_TOKENS")
        try:
            role, *groups = parts[1].split("+")
            tokens.append(ApiToken(name=parts[0], role=role, token=parts[2], groups=[g for g in groups if g]))
        except ValidationError as exc:
            field, message = describe_validation_error(exc)
            raise InputError(f"entry {number} ({parts[0]}): {field}: {message}", field="LUMOS_API_TOKENS") from None
        if tokens[-1].token in seen:
            first, name = seen[tokens[-1].token]
            raise InputError(f"entry {number} ({parts[0]}) has the same token as entry {first} ({name}); "
                             "every token must be unique (a token names one holder and one role)", field="LUMOS_API_TOKENS")
        seen[tokens[-1].token] = (number, parts[0])
    return tokens


class ServerSettings(StrictModel):
    """Everything `lumos serve` is configured with (env: LUMOS_<FIELD>, tokens: LUMOS_API_TOKENS)."""

    home: Path = Field(default=Path("~/.lumos"), description="State folder (SQLite files, simulated world).")
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port to listen on.")
    database_url: str | None = Field(default=None, description="postgresql://... for fleet mode; SQLite files in `home` otherwise.")
    api_tokens: list[ApiToken] = Field(default_factory=list, description="Bearer tokens and their roles.")
    pagerduty_secret: str | None = Field(default=None, repr=False, description="Secret of the PagerDuty v3 webhook subscription.")
    data_case: Path | None = Field(default=None, description="Case folder whose data serves webhook incidents (none by default).")
    config: Path | None = Field(default=None, description="lumos.yaml: live sources, OTLP receiver, changes webhook, action backends.")
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "service"], description="Labels that group alerts into one incident.")
    group_window_s: float = Field(default=3600.0, gt=0, description="An alert joins an incident of its group opened at most this long ago.")
    workers: int = Field(default=2, ge=1, le=64, description="Incidents run concurrently by this process.")
    max_queue: int = Field(default=500, ge=1, description="Incidents waiting for a worker before intake answers 503.")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest accepted request body.")
    lease_s: float = Field(default=30.0, gt=0, description="A running incident whose worker stopped heartbeating is taken over after this.")
    poll_s: float = Field(default=0.5, gt=0, description="How often idle workers look for queued incidents.")
    sse_max_s: float = Field(default=600.0, gt=0, description="Longest life of one event stream.")
    node_delay_s: float = Field(default=0.0, ge=0, description="Pause after each graph node (tests and demos only).")
    node_id: str = Field(default_factory=lambda: f"{os.uname().nodename}:{os.getpid()}", description="This process's name in claims.")

    @property
    def fleet(self) -> bool:
        """True when incidents live in Postgres (shared by several processes)."""
        return bool(self.database_url and self.database_url.startswith(("postgresql://", "postgres://")))

    def lumos_settings(self) -> Settings:
        """The core LUMOS settings on the same state folder."""
        return Settings.from_env(home=self.home, config=self.config)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "ServerSettings":
        """Read `LUMOS_*` variables, then explicit overrides; bad values are InputErrors naming the variable."""
        env = os.environ if env is None else env
        raw: dict[str, object] = {}
        for name in cls.model_fields:
            value = env.get("LUMOS_" + name.upper())
            if value in (None, ""):
                continue
            if name == "api_tokens":
                raw[name] = parse_tokens(value)
            elif name == "group_by":
                raw[name] = [p.strip() for p in value.split(",") if p.strip()]
            else:
                raw[name] = value
        raw.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            field, message = describe_validation_error(exc)
            raise InputError(message, field=f"LUMOS_{(field or '').upper()}" if field else None) from None
