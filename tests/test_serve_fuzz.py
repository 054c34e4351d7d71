"""Schema fuzzing of the API in process (the longer run is benchmarks/serve_fuzz.py): zero 5xx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lumos.app.server.app import create_app
from lumos.app.server.config import ServerSettings, parse_tokens
from fixtures_serve.fuzzing import fuzz
from fixtures_serve.procs import TOKEN_ENV, auth


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_fuzzed_requests_never_get_a_5xx(tmp_path):
    config = ServerSettings(home=tmp_path / "home", api_tokens=parse_tokens(TOKEN_ENV), pagerduty_secret="fuzz-secret",
                            sse_max_s=1, poll_s=0.05, max_body_bytes=4096)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        seeded = client.post("/webhooks/generic", json={"version": "1", "alerts": [{"name": "Seed", "fingerprint": "s1"}]},
                             headers=auth("alertmanager")).json()["results"][0]["incident_id"]
        counts = fuzz(client, client.get("/openapi.json", headers=auth("victor")).json(), examples=300, known_ids=[seeded])
    assert sum(counts.values()) >= 300
    assert not [s for s in counts if s >= 500]
    assert {200, 401, 422} <= set(counts), counts
