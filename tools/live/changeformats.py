"""What POST /webhooks/changes accepts: a generic JSON form, Argo CD notifications and GitHub
`deployment_status` events, each mapped to LUMOS `Change` records.

- generic: one change `{"service", "kind", "ts"?, "summary"?, "version"?, "previous_version"?,
  "id"?, "attrs"?}` or `{"changes": [...]}`; unknown fields are errors.
- argocd: the body of an Argo CD notification webhook template (the fields are whatever the
  template writes; LUMOS reads `app`, `revision`, `phase`, `finishedAt`, `images`, `service`).
- github: a GitHub `deployment_status` webhook; only `state: success` records a deploy (the
  service is `deployment.payload.service`, else the repository name).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lumos.tools.actions.kubernetes import image_tag
from lumos.tools.domain import Change
from lumos.tools.domain.telemetry import ChangeKind

ChangeFormat = Literal["generic", "argocd", "github"]


class ChangeFormatError(ValueError):
    """The body does not match the format; `problems` lists (field, message)."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        self.problems = problems or []
        super().__init__(message)


class GenericChange(BaseModel):
    """One change in the generic form."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=200)
    kind: ChangeKind
    ts: datetime | None = Field(default=None, description="When it happened (RFC 3339); default: when received.")
    summary: str = Field(default="", max_length=2000)
    version: str | None = Field(default=None, max_length=200)
    previous_version: str | None = Field(default=None, max_length=200)
    id: str | None = Field(default=None, max_length=200, description="Sender's id: a second delivery with it is ignored.")
    attrs: dict[str, Any] = Field(default_factory=dict)


class GenericChanges(BaseModel):
    """Several changes in one request."""

    model_config = ConfigDict(extra="forbid")

    changes: list[GenericChange] = Field(min_length=1, max_length=1000)


class ArgoNotification(BaseModel):
    """The fields LUMOS reads from an Argo CD notification webhook body."""

    model_config = ConfigDict(extra="ignore")

    app: str = Field(min_length=1)
    revision: str = ""
    phase: str = "Succeeded"
    finishedAt: datetime | None = None
    images: list[str] = Field(default_factory=list)
    service: str | None = None
    namespace: str | None = None


class _GhDeployment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | None = None
    sha: str = ""
    ref: str = ""
    environment: str = ""
    description: str | None = None
    payload: dict[str, Any] | str | None = None


class _GhStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | None = None
    state: str
    created_at: datetime | None = None
    description: str | None = None
    environment: str | None = None


class _GhRepo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    full_name: str = ""


class GitHubDeploymentStatus(BaseModel):
    """The parts of a GitHub `deployment_status` webhook LUMOS reads."""

    model_config = ConfigDict(extra="ignore")

    deployment_status: _GhStatus
    deployment: _GhDeployment
    repository: _GhRepo


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    return [(".".join(str(p) for p in e.get("loc", ())), e.get("msg", "invalid")) for e in exc.errors()[:10]]


def parse_changes(data: Any, fmt: ChangeFormat, *, now: datetime | None = None) -> list[tuple[str | None, Change]]:
    """(sender id or None, change) pairs from a decoded body; ChangeFormatError naming the fields otherwise.

    An event that is not a change (a GitHub status other than success) gives no pairs.
    """
    now = now or datetime.now(timezone.utc)
    if not isinstance(data, dict):
        raise ChangeFormatError(f"a {fmt} change event must be a JSON object, got {type(data).__name__}")
    try:
        if fmt == "generic":
            items = GenericChanges.model_validate(data).changes if "changes" in data else [GenericChange.model_validate(data)]
            return [(c.id, Change(ts=c.ts or now, service=c.service, kind=c.kind, summary=c.summary, version=c.version,
                                  previous_version=c.previous_version, attrs={**c.attrs, "source": "webhook"})) for c in items]
        if fmt == "argocd":
            a = ArgoNotification.model_validate(data)
            version = image_tag(a.images[0]) if len(a.images) == 1 else (a.revision[:12] or None)
            summary = f"Argo CD sync of {a.app}" + (f" to {a.revision[:12]}" if a.revision else "") + (f" ({a.phase})" if a.phase != "Succeeded" else "")
            change = Change(ts=a.finishedAt or now, service=a.service or a.app, kind="deploy", summary=summary, version=version,
                            attrs={"source": "argocd", "revision": a.revision, "phase": a.phase, "images": a.images})
            return [(f"argocd:{a.app}:{a.revision}:{a.phase}" if a.revision else None, change)]
        gh = GitHubDeploymentStatus.model_validate(data)
    except ValidationError as exc:
        raise ChangeFormatError(f"invalid {fmt} change event", _problems(exc)) from None
    if gh.deployment_status.state != "success":
        return []
    payload = gh.deployment.payload if isinstance(gh.deployment.payload, dict) else {}
    service = str(payload.get("service") or gh.repository.name)
    version = gh.deployment.ref or gh.deployment.sha[:12] or None
    env = gh.deployment_status.environment or gh.deployment.environment
    summary = f"GitHub deployment of {gh.repository.full_name or gh.repository.name} {version or ''} to {env}".replace("  ", " ").strip()
    change = Change(ts=gh.deployment_status.created_at or now, service=service, kind="deploy", summary=summary, version=version,
                    attrs={"source": "github", "sha": gh.deployment.sha, "environment": env})
    ident = f"github:{gh.deployment.id}:{gh.deployment_status.id}" if gh.deployment_status.id is not None else None
    return [(ident, change)]
