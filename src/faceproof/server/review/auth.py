"""Reviewer credentials: the operator configures ``name:hash`` entries
(``FACEPROOF_REVIEW_USERS``), made with ``faceproof review hash-password``. Only scrypt
hashes are stored; a login compares the hash of what was typed with
:func:`hmac.compare_digest`. An unknown name costs the same scrypt run as a known one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ...errors import InvalidArgument

__all__ = ["Reviewers", "hash_password"]

_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD_CHARS = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 * 1024 * 1024)


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` for ``FACEPROOF_REVIEW_USERS`` (``name:`` + this)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidArgument(f"a reviewer password needs at least {MIN_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(16)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(_scrypt(password, salt, _N, _R, _P))}"


@dataclass(frozen=True)
class _Hash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> _Hash:
        parts = text.split("$")
        try:
            if len(parts) != 6 or parts[0] != "scrypt":
                raise ValueError
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, digest = _unb64(parts[4]), _unb64(parts[5])
            if n < 2**14 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or len(salt) < 16 or len(digest) != 32:
                raise ValueError
        except ValueError:
            raise InvalidArgument(
                "a reviewer entry is name:scrypt$N$r$p$salt$hash (make one with: faceproof review hash-password)"
            ) from None
        return cls(n, r, p, salt, digest)

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(_scrypt(password, self.salt, self.n, self.r, self.p), self.digest)


class Reviewers:
    """The configured reviewers (name -> password hash)."""

    def __init__(self, entries: Iterable[str]) -> None:
        users: dict[str, _Hash] = {}
        for entry in entries:
            name, sep, hashed = entry.strip().partition(":")
            if not sep or not _NAME.match(name):
                raise InvalidArgument(
                    "a reviewer entry is name:scrypt$... with a name of 1-64 letters, digits or ._@- "
                    "(make one with: faceproof review hash-password)"
                )
            if name.lower() in users:
                raise InvalidArgument(f"reviewer {name!r} is configured twice")
            users[name.lower()] = _Hash.parse(hashed)
        self._users: Mapping[str, _Hash] = users
        self._names = {e.strip().partition(":")[0].lower(): e.strip().partition(":")[0] for e in entries}
        self._dummy = _Hash.parse(hash_password(secrets.token_urlsafe(16)))

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def check(self, name: str, password: str) -> str | None:
        """The reviewer's configured name when the password is right, else None."""
        if not isinstance(name, str) or not isinstance(password, str) or len(password) > 1024:
            return None
        key = name.strip().lower()
        known = self._users.get(key)
        ok = (known or self._dummy).matches(password)
        return self._names[key] if known is not None and ok else None
