"""Seeded vocabularies: application domains, service names, languages and small value pools."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    """An application domain: its entry services, mid-tier stems and datastore names."""

    name: str
    edges: tuple[str, ...]
    stems: tuple[str, ...]
    databases: tuple[str, ...]
    caches: tuple[str, ...]
    queues: tuple[str, ...]


DOMAINS: tuple[Domain, ...] = (
    Domain("shop", ("frontend", "storefront", "web"),
           ("checkout", "cart", "catalog", "pricing", "payment", "inventory", "shipping", "recommendation",
            "review", "currency", "promotion", "email", "search", "user", "order", "tax", "fraud", "wishlist"),
           ("orders-db", "shop-db", "catalog-db", "inventory-db"), ("session-cache", "cart-cache", "redis"),
           ("order-events", "kafka", "rabbitmq")),
    Domain("travel", ("gateway", "api-gateway", "portal"),
           ("booking", "route", "seat", "ticket", "fare", "station", "train", "passenger", "contacts",
            "notification", "payment", "insurance", "food", "consign", "rebook", "auth", "schedule", "travel-plan"),
           ("booking-db", "ticket-db", "route-db", "travel-db"), ("seat-cache", "fare-cache", "memcached"),
           ("booking-events", "notify-queue", "nats")),
    Domain("bank", ("edge-api", "gateway", "web-banking"),
           ("accounts", "ledger", "transfers", "cards", "kyc", "statements", "fx", "limits", "auth", "notifications",
            "beneficiaries", "loans", "risk", "audit", "customer", "interest", "fees", "disputes"),
           ("ledger-db", "accounts-db", "core-db", "cards-db"), ("token-cache", "limits-cache", "redis"),
           ("txn-events", "kafka", "outbox-queue")),
    Domain("media", ("frontend", "edge", "player-api"),
           ("playback", "catalog", "profiles", "recommendations", "search", "subscriptions", "billing", "drm",
            "thumbnails", "watchlist", "ratings", "entitlements", "ads", "metadata", "session", "encoding", "live", "auth"),
           ("content-db", "profiles-db", "billing-db", "media-db"), ("session-cache", "manifest-cache", "redis"),
           ("events-bus", "kafka", "playback-events")),
    Domain("food", ("api-gateway", "web", "mobile-bff"),
           ("orders", "restaurants", "menu", "courier", "dispatch", "payments", "eta", "pricing", "promotions",
            "ratings", "customer", "geo", "notifications", "support", "loyalty", "invoice", "kitchen", "search"),
           ("orders-db", "menu-db", "courier-db", "food-db"), ("geo-cache", "menu-cache", "redis"),
           ("dispatch-queue", "kafka", "order-events")),
)

# How a domain spells its service names: (prefix, suffix).
NAME_STYLES: tuple[tuple[str, str], ...] = (("", ""), ("", "-service"), ("", "-svc"), ("", "service"), ("", "-api"))

LANGS: tuple[str, ...] = ("java", "go", "python", "node")

FIRST_NAMES: tuple[str, ...] = ("alice", "bob", "chen", "dana", "emeka", "fatima", "gus", "hiro", "ines", "jonas",
                                "kai", "lena", "mo", "nora", "omar", "priya", "ravi", "sofia", "tomas", "yara")

USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/121.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Version/17.2 Safari/605.1.15",
    "okhttp/4.12.0", "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7)", "curl/8.4.0",
)

FIELDS: tuple[str, ...] = ("price", "quantity", "currency", "status", "amount", "items", "total", "expires_at", "sku")

TABLES: tuple[str, ...] = ("orders", "order_items", "accounts", "items", "users", "sessions", "events", "reservations")
