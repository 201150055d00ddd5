"""The service's state shared by the app and its routes: the settings, the reference
worker, keys, the rate limiter, the policy and the inference pool; and the accessors a
route uses to reach them from a request."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from .._version import __version__
from ..authenticity import Authenticity, ReplayStore, StoreNonceLedger
from ..decision.policy import Policy
from ..errors import BackendUnavailable, FaceProofError
from ..index import MemberIndex
from ..runtime import registry
from ..storage import Store
from .errors import http_status_of
from .middleware import envelope, error_headers, state_of
from .pool import InferencePool
from .security import KeyRing, RateLimiter
from .settings import ServiceSettings
from .store_limiter import StoreRateLimiter
from .workers import Worker

__all__ = ["ServiceState", "deadline_of", "error_response", "request_id_of", "service_of"]


@dataclass
class ServiceState:
    settings: ServiceSettings
    reference: Worker  # the pool's first worker; its immutable metadata (names, thresholds) describes the service
    keyring: KeyRing
    limiter: RateLimiter | StoreRateLimiter  # StoreRateLimiter: shared by the replicas of one store
    policy: Policy = field(default_factory=Policy.default)  # check-profile's knobs (FACEPROOF_POLICY)
    #: wrong or missing API keys per client address (guessing keys is rate-limited)
    auth_failures: RateLimiter = field(default_factory=lambda: RateLimiter(0.0, 1))
    pool: InferencePool[Worker] | None = None
    #: the member face index in the service's store, opened on first use (member_index())
    index: MemberIndex | None = None
    _index_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: the store of the authenticity checks' state (spent nonces, fingerprints), opened on first use
    auth_store: Store | None = None
    _auth: Authenticity | None = None
    _auth_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    ready: bool = False
    warmup_error: FaceProofError | None = None
    warmup_ms: float | None = None
    started_at: float = field(default_factory=time.time)
    _warmup_task: asyncio.Task[None] | None = None

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.reference.clients)

    def describe(self) -> dict[str, Any]:
        """Everything ``GET /v1/models`` reports."""
        s = self.settings
        return {
            "service": {"name": "faceproof", "version": __version__},
            "default_model": self.reference.default_model,
            "models": {name: client.describe() for name, client in self.reference.clients.items()},
            "backends": registry.describe(),
            "attributes": list(self.reference.default.attribute_names),
            "limits": {
                "max_body_bytes": s.max_body_bytes,
                "max_image_bytes": s.max_image_bytes,
                "max_image_pixels": s.max_image_pixels,
                "max_faces": s.max_faces,
                "max_photos": s.max_photos,
                "request_timeout_s": s.request_timeout,
                "max_queue": s.max_queue,
                "inference_workers": s.slots,
            },
            "features": {
                "index": self.settings.store_url is not None,
                "url_fetch": s.url_fetch,
                "auth": s.auth_enabled,
                "rate_limit_per_minute": s.rate_limit,
                "check_profile": self.check_profile_available,
                "request_threshold": s.allow_request_threshold,
                "authenticity": self.authenticity_features(),
            },
            "policy": self.policy.to_dict(),
        }

    def authenticity_features(self) -> dict[str, Any]:
        """Which authenticity checks a check-profile request gets, from the settings alone
        (the store is not opened: ``/v1/models`` answers while the database is down)."""
        s = self.settings
        return {
            **Authenticity(copies=s.copy_check).features(),
            "replays": s.replay_enabled,
            "replay_retention_days": s.replay_retention_days if s.replay_enabled else None,
            "challenges": s.challenge_secret is not None,
            "require_challenge": s.require_challenge,
        }

    def member_index(self) -> MemberIndex:
        """The member face index (``FACEPROOF_STORE_URL``), opened on first use so that a
        database that is down answers ``503 storage_unavailable`` on the index routes
        instead of keeping the service from starting; a failed open is retried next time."""
        if self.settings.store_url is None:
            raise BackendUnavailable("the member face index needs a store: set FACEPROOF_STORE_URL")
        with self._index_lock:
            if self.index is None:
                self.index = MemberIndex(
                    self.settings.store_url,
                    actor="service",
                    search="hnsw" if self.settings.index_search == "hnsw" else "exact",
                )
            return self.index

    def authenticity(self, *, challenge: bool) -> Authenticity:
        """The authenticity checks of a check-profile request. The store (``store_url``,
        else faceproof.storage's default) is opened on first use, when the replay check is
        on or a request brings a challenge, so that replicas sharing one database agree;
        a database that is down answers ``503 storage_unavailable`` and is retried next time."""
        s = self.settings
        if not s.replay_enabled and not challenge:
            return Authenticity(copies=s.copy_check)
        with self._auth_lock:
            if self._auth is None:
                from ..storage import open_store

                store = open_store(s.store_url)
                try:
                    replays = ReplayStore(store, retention_days=s.replay_retention_days)
                    nonces = StoreNonceLedger(store)
                except BaseException:
                    store.close()
                    raise
                self.auth_store = store
                secret = None if s.challenge_secret is None else s.challenge_secret.encode()
                self._auth = Authenticity(
                    copies=s.copy_check,
                    replays=replays if s.replay_enabled else None,
                    nonces=nonces,
                    challenge_secret=secret,
                )
            return self._auth

    def close_auth(self) -> None:
        with self._auth_lock:
            if self.auth_store is not None:
                self.auth_store.close()
                self.auth_store, self._auth = None, None

    def close_index(self) -> None:
        with self._index_lock:
            if self.index is not None:
                self.index.close()
                self.index = None

    @property
    def check_profile_available(self) -> bool:
        """False when the policy asks for face confirmation and its backend is missing."""
        return self.policy.confirm == "none" or self.reference.confirmer is not None


def service_of(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def request_id_of(request: Request) -> str:
    rid: str = state_of(request.scope).get("request_id", "-")
    return rid


def deadline_of(request: Request) -> float:
    """This request's deadline in the event loop's clock (request_timeout from its first byte)."""
    state = state_of(request.scope)
    elapsed = time.perf_counter() - state.get("started", time.perf_counter())
    timeout = service_of(request).settings.request_timeout
    return asyncio.get_running_loop().time() + max(0.0, timeout - elapsed)


def error_response(request: Request, exc: FaceProofError) -> JSONResponse:
    state_of(request.scope)["error_code"] = exc.code
    return JSONResponse(
        envelope(exc.code, exc.message, request_id_of(request)),
        status_code=http_status_of(exc),
        headers=error_headers(exc),
    )
