"""`python -m lumos.app.server`: run the server from the environment (used by tests and `lumos serve`)."""

from __future__ import annotations

from lumos.app.server.serve import main

if __name__ == "__main__":
    main()
