"""Optional API-key authentication and a per-key token-bucket rate limit.

Wrong or missing keys spend tokens of a separate per-address bucket
(:func:`authenticate`); once it is empty, requests from that address are answered 429
without their key being checked, so guessing keys costs time.

Keys are compared by their SHA-256 digests in constant time; neither keys nor digests
are logged (a short key id, the digest's first 8 hex digits, is). Without keys the rate
limit applies per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Iterable

from .errors import RateLimited, Unauthorized

__all__ = ["API_KEY_HEADER", "KeyRing", "RateLimiter", "authenticate"]

API_KEY_HEADER = "X-API-Key"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyRing:
    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(k) for k in keys)

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, presented: str | None) -> str:
        """The key id of a valid key; raises :class:`Unauthorized` otherwise."""
        if not presented:
            raise Unauthorized(f"this server requires an API key in the {API_KEY_HEADER} header")
        digest = _digest(presented)
        found = False
        for known in self._digests:  # no early exit: same work for every key
            found |= hmac.compare_digest(digest, known)
        if not found:
            raise Unauthorized("the API key is not valid")
        return digest.hex()[:8]


class RateLimiter:
    """Token buckets: ``per_minute`` tokens per minute, at most ``burst`` saved up.

    At most ``max_keys`` buckets are kept (least recently used dropped), so a flood of
    new client addresses cannot grow memory without bound.
    """

    def __init__(self, per_minute: float, burst: int, *, max_keys: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.pop(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def wait(self, key: str, now: float | None = None) -> int | None:
        """Seconds until ``key`` has a token again (None when it has one); spends nothing."""
        if not self.enabled:
            return None
        now = time.monotonic() if now is None else now
        tokens = self._tokens(key, now)
        self._buckets[key] = (tokens, now)
        return None if tokens >= 1.0 else math.ceil((1.0 - tokens) / self.rate)

    def spend(self, key: str, now: float | None = None) -> None:
        """Spend one token of ``key``'s bucket if it has one (never raises)."""
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        self._buckets[key] = (max(0.0, self._tokens(key, now) - 1.0), now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def take(self, key: str, now: float | None = None) -> None:
        """Spend one token of ``key``'s bucket or raise :class:`RateLimited`."""
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        tokens = self._tokens(key, now)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            wait = math.ceil((1.0 - tokens) / self.rate)
            raise RateLimited(
                f"rate limit exceeded ({self.rate * 60:g} requests per minute); retry in {wait} s",
                retry_after=wait,
            )
        self._buckets[key] = (tokens - 1.0, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)


def authenticate(keyring: KeyRing, failures: RateLimiter, presented: str | None, client: str) -> str:
    """The key id of a valid key. A missing or wrong key spends a token of the client
    address's failure bucket and raises :class:`Unauthorized`; an address whose bucket is
    empty gets :class:`RateLimited` before its key is even looked at."""
    bucket = f"auth-failures:{client}"
    wait = failures.wait(bucket)
    if wait is not None:
        raise RateLimited(
            f"too many requests with a missing or wrong API key from this address; retry in {wait} s",
            retry_after=wait,
        )
    try:
        return keyring.check(presented)
    except Unauthorized:
        failures.spend(bucket)
        raise
