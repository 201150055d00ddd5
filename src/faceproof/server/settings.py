"""Service settings: safe defaults, ``FACEPROOF_*`` environment variables, CLI flags.

Every value is parsed strictly (``FACEPROOF_URL_FETCH=false`` is false; ``=no`` is an
error) and validated when the settings are built, so a bad configuration stops the
server at startup with a clear message instead of misbehaving later.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from .parsing import parse_bool, parse_choice, parse_csv, parse_float, parse_int

__all__ = ["ENV_PREFIX", "ServiceSettings", "available_cores"]

logger = logging.getLogger(__name__)

ENV_PREFIX = "FACEPROOF_"
MiB = 1024 * 1024

#: FACEPROOF_* variables that belong to something else than the service
_FOREIGN_ENV = frozenset({"FACEPROOF_TESTDATA"})


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ServiceSettings:
    """Everything ``faceproof serve`` can be told. Field ``x`` is ``FACEPROOF_X`` in the
    environment and ``--x`` (dashes for underscores) on the command line."""

    # --- network and processes
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # uvicorn worker processes (each loads its own models)
    threads: int = 0  # inference slots per process; 0 = cores // workers (at least 1)
    cv_threads: int = -1  # OpenCV threads per process; -1 = 1 when several slots share the cores, else OpenCV's default
    # --- load shedding
    max_queue: int = 16  # requests waiting for an inference slot; past it: 503 at once
    max_active: int = 64  # requests being received or processed on /v1; past it: 503 at once
    request_timeout: float = 30.0  # seconds from the first byte to the answer
    # --- input limits
    max_body_bytes: int = 30 * MiB
    max_image_bytes: int = 10 * MiB
    max_image_pixels: int = 40_000_000
    max_faces: int = 20  # per image: the largest ones are used, the rest reported as ignored
    max_photos: int = 10  # profile photos per POST /v1/check-profile (at most the policy's max_photos)
    max_header_count: int = 100  # request headers; past it 431
    max_header_bytes: int = 8 * 1024  # one header, name + value; past it 431
    max_headers_total_bytes: int = 32 * 1024  # request line + all headers; past it 431
    # --- models
    detector: str = "yunet"
    models: tuple[str, ...] = ("sface",)  # the first is the default for requests
    metric: str = "cosine"
    attributes: tuple[str, ...] = ("gender", "age")  # () switches gender/age off
    min_confidence: float | None = None
    flip: bool | None = None  # mirrored-face test-time augmentation; None = the library's default
    precision: str = "f32"  # SFace's arithmetic: f32 (calibrated) or bf16 (OpenVINO, cheaper; docs/performance.md)
    calibration: str | None = None
    policy: str | None = None  # JSON file overriding data/policy.json (check-profile's knobs); None = built-in
    lang: str = "ko"
    # a caller-supplied threshold moves the trust decision: refused unless the server allows it
    allow_request_threshold: bool = False
    # --- URL inputs
    url_fetch: bool = False
    url_allow_private: bool = False
    url_allowed_hosts: tuple[str, ...] = ()
    url_timeout: float = 5.0
    url_max_redirects: int = 3
    # --- access
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    rate_limit: float = 0.0  # requests per minute per API key (per client address without keys); 0 = off
    rate_burst: int = 0  # bucket size; 0 = a tenth of a minute's allowance, at least 1
    auth_failure_limit: float = 30.0  # missing/wrong API keys per minute per client address; past it 429; 0 = off
    auth_failure_burst: int = 10  # wrong keys an address may send at once before the limit applies
    cors_origins: tuple[str, ...] = ()
    docs: bool = True
    docs_public: bool = False  # serve /docs and /openapi.json without an API key even when keys are on
    log_level: str = "info"
    # --- state and the review desk (docs/review.md)
    # the database of what the service remembers: sqlite:///path.db for one node, postgresql://...
    # for several replicas. None: no member face index; the review desk then uses
    # faceproof.storage's default (sqlite:///faceproof.db)
    store_url: str | None = field(default=None, repr=False)
    # how the member face index searches: "exact" (every template, from an in-memory copy kept
    # in step with the store) or "hnsw" (PostgreSQL's pgvector index, for galleries too large
    # for each replica's memory); docs/index.md
    index_search: str = "exact"
    review_users: tuple[str, ...] = field(
        default=(), repr=False
    )  # name:scrypt$... entries; none = the review desk is off
    review_window_hours: float = 72.0  # how long a case's images are kept without a decision
    review_export: bool = False  # keep labelled face crops of decided cases for `faceproof review export`
    review_cookie_secure: bool = True  # the reviewer session cookie is sent over HTTPS only
    # --- authenticity (docs/authenticity.md); nonces and fingerprints live in the store
    challenge_secret: str | None = field(default=None, repr=False)  # >= 32 bytes; none = no challenges
    require_challenge: bool = False  # check-profile refuses a request without a challenge token
    copy_check: bool = True  # is the selfie a copy of a profile photo the model matched
    replay_check: bool | None = None  # refuse a selfie accepted before; None = on when store_url is set
    replay_retention_days: float = 90.0  # how long an accepted selfie's fingerprint is kept
    challenge_ttl: float = 120.0  # seconds a challenge stays valid

    def __post_init__(self) -> None:
        def positive(name: str) -> None:
            if getattr(self, name) <= 0:
                raise InvalidArgument(f"{name} must be > 0, got {getattr(self, name)}")

        if not 0 <= self.port <= 65535:
            raise InvalidArgument(f"port must be within 0..65535, got {self.port}")
        for name in ("workers", "request_timeout", "max_body_bytes", "max_image_bytes", "max_image_pixels"):
            positive(name)
        for name in ("max_faces", "max_photos", "max_active", "url_timeout", "max_header_count"):
            positive(name)
        for name in ("max_header_bytes", "max_headers_total_bytes"):
            positive(name)
        for name in ("threads", "max_queue", "url_max_redirects", "rate_limit", "rate_burst", "auth_failure_limit"):
            if getattr(self, name) < 0:
                raise InvalidArgument(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.auth_failure_burst < 1:
            raise InvalidArgument(f"auth_failure_burst must be >= 1, got {self.auth_failure_burst}")
        if self.cv_threads < -1:
            raise InvalidArgument(f"cv_threads must be >= -1, got {self.cv_threads}")
        if self.max_image_bytes > self.max_body_bytes:
            raise InvalidArgument("max_image_bytes cannot exceed max_body_bytes")
        if not self.models:
            raise InvalidArgument("models must name at least one recognition model")
        if self.lang not in ("ko", "en"):
            raise InvalidArgument(f"lang must be ko or en, got {self.lang!r}")
        if self.log_level not in ("critical", "error", "warning", "info", "debug"):
            raise InvalidArgument(f"log_level must be critical, error, warning, info or debug, got {self.log_level!r}")
        if self.index_search not in ("exact", "hnsw"):
            raise InvalidArgument(f"index_search must be exact or hnsw, got {self.index_search!r}")
        if self.index_search == "hnsw" and not (self.store_url or "").startswith(("postgresql://", "postgres://")):
            raise InvalidArgument("index_search hnsw needs a PostgreSQL store_url (pgvector)")
        if "*" in self.cors_origins:
            raise InvalidArgument("cors_origins must list origins; '*' is not accepted")
        if self.calibration is not None and not Path(self.calibration).is_file():
            raise InvalidArgument(f"calibration file not found: {self.calibration}")
        if self.policy is not None and not Path(self.policy).is_file():
            raise InvalidArgument(f"policy file not found: {self.policy}")
        if not 0 < self.review_window_hours <= 24 * 365:
            raise InvalidArgument(f"review_window_hours must be within (0, 8760], got {self.review_window_hours}")
        if self.challenge_secret is not None and len(self.challenge_secret.encode()) < 32:
            raise InvalidArgument("challenge_secret must be at least 32 bytes")
        if self.require_challenge and self.challenge_secret is None:
            raise InvalidArgument("require_challenge needs a challenge_secret (FACEPROOF_CHALLENGE_SECRET)")
        if not 0 < self.replay_retention_days <= 3650:
            raise InvalidArgument(f"replay_retention_days must be within (0, 3650], got {self.replay_retention_days}")
        if not 0 < self.challenge_ttl <= 3600:
            raise InvalidArgument(f"challenge_ttl must be within (0, 3600], got {self.challenge_ttl}")
        if any(not k or len(k) < 16 for k in self.api_keys):
            raise InvalidArgument("API keys must be at least 16 characters long")

    # ------------------------------------------------------------------ derived values

    @property
    def slots(self) -> int:
        """Inference slots in this process."""
        return self.threads if self.threads > 0 else max(1, available_cores() // self.workers)

    @property
    def opencv_threads(self) -> int | None:
        """The OpenCV thread count to set, or None to leave OpenCV's default."""
        if self.cv_threads >= 0:
            return self.cv_threads
        return 1 if self.slots > 1 else None

    @property
    def rate_bucket(self) -> int:
        if self.rate_burst > 0:
            return self.rate_burst
        return max(1, int(self.rate_limit / 10))

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)

    @property
    def replay_enabled(self) -> bool:
        return self.replay_check if self.replay_check is not None else self.store_url is not None

    # ------------------------------------------------------------------ sources

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServiceSettings:
        """Defaults, then ``FACEPROOF_*`` variables, then ``overrides`` (CLI flags; None = not given)."""
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        file_keys: tuple[str, ...] = ()
        for key, raw in env.items():
            if not key.startswith(ENV_PREFIX) or key in _FOREIGN_ENV:
                continue
            name = key[len(ENV_PREFIX) :].lower()
            if name == "api_keys_file":
                file_keys = _read_keys_file(raw)
                continue
            if name not in known:
                logger.warning("ignoring unknown setting %s", key)
                continue
            values[name] = _PARSERS[name](key, raw)
        if file_keys:  # keys from FACEPROOF_API_KEYS and from the file are both accepted
            values["api_keys"] = tuple(dict.fromkeys((*values.get("api_keys", ()), *file_keys)))
        for name, value in overrides.items():
            if name not in known:
                raise InvalidArgument(f"unknown setting {name!r}")
            if value is not None:
                values[name] = value
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The ``FACEPROOF_*`` variables that rebuild these settings (for worker processes)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, tuple):
                text = ",".join(value)
            else:
                text = str(value)
            out[ENV_PREFIX + f.name.upper()] = text
        return out

    def replace(self, **changes: Any) -> ServiceSettings:
        return dataclasses.replace(self, **changes)

    def public(self) -> dict[str, Any]:
        """The settings without secrets, for ``/v1/models`` and logs."""
        secret = ("api_keys", "review_users", "store_url", "challenge_secret")
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in secret}
        out["store"] = None if self.store_url is None else self.store_url.split("://", 1)[0]  # no credentials
        out["review"] = bool(self.review_users)
        out["challenges"] = self.challenge_secret is not None
        out["auth"] = self.auth_enabled
        out["slots"] = self.slots
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _read_keys_file(path: str) -> tuple[str, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"cannot read the API keys file {path}: {exc.strerror}") from exc
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def _text(_key: str, raw: str) -> str:
    return raw.strip()


