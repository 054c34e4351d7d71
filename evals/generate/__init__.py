"""Seeded synthetic incident cases in the case format: every fault type, with noise and distractor changes."""

from lumos.evals.generate.case import generate_case, generate_cases
from lumos.evals.generate.demo import SHOP_LAYOUT, generate_demo_case

__all__ = ["SHOP_LAYOUT", "generate_case", "generate_cases", "generate_demo_case"]
