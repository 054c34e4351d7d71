"""Token prices (USD per million tokens, input/output) of well-known models, for per-incident cost."""

from __future__ import annotations

PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o4-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
}


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """Cost of one model's usage; 0.0 for models without a known price (local endpoints, scripted models)."""
    key = next((k for k in sorted(PRICES_PER_MTOK, key=len, reverse=True) if model == k or model.startswith(k + "-")), None)
    if key is None:
        return 0.0
    price_in, price_out = PRICES_PER_MTOK[key]
    return round((input_tokens * price_in + output_tokens * price_out) / 1_000_000, 6)