def _optional_text(_key: str, raw: str) -> str | None:
    return raw.strip() or None


def _lower_choice(*choices: str) -> Callable[[str, str], str]:
    return lambda key, raw: parse_choice(key, raw, choices)


def _optional_float(key: str, raw: str) -> float | None:
    return parse_float(key, raw) if raw.strip() else None


def _optional_bool(key: str, raw: str) -> bool | None:
    return parse_bool(key, raw) if raw.strip() else None


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "host": _text,
    "port": parse_int,
    "workers": parse_int,
    "threads": parse_int,
    "cv_threads": parse_int,
    "max_queue": parse_int,
    "max_active": parse_int,
    "request_timeout": parse_float,
    "max_body_bytes": parse_int,
    "max_image_bytes": parse_int,
    "max_image_pixels": parse_int,
    "max_faces": parse_int,
    "max_photos": parse_int,
    "max_header_count": parse_int,
    "max_header_bytes": parse_int,
    "max_headers_total_bytes": parse_int,
    "detector": _text,
    "models": lambda _k, raw: tuple(m.lower() for m in parse_csv(raw)),
    "metric": _text,
    "attributes": lambda _k, raw: tuple(a.lower() for a in parse_csv(raw)),
    "min_confidence": _optional_float,
    "flip": _optional_bool,
    "precision": _lower_choice("f32", "bf16"),
    "calibration": _optional_text,
    "policy": _optional_text,
    "lang": _lower_choice("ko", "en"),
    "allow_request_threshold": parse_bool,
    "url_fetch": parse_bool,
    "url_allow_private": parse_bool,
    "url_allowed_hosts": lambda _k, raw: parse_csv(raw),
    "url_timeout": parse_float,
    "url_max_redirects": parse_int,
    "api_keys": lambda _k, raw: parse_csv(raw),
    "rate_limit": parse_float,
    "rate_burst": parse_int,
    "auth_failure_limit": parse_float,
    "auth_failure_burst": parse_int,
    "cors_origins": lambda _k, raw: parse_csv(raw),
    "docs": parse_bool,
    "docs_public": parse_bool,
    "log_level": _lower_choice("critical", "error", "warning", "info", "debug"),
    "store_url": _optional_text,
    "index_search": _lower_choice("exact", "hnsw"),
    "review_users": lambda _k, raw: parse_csv(raw),
    "review_window_hours": parse_float,
    "review_export": parse_bool,
    "review_cookie_secure": parse_bool,
    "challenge_secret": _optional_text,
    "require_challenge": parse_bool,
    "copy_check": parse_bool,
    "replay_check": _optional_bool,
    "replay_retention_days": parse_float,
    "challenge_ttl": parse_float,
}
