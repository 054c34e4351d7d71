"""Kubernetes backend on the official `kubernetes` client: restart, scale and roll back Deployments.

- restart_service: a rolling restart, exactly as `kubectl rollout restart` does it — a strategic
  merge patch setting the pod-template annotation `kubectl.kubernetes.io/restartedAt`; with
  `instance`, that one pod is deleted so its ReplicaSet replaces it.
- scale_service: a patch of the Deployment's `scale` subresource (`delta` reads the current scale first).
- rollback_deploy: like `kubectl rollout undo` — the Deployment's ReplicaSets (by selector and owner)
  are ordered by `deployment.kubernetes.io/revision`; the previous one (or the one whose image tag is
  `to_version`) gives the pod template, written back with a JSON patch (minus `pod-template-hash`).

Each service maps to the Deployment of the same name (or `deployments[service]`) in one namespace.
Dry runs use the API server's own dry run (`dryRun=All`). A SQLite ledger keeps every idempotency
key to one API call; answers from the API (success or error) are recorded, unreachable API is not.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from lumos.tools.actions.backend import CheckResult, ExecutionOutcome
from lumos.tools.actions.ledger import Ledger
from lumos.tools.actions.registry import (
    ActionRegistry,
    CheckRegistry,
    ParamsError,
    default_action_registry,
    default_check_registry,
)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
ACTIONS = ("restart_service", "scale_service", "rollback_deploy")
CHECKS = ("service_exists", "service_healthy", "fault_cleared", "replicas_at_least", "version_is", "has_previous_version")


class _Refused(Exception):
    """The action cannot be done as asked (no previous revision, ...); nothing was changed."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def image_tag(image: str) -> str:
    """The tag of a container image reference (`repo/api:2.3.1` -> `2.3.1`; no tag -> `latest`)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


class KubernetesBackend:
    """Carries out restart/scale/rollback actions on Deployments through the Kubernetes API."""

    name = "kubernetes"

    def __init__(self, api_client: k8s.ApiClient, *, namespace: str = "default", ledger_db: str | Path,
                 deployments: Mapping[str, str] | None = None, actions: ActionRegistry | None = None,
                 checks: CheckRegistry | None = None, clock: Callable[[], datetime] = _now, field_manager: str = "lumos"):
        self.namespace = namespace
        self._apps = k8s.AppsV1Api(api_client)
        self._core = k8s.CoreV1Api(api_client)
        self._deployments = dict(deployments or {})
        self._ledger = Ledger(ledger_db, f"kubernetes:{api_client.configuration.host}/{namespace}")
        self._clock = clock
        self._field_manager = field_manager
        self.actions = actions or default_action_registry()
        self.checks = checks or default_check_registry()

    @classmethod
    def from_kubeconfig(cls, *, ledger_db: str | Path, namespace: str = "default", context: str | None = None,
                        **kwargs: Any) -> "KubernetesBackend":
        """Use the in-cluster service account when running in a pod, else the kubeconfig (optionally one context)."""
        from kubernetes import config

        configuration = k8s.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            config.load_kube_config(context=context, client_configuration=configuration)
        return cls(k8s.ApiClient(configuration), namespace=namespace, ledger_db=ledger_db, **kwargs)

    def close(self) -> None:
        """Close the ledger."""
        self._ledger.close()

    def deployment_of(self, service: str) -> str:
        """The Deployment name that runs `service`."""
        return self._deployments.get(service, service)

    # --- actions -----------------------------------------------------------------------------

    def execute(self, action: str, params: dict[str, Any], *, idempotency_key: str, dry_run: bool = False) -> ExecutionOutcome:
        """Validate, then make the API call(s) once per key; dry runs go to the API server with dryRun=All."""
        started = self._clock()

        def outcome(status: str, output: str, clean: dict[str, Any]) -> ExecutionOutcome:
            return ExecutionOutcome(action=action, params=clean, status=status, output=output, idempotency_key=idempotency_key,
                                    started_at=started, finished_at=self._clock())

        try:
            clean = self.actions.validate(action, params).model_dump(mode="json", exclude_none=True)
        except ParamsError as exc:
            return outcome("failed", f"rejected: {exc}", dict(params))
        if action not in ACTIONS:
            return outcome("failed", f"{action} is not supported by the kubernetes backend; supported: {', '.join(ACTIONS)}", clean)
        if not dry_run:
            recorded = self._ledger.lookup(idempotency_key, action, clean)
            if recorded is not None:
                return recorded
        run = {"restart_service": self._restart, "scale_service": self._scale, "rollback_deploy": self._rollback}[action]
        try:
            text = run(clean, "All" if dry_run else None)
            result = outcome("dry_run" if dry_run else "ok", text, clean)
        except _Refused as exc:
            result = outcome("failed", str(exc), clean)
        except ApiException as exc:
            result = outcome("failed", f"Kubernetes API {exc.status} {exc.reason}: {_api_message(exc)}", clean)
        except Exception as exc:  # noqa: BLE001 - unreachable API: not recorded, the same key may be retried
            return outcome("failed", f"Kubernetes API unreachable: {type(exc).__name__}: {exc}", clean)
        if not dry_run:
            self._ledger.record(result)
        return result

    def _restart(self, params: dict[str, Any], dry_run: str | None) -> str:
        name = self.deployment_of(params["service"])
        if "instance" in params:
            self._core.delete_namespaced_pod(params["instance"], self.namespace, dry_run=dry_run)
            return f"deleted pod {self.namespace}/{params['instance']}; its ReplicaSet starts a replacement"
        stamp = self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        self._apps.patch_namespaced_deployment(name, self.namespace, body, dry_run=dry_run, field_manager=self._field_manager,
                                               _content_type=STRATEGIC)
        return f"rolling restart of deployment {self.namespace}/{name} (restartedAt={stamp})"

    def _scale(self, params: dict[str, Any], dry_run: str | None) -> str:
        name = self.deployment_of(params["service"])
        current = None
        if "delta" in params:
            current = self._apps.read_namespaced_deployment_scale(name, self.namespace).spec.replicas or 0
            wanted = current + int(params["delta"])
            if wanted < 1:
                raise _Refused(f"deployment {name} has {current} replicas; delta {params['delta']} would leave {wanted} (< 1)")
        else:
            wanted = int(params["replicas"])
        self._apps.patch_namespaced_deployment_scale(name, self.namespace, {"spec": {"replicas": wanted}}, dry_run=dry_run,
                                                     field_manager=self._field_manager, _content_type=STRATEGIC)
        was = f" (was {current})" if current is not None else ""
        return f"scaled deployment {self.namespace}/{name} to {wanted} replicas{was}"

    def _revisions(self, name: str) -> tuple[Any, list[tuple[int, Any]]]:
        deployment = self._apps.read_namespaced_deployment(name, self.namespace)
        labels = deployment.spec.selector.match_labels or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        sets = self._apps.list_namespaced_replica_set(self.namespace, label_selector=selector or None).items
        owned = [rs for rs in sets if any(o.uid == deployment.metadata.uid for o in (rs.metadata.owner_references or []))]
        revisions = []
        for rs in owned:
            raw = (rs.metadata.annotations or {}).get(REVISION, "")
            if raw.isdigit():
                revisions.append((int(raw), rs))
        revisions.sort(key=lambda pair: pair[0])
        return deployment, revisions

    def _rollback(self, params: dict[str, Any], dry_run: str | None) -> str:
        name = self.deployment_of(params["service"])
        deployment, revisions = self._revisions(name)
        current = int((deployment.metadata.annotations or {}).get(REVISION, "0") or 0)
        older = [(rev, rs) for rev, rs in revisions if rev != current]
        if "to_version" in params:
            older = [(rev, rs) for rev, rs in older if any(image_tag(c.image) == params["to_version"] for c in rs.spec.template.spec.containers)]
            if not older:
                raise _Refused(f"deployment {name} has no earlier ReplicaSet running version {params['to_version']}")
        else:
            older = [(rev, rs) for rev, rs in older if rev < current]
            if not older:
                raise _Refused(f"deployment {name} has no revision before {current} to roll back to")
        revision, target = older[-1]
        template = k8s.ApiClient().sanitize_for_serialization(target.spec.template)
        template = copy.deepcopy(template)
        template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
        patch = [{"op": "replace", "path": "/spec/template", "value": template}]
        self._apps.patch_namespaced_deployment(name, self.namespace, patch, dry_run=dry_run, field_manager=self._field_manager,
                                               _content_type=JSON_PATCH)
        images = ", ".join(c["image"] for c in template.get("spec", {}).get("containers", []))
        return f"rolled back deployment {self.namespace}/{name} from revision {current} to revision {revision} ({images})"

    # --- checks ------------------------------------------------------------------------------

    def check(self, name: str, params: dict[str, Any]) -> CheckResult:
        """Answer a read-only check from the Deployment's spec and status; unsupported checks fail with the list of supported ones."""
        try:
            clean = self.checks.validate(name, params).model_dump(mode="json", exclude_none=True)
        except ParamsError as exc:
            return CheckResult(check=name, ok=False, detail=f"rejected: {exc}")
        if name not in CHECKS:
            return CheckResult(check=name, ok=False, detail=f"{name} is not supported by the kubernetes backend; supported: {', '.join(CHECKS)}")
        deployment_name = self.deployment_of(clean["service"])
        try:
            if name == "has_previous_version":
                deployment, revisions = self._revisions(deployment_name)
                current = int((deployment.metadata.annotations or {}).get(REVISION, "0") or 0)
                earlier = [rev for rev, _ in revisions if rev < current]
                return CheckResult(check=name, ok=bool(earlier), detail=f"revision {current}; earlier: {earlier or 'none'}")
            deployment = self._apps.read_namespaced_deployment(deployment_name, self.namespace)
        except ApiException as exc:
            return CheckResult(check=name, ok=False, detail=f"Kubernetes API {exc.status} {exc.reason}: {_api_message(exc)}")
        except Exception as exc:  # noqa: BLE001 - unreachable API is a failed check
            return CheckResult(check=name, ok=False, detail=f"Kubernetes API unreachable: {type(exc).__name__}")
        return _deployment_check(name, clean, deployment)


def _deployment_check(name: str, params: dict[str, Any], deployment: Any) -> CheckResult:
    status = deployment.status
    wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    available = (status.available_replicas if status else None) or 0
    updated = (status.updated_replicas if status else None) or 0
    if name == "service_exists":
        return CheckResult(check=name, ok=True, detail=f"deployment {deployment.metadata.name} exists")
    if name in ("service_healthy", "fault_cleared"):
        ok = available >= wanted and updated >= wanted
        return CheckResult(check=name, ok=ok, detail=f"{available}/{wanted} available, {updated} updated")
    if name == "replicas_at_least":
        return CheckResult(check=name, ok=available >= params["replicas"], detail=f"{available} available, need {params['replicas']}")
    tags = sorted({image_tag(c.image) for c in deployment.spec.template.spec.containers})
    return CheckResult(check=name, ok=params["version"] in tags, detail=f"running {', '.join(tags)}")


def _api_message(exc: ApiException) -> str:
    import json

    try:
        return str(json.loads(exc.body or "{}").get("message", "")) or str(exc.reason)
    except ValueError:
        return str(exc.body or exc.reason)[:300]
