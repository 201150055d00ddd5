"""Replay fingerprints: a robust hash of a selfie, never the image.

A selfie that was already used (by this member earlier or by another account) should be
refused. The store (``faceproof.storage``) keeps, per accepted selfie, only this
fingerprint:

* ``sha256``: SHA-256 of the file's bytes (or, without them, of the decoded pixels):
  catches the exact same file;
* ``phash``: a 64-bit perceptual hash (DCT hash, ``imagehash.phash``) of the face and its
  surroundings **aligned on the five landmarks**, in grey: alignment makes it ignore
  scale, crop, borders and small rotations, the DCT's lowest frequencies ignore
  re-encoding, noise and mild blur, grey ignores colour filters;
* ``phash_mirrored``: the same for the mirrored crop, so a mirrored replay is found by
  looking up both hashes of the new selfie against the stored ``phash``.

Matching rule (:meth:`SelfieFingerprint.matches`): the same SHA-256, or a Hamming
distance between ``phash`` values (straight or mirrored) of at most ``max_distance``
bits. The default comes from the measurement in docs/authenticity.md.

A store looks up candidates by exact match on bands: with ``max_distance`` = k, any two
hashes within k bits agree exactly on at least one of k + 1 disjoint bands of the 64 bits
(pigeonhole), so :meth:`SelfieFingerprint.bands` gives the index keys and the Hamming
distance is checked on the few candidates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from ..types import Face, ImageArray
from .copies import FaceDescriptor, aligned_gray

__all__ = ["DEFAULT_MAX_DISTANCE", "SelfieFingerprint", "hamming", "selfie_fingerprint"]

#: Hamming distance (of 64 bits) up to which two fingerprints are the same selfie.
DEFAULT_MAX_DISTANCE = 8


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass(frozen=True, slots=True)
class SelfieFingerprint:
    sha256: str
    phash: int
    phash_mirrored: int

    def distance(self, stored: SelfieFingerprint) -> int:
        """Bits between this selfie (straight or mirrored) and a stored fingerprint."""
        return min(hamming(self.phash, stored.phash), hamming(self.phash_mirrored, stored.phash))

    def matches(self, stored: SelfieFingerprint, max_distance: int = DEFAULT_MAX_DISTANCE) -> bool:
        return self.sha256 == stored.sha256 or self.distance(stored) <= max_distance

    def bands(self, max_distance: int = DEFAULT_MAX_DISTANCE, *, mirrored: bool = False) -> list[str]:
        """Index keys: the hash cut into ``max_distance + 1`` bands, each prefixed with
        its position (store the straight bands; look up both straight and mirrored)."""
        n = max_distance + 1
        if not 1 <= n <= 64:
            raise InvalidArgument(f"max_distance must be within 0..63, got {max_distance}")
        value = self.phash_mirrored if mirrored else self.phash
        bits = format(value, "064b")
        edges = [round(i * 64 / n) for i in range(n + 1)]
        return [f"{i}:{bits[edges[i] : edges[i + 1]]}" for i in range(n)]

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "phash": f"{self.phash:016x}", "phash_mirrored": f"{self.phash_mirrored:016x}"}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SelfieFingerprint:
        try:
            return cls(
                sha256=str(doc["sha256"]),
                phash=int(str(doc["phash"]), 16),
                phash_mirrored=int(str(doc["phash_mirrored"]), 16),
            )
        except (KeyError, ValueError) as exc:
            raise InvalidArgument(f"not a selfie fingerprint: {exc}") from None


def _phash(gray: np.ndarray) -> int:
    import imagehash
    from PIL import Image

    h = imagehash.phash(Image.fromarray(gray), hash_size=8)
    return int(str(h), 16)


def selfie_fingerprint(
    image: ImageArray, face: Face, raw: bytes | None = None, *, descriptor: FaceDescriptor | None = None
) -> SelfieFingerprint:
    """The fingerprint of a selfie: ``image`` (RGB uint8), its face (with landmarks) and,
    when the caller has them, the file's bytes ``raw`` (hashed instead of the pixels:
    much cheaper than hashing a decoded photo). The hashed crop is the copy check's
    aligned crop (64x64, face and surroundings); pass the selfie's ``descriptor`` from
    :func:`~faceproof.authenticity.copies.describe_face` to reuse it."""
    if face.landmarks is None:
        raise InvalidArgument("the fingerprint needs the face's landmarks")
    if raw is not None:
        digest = hashlib.sha256(raw).hexdigest()
    else:
        h = hashlib.sha256(f"{image.shape}".encode())
        h.update(np.ascontiguousarray(image).data)
        digest = h.hexdigest()
    crop = descriptor.crop if descriptor is not None else aligned_gray(image, face.landmarks)[0]
    gray = np.clip(np.rint(crop), 0, 255).astype(np.uint8)
    return SelfieFingerprint(
        sha256=digest,
        phash=_phash(gray),
        phash_mirrored=_phash(np.ascontiguousarray(gray[:, ::-1])),
    )
