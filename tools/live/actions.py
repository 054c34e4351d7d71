"""Actions routed by `lumos.yaml`: per action a backend (simulated, kubernetes, http, command) and dry_run.

A dry-run step has passed the approval gate like any other; it is then reported as
"would run: <the exact request>" (the API call, signed POST or argv it would send) with status
`dry_run`, and nothing is sent. Real backends are opened once per process, on first use.
Checks (preconditions, verification, post-checks) go to the default action backend; on a real
backend in dry-run mode they are not sent either and pass, saying so.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lumos.tools.actions.backend import CheckResult, ExecutionOutcome
from lumos.tools.actions.commands import CommandAllowlist, CommandError, build_argv
from lumos.tools.actions.registry import ActionRegistry, CheckRegistry, ParamsError, default_action_registry, default_check_registry
from lumos.tools.live.config import Actions, read_secret

LEDGER_FILE = "actions-ledger.sqlite"
K8S_ACTIONS = ("restart_service", "scale_service", "rollback_deploy")


def _body(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


class ActionRequests:
    """The exact request each backend would send for an action (for dry runs and the audit trail)."""

    def __init__(self, conf: Actions):
        self.conf = conf

    def describe(self, backend: str, action: str, params: dict[str, Any], key: str) -> str:
        """'METHOD url body' / argv / simulated call; raises ValueError when the backend cannot run the action."""
        if backend == "kubernetes":
            return self._kubernetes(action, params)
        if backend == "http":
            assert self.conf.http is not None
            payload = {"action": action, "params": params, "idempotency_key": key, "dry_run": False}
            return (f"POST {self.conf.http.url.rstrip('/')}/actions {_body(payload)} "
                    "(signed: X-Lumos-Timestamp, X-Lumos-Signature: sha256=HMAC, Idempotency-Key)")
        if backend == "command":
            assert self.conf.command is not None
            template = self.conf.command.actions.get(action)
            if template is None:
                raise ValueError(f"{action} is not allowlisted for the command backend")
            try:
                return "exec " + json.dumps(build_argv(template, params))
            except CommandError as exc:
                raise ValueError(str(exc)) from None
        return f"{action} {_body(params)}"

    def _kubernetes(self, action: str, params: dict[str, Any]) -> str:
        k = self.conf.kubernetes
        assert k is not None
        if action not in K8S_ACTIONS:
            raise ValueError(f"{action} is not supported by the kubernetes backend; supported: {', '.join(K8S_ACTIONS)}")
        deployment = k.deployments.get(params["service"], params["service"])
        base = f"/apis/apps/v1/namespaces/{k.namespace}/deployments/{deployment}"
        if action == "restart_service":
            if params.get("instance"):
                return f"DELETE /api/v1/namespaces/{k.namespace}/pods/{params['instance']}"
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
            return f"PATCH {base} (application/strategic-merge-patch+json) {_body(body)}"
        if action == "scale_service":
            replicas = params["replicas"] if "replicas" in params else f"<current replicas {int(params['delta']):+d}>"
            return f"PATCH {base}/scale (application/strategic-merge-patch+json) {_body({'spec': {'replicas': replicas}})}"
        target = f"the ReplicaSet running {params['to_version']}" if params.get("to_version") else "the previous revision's ReplicaSet"
        return (f"GET {base}; GET /apis/apps/v1/namespaces/{k.namespace}/replicasets; PATCH {base} (application/json-patch+json) "
                f'[{{"op":"replace","path":"/spec/template","value":<pod template of {target}>}}]')


class ConfiguredBackends:
    """The real backends of one process (opened on first use) and a router per incident."""

    def __init__(self, conf: Actions, state_dir: Path, *, actions: ActionRegistry | None = None, checks: CheckRegistry | None = None):
        self.conf = conf
        self.ledger = state_dir / LEDGER_FILE
        self.actions = actions or default_action_registry()
        self.checks = checks or default_check_registry()
        self.requests = ActionRequests(conf)
        self._opened: dict[str, Any] = {}
        self._lock = threading.Lock()

    def backend(self, name: str) -> Any:
        """The real backend `name` (kubernetes, http, command), opened once."""
        with self._lock:
            if name not in self._opened:
                self._opened[name] = self._open(name)
            return self._opened[name]

    def _open(self, name: str) -> Any:
        if name == "kubernetes":
            from lumos.tools.actions.kubernetes import KubernetesBackend
            from lumos.tools.live.kube import api_client

            k = self.conf.kubernetes
            assert k is not None
            return KubernetesBackend(api_client(k), namespace=k.namespace, ledger_db=self.ledger, deployments=k.deployments,
                                     actions=self.actions, checks=self.checks)
        if name == "http":
            from lumos.tools.actions.http_hook import HttpHookBackend

            h = self.conf.http
            assert h is not None
            secret = read_secret(h.secret_env, "actions.http.secret_env") or ""
            return HttpHookBackend(h.url, secret, ledger_db=self.ledger, timeout_s=h.timeout_s, actions=self.actions, checks=self.checks)
        from lumos.tools.actions.commands import CommandBackend

        c = self.conf.command
        assert c is not None
        allow = CommandAllowlist(actions=c.actions, checks=c.checks, timeout_s=c.timeout_s)
        return CommandBackend(allow, ledger_db=self.ledger, actions=self.actions, checks=self.checks)

    def for_incident(self, simulated: Callable[[], Any]) -> "RoutedBackend":
        """The backend an incident's steps run on; `simulated` opens its simulated world when a route needs it."""
        return RoutedBackend(self, simulated)

    def close(self) -> None:
        """Close every backend opened."""
        for backend in self._opened.values():
            close = getattr(backend, "close", None)
            if close is not None:
                close()
        self._opened.clear()


class RoutedBackend:
    """Runs each action on its configured backend, or describes it when the route is a dry run."""

    name = "configured"

    def __init__(self, backends: ConfiguredBackends, simulated: Callable[[], Any]):
        self.b = backends
        self._simulated = simulated

    def _target(self, name: str) -> Any:
        return self._simulated() if name == "simulated" else self.b.backend(name)

    def execute(self, action: str, params: dict[str, Any], *, idempotency_key: str, dry_run: bool = False) -> ExecutionOutcome:
        """Route `action`; a dry run validates it and returns 'would run: <request>' without sending anything."""
        route = self.b.conf.route(action)
        if not (route.dry_run or dry_run):
            return self._target(route.backend).execute(action, params, idempotency_key=idempotency_key)
        now = datetime.now(timezone.utc)
        try:
            clean = self.b.actions.validate(action, params).model_dump(mode="json", exclude_none=True)
            text = f"would run on {route.backend}: " + self.b.requests.describe(route.backend, action, clean, idempotency_key)
            status = "dry_run"
        except (ParamsError, ValueError) as exc:
            clean, text, status = dict(params), f"rejected: {exc}", "failed"
        return ExecutionOutcome(action=action, params=clean, status=status, output=text, idempotency_key=idempotency_key,
                                started_at=now, finished_at=now)

    def check(self, name: str, params: dict[str, Any]) -> CheckResult:
        """Ask the default backend; a real backend in dry-run mode is not asked (the check passes, saying so)."""
        route = self.b.conf.default
        if route.backend != "simulated" and route.dry_run:
            return CheckResult(check=name, ok=True, detail=f"dry run: {name} not evaluated (would ask {route.backend})")
        return self._target(route.backend).check(name, params)
