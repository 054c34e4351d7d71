"""The bundled demo case: an 8-service shop where a bad deploy of inventory breaks checkout."""

from __future__ import annotations

from pathlib import Path

from lumos.tools.domain import FaultType

from lumos.evals.generate.case import generate_case
from lumos.evals.generate.system import Layout

SHOP_LAYOUT = Layout(
    system="shop",
    services=(("frontend", "service"), ("checkout", "service"), ("cart", "service"), ("catalog", "service"),
              ("payment", "service"), ("inventory", "service"), ("shop-db", "database"), ("session-cache", "cache")),
    calls=(("frontend", "checkout"), ("frontend", "cart"), ("frontend", "catalog"), ("checkout", "cart"),
           ("checkout", "payment"), ("checkout", "inventory"), ("cart", "session-cache"), ("catalog", "shop-db"),
           ("catalog", "session-cache"), ("inventory", "shop-db"), ("payment", "shop-db")),
)
DEMO_ID = "shop-bad-deploy"
DEMO_SEED = 20250314


def generate_demo_case(out_dir: Path) -> Path:
    """Write the demo case to `out_dir`/shop-bad-deploy (fixed names, fixed seed, denser traffic)."""
    return generate_case(out_dir, fault_type=FaultType.bad_deploy, seed=DEMO_SEED, case_id=DEMO_ID,
                         layout=SHOP_LAYOUT, root="inventory", variant="exception", traces_per_minute=12.0)
