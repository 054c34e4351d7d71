"""lumos.app.server: the HTTP server (FastAPI), webhooks, approvals API and web console."""
