"""The gallery page's grid, cached per user: over 10k vehicles its rendering (48 cards, their
counts and links) cost ~9x a bare authenticated view (benchmarks/bench_poll_cost.py), and pages
are re-read far more often than vehicles change.

The cache key carries the user's listing generation, which every save or delete of one of
their vehicles or photos replaces (gallery.signals), so the user's own edits show at once. Hit
counts come from searches, which write hits without telling the gallery: a cached grid lives
GRID_TTL_S, so a count is at most that old (a vehicle's own page is always live).
"""
import secrets

from django.core.cache import cache

GRID_TTL_S = 10
_KEY = "gallery-listing-gen:{}"


def generation(user_id: int) -> str:
    """The user's current listing generation (made on first use)."""
    try:
        return cache.get_or_set(_KEY.format(user_id), secrets.token_hex(8), timeout=None)
    except Exception:  # noqa: BLE001 - Redis away: a generation nobody caches under
        return "uncached-" + secrets.token_hex(8)


def changed(user_id: int) -> None:
    """A vehicle or photo of this user changed: grids cached before are not used again."""
    try:
        cache.set(_KEY.format(user_id), secrets.token_hex(8), timeout=None)
    except Exception:  # noqa: BLE001 - Redis away: nothing cached can be served either
        pass
