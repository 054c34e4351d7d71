"""Read-only Kubernetes sources: the services of a namespace (Deployments, StatefulSets, Services)
and rollout history (ReplicaSet revisions of each Deployment) as change events.

Permissions needed: `get`/`list` on deployments, statefulsets and replicasets (apps) and
services (core) in the namespace. A workload's kind comes from its
`app.kubernetes.io/component` label (database, cache, queue) or, failing that, from the image
name of its first container (postgres, mysql, redis, kafka, ...).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lumos.tools.actions.kubernetes import image_tag
from lumos.tools.domain import Change, Service, TimeWindow, Topology
from lumos.tools.domain.base import as_utc
from lumos.tools.live.config import KubernetesAccess

REVISION = "deployment.kubernetes.io/revision"
_COMPONENT_KINDS = {"database": "database", "db": "database", "cache": "cache", "queue": "queue", "broker": "queue",
                    "messaging": "queue"}
_IMAGE_KINDS = (("postgres", "database"), ("mysql", "database"), ("mariadb", "database"), ("mongo", "database"),
                ("cassandra", "database"), ("redis", "cache"), ("memcached", "cache"), ("valkey", "cache"),
                ("kafka", "queue"), ("rabbitmq", "queue"), ("nats", "queue"))


def api_client(access: KubernetesAccess) -> Any:
    """A client from the in-cluster service account, else the kubeconfig (optionally one context)."""
    from kubernetes import client as k8s
    from kubernetes import config

    configuration = k8s.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        config.load_kube_config(config_file=str(access.kubeconfig) if access.kubeconfig else None, context=access.context,
                                client_configuration=configuration)
    return k8s.ApiClient(configuration)


def _items(response: Any) -> list[dict[str, Any]]:
    return list(json.loads(response.data).get("items") or [])


def _image(workload: dict[str, Any]) -> str:
    containers = ((workload.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [{}]
    return str(containers[0].get("image") or "")


def _kind(workload: dict[str, Any]) -> str:
    labels = (workload.get("metadata") or {}).get("labels") or {}
    component = str(labels.get("app.kubernetes.io/component", "")).lower()
    if component in _COMPONENT_KINDS:
        return _COMPONENT_KINDS[component]
    image = _image(workload).rsplit("/", 1)[-1].lower()
    return next((kind for word, kind in _IMAGE_KINDS if word in image), "service")


class KubernetesReader:
    """Lists workloads, Services and ReplicaSets of one namespace through the official client."""

    def __init__(self, api: Any, namespace: str):
        from kubernetes import client as k8s

        self.namespace = namespace
        self._apps = k8s.AppsV1Api(api)
        self._core = k8s.CoreV1Api(api)

    def topology(self) -> Topology:
        """One node per Deployment and StatefulSet (kind from labels or image); Services whose selector
        matches no workload are nodes too (e.g. an ExternalName service)."""
        ns = self.namespace
        workloads = _items(self._apps.list_namespaced_deployment(ns, _preload_content=False))
        workloads += _items(self._apps.list_namespaced_stateful_set(ns, _preload_content=False))
        services = {w["metadata"]["name"]: Service(name=w["metadata"]["name"], kind=_kind(w)) for w in workloads}
        for svc in _items(self._core.list_namespaced_service(ns, _preload_content=False)):
            name, selector = svc["metadata"]["name"], (svc.get("spec") or {}).get("selector") or {}
            matched = [w for w in workloads if selector and all(
                (((w.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels", {}).get(k) == v
                for k, v in selector.items())]
            if not matched and name not in services and name != "kubernetes":
                kind = "external" if (svc.get("spec") or {}).get("type") == "ExternalName" else "service"
                services[name] = Service(name=name, kind=kind)
        return Topology(services=sorted(services.values(), key=lambda s: s.name))

    def rollouts(self, window: TimeWindow) -> list[Change]:
        """Deploy changes from ReplicaSet revisions created in `window` (version = the first container's image tag)."""
        by_deployment: dict[str, list[tuple[int, datetime, str]]] = {}
        for rs in _items(self._apps.list_namespaced_replica_set(self.namespace, _preload_content=False)):
            meta = rs.get("metadata") or {}
            owner = next((o["name"] for o in meta.get("ownerReferences") or [] if o.get("kind") == "Deployment"), None)
            revision = (meta.get("annotations") or {}).get(REVISION)
            if owner is None or revision is None or not str(revision).isdigit():
                continue
            created = as_utc(datetime.fromisoformat(str(meta["creationTimestamp"]).replace("Z", "+00:00")))
            by_deployment.setdefault(owner, []).append((int(revision), created, image_tag(_image(rs))))
        changes = []
        for deployment, revisions in by_deployment.items():
            revisions.sort()
            for i, (rev, created, tag) in enumerate(revisions):
                if window.contains(created) and i > 0:
                    previous = revisions[i - 1][2]
                    changes.append(Change(ts=created, service=deployment, kind="deploy", version=tag, previous_version=previous,
                                          summary=f"rollout revision {rev} of deployment {deployment} ({previous} -> {tag})",
                                          attrs={"source": "kubernetes", "revision": rev}))
        return sorted(changes, key=lambda c: c.ts)
