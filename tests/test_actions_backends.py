"""HTTP-hook (signed POST, mocked transport) and allowlisted-command backends; both keep keys to one run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from lumos.tools.actions import ActionBackend
from lumos.tools.actions.commands import CommandAllowlist, CommandBackend, CommandError, build_argv
from lumos.tools.actions.http_hook import SIGNATURE_HEADER, TIMESTAMP_HEADER, HttpHookBackend, sign, verify_signature

SECRET = b"s3cret"


class Receiver:
    """A fake webhook receiver that verifies signatures and counts calls."""

    def __init__(self, status: int = 200):
        self.calls: list[dict] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        if not verify_signature(SECRET, request.headers[TIMESTAMP_HEADER], body, request.headers[SIGNATURE_HEADER], now=1_000_000):
            return httpx.Response(401, json={"status": "failed", "output": "bad signature"})
        payload = json.loads(body)
        self.calls.append({"path": request.url.path, "key": request.headers.get("Idempotency-Key"), **payload})
        if request.url.path.endswith("/checks"):
            return httpx.Response(200, json={"ok": payload["params"]["service"] == "api", "detail": "looked"})
        return httpx.Response(self.status, json={"status": "ok", "output": f"did {payload['action']}"})


def hook(tmp_path: Path, receiver: Receiver, secret: bytes = SECRET) -> HttpHookBackend:
    client = httpx.Client(transport=httpx.MockTransport(receiver))
    return HttpHookBackend("https://hooks.example/lumos", secret, ledger_db=tmp_path / "ledger.sqlite", client=client,
                           clock=lambda: 1_000_000.0)


def test_signature_round_trip_and_expiry() -> None:
    sig = sign(SECRET, "100", b"{}")
    assert verify_signature(SECRET, "100", b"{}", sig, now=150)
    assert not verify_signature(SECRET, "100", b"{ }", sig, now=150)
    assert not verify_signature(SECRET, "100", b"{}", sig, now=1000)
    assert not verify_signature(b"other", "100", b"{}", sig, now=150)


def test_http_hook_posts_signed_once_per_key(tmp_path: Path) -> None:
    receiver = Receiver()
    backend = hook(tmp_path, receiver)
    assert isinstance(backend, ActionBackend)
    first = backend.execute("restart_service", {"service": "api"}, idempotency_key="inc/restart/1")
    again = backend.execute("restart_service", {"service": "api"}, idempotency_key="inc/restart/1")
    assert first.status == "ok" and first.output == "did restart_service" and not first.replayed
    assert again.replayed and len(receiver.calls) == 1
    assert receiver.calls[0]["key"] == "inc/restart/1" and receiver.calls[0]["params"] == {"service": "api"}
    backend.close()
    resumed = hook(tmp_path, receiver)  # a new process with the same ledger
    assert resumed.execute("restart_service", {"service": "api"}, idempotency_key="inc/restart/1").replayed
    assert len(receiver.calls) == 1


def test_http_hook_failures_and_validation(tmp_path: Path) -> None:
    receiver = Receiver(status=500)
    backend = hook(tmp_path, receiver)
    assert backend.execute("restart_service", {"service": "api", "x": 1}, idempotency_key="a").status == "failed"
    assert receiver.calls == []  # invalid params never leave the process
    failed = backend.execute("notify", {"message": "hi"}, idempotency_key="b")
    assert failed.status == "failed" and failed.output.startswith("HTTP 500")
    unsigned = hook(tmp_path, Receiver(), secret=b"wrong")
    assert unsigned.execute("notify", {"message": "hi"}, idempotency_key="c").status == "failed"
    dry = hook(tmp_path, Receiver()).execute("notify", {"message": "hi"}, idempotency_key="d", dry_run=True)
    assert dry.status == "dry_run"
    ok = hook(tmp_path, Receiver())
    assert ok.check("service_healthy", {"service": "api"}).ok and not ok.check("service_healthy", {"service": "db"}).ok


def test_unreachable_hook_is_not_recorded(tmp_path: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    backend = HttpHookBackend("https://x", SECRET, ledger_db=tmp_path / "l.sqlite", client=httpx.Client(transport=httpx.MockTransport(down)))
    out = backend.execute("notify", {"message": "hi"}, idempotency_key="k")
    assert out.status == "failed" and "unreachable" in out.output
    receiver = Receiver()
    retry = hook(tmp_path, receiver)
    retry._ledger = backend._ledger
    assert retry.execute("notify", {"message": "hi"}, idempotency_key="k").status == "ok"


def test_build_argv_never_injects() -> None:
    assert build_argv(["systemctl", "restart", "{service}"], {"service": "api"}) == ["systemctl", "restart", "api"]
    assert build_argv(["echo", "{service}; rm -rf /"], {"service": "api"}) == ["echo", "{service}; rm -rf /"]  # not a slot
    with pytest.raises(CommandError, match="option"):
        build_argv(["x", "{service}"], {"service": "--privileged"})
    with pytest.raises(CommandError, match="no parameter"):
        build_argv(["x", "{instance}"], {"service": "a"})


def test_command_backend_runs_allowlisted_argv_once(tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    script = f"import sys; open({str(marker)!r}, 'a').write(sys.argv[1] + '\\n'); print('restarted', sys.argv[1])"
    allow = CommandAllowlist(
        actions={"restart_service": [sys.executable, "-c", script, "{service}"]},
        checks={"service_healthy": [sys.executable, "-c", "import sys; sys.exit(0 if sys.argv[1] == 'api' else 1)", "{service}"]},
    )
    backend = CommandBackend(allow, ledger_db=tmp_path / "ledger.sqlite")
    assert isinstance(backend, ActionBackend)
    out = backend.execute("restart_service", {"service": "api"}, idempotency_key="k1")
    assert out.status == "ok" and "restarted api" in out.output
    assert backend.execute("restart_service", {"service": "api"}, idempotency_key="k1").replayed
    assert marker.read_text() == "api\n"
    assert backend.execute("restart_service", {"service": "api"}, idempotency_key="k2", dry_run=True).status == "dry_run"
    assert marker.read_text() == "api\n"
    refused = backend.execute("scale_service", {"service": "api", "delta": 1}, idempotency_key="k3")
    assert refused.status == "failed" and "not allowlisted" in refused.output
    assert backend.check("service_healthy", {"service": "api"}).ok
    assert not backend.check("service_healthy", {"service": "db"}).ok
    assert not backend.check("version_is", {"service": "api", "version": "1"}).ok
