"""`python -m lumos.evals.generate`: write seeded synthetic cases (and optionally the demo case)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lumos.evals.generate.case import generate_cases
from lumos.evals.generate.demo import generate_demo_case


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and generate; prints how many cases were written."""
    parser = argparse.ArgumentParser(prog="python -m lumos.evals.generate", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the cases into")
    parser.add_argument("--count", type=int, default=22, help="number of cases (fault types round-robin)")
    parser.add_argument("--services", type=int, default=8, help="services per synthetic system (>= 3)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    parser.add_argument("--demo", action="store_true", help="write only the bundled demo case (shop-bad-deploy)")
    args = parser.parse_args(argv)
    if args.demo:
        print(f"wrote {generate_demo_case(args.out)}")
        return 0
    if args.count < 1 or args.services < 3:
        parser.error("--count must be >= 1 and --services >= 3")
    paths = generate_cases(args.out, count=args.count, services=args.services, seed=args.seed)
    print(f"wrote {len(paths)} case(s) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
