"""Replay fingerprints: a robust hash of a selfie, never the image.

A selfie that was already used (by this member earlier or by another account) should be
refused. The store (``faceproof.storage``) keeps, per accepted selfie, only this
fingerprint:

* ``sha256``: SHA-256 of the file's bytes (or, without them, of the decoded pixels):
  the exact same file;
* ``code``: a 256-bit similarity hash (SimHash: the signs of 256 fixed random +-1
  projections) of the face region **aligned on the five landmarks** and band-pass
  filtered — the same crop and filter as the copy check (:mod:`.copies`), restricted to
  the face and its near surroundings (hair, ears) that a crop or a frame leaves in
  place. Alignment makes it ignore scale, crop, borders and small rotations; the band
  ignores brightness, contrast, colour, noise and mild blur. Two codes differ in about
  ``angle / 180`` of their bits, where ``angle`` is the angle between the two filtered
  crops: a re-encoded or resized replay differs in few bits, a different photo of the
  same person in about a third or more;
* ``code_mirrored``: the same for the mirrored crop, so a mirrored replay is found by
  comparing both codes of the new selfie with the stored ``code``.

Matching rule (:meth:`SelfieFingerprint.matches`): the same SHA-256, or a Hamming
distance between codes (straight or mirrored) of at most ``max_distance`` bits of 256.
The default and its measured effect: docs/authenticity.md.

The projections come from SHA-256 in counter mode (not a library's random generator), so
a stored code stays comparable across numpy versions and machines.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from ..types import Face, ImageArray
from .copies import FaceDescriptor, describe_face

__all__ = ["CODE_BITS", "DEFAULT_MAX_DISTANCE", "SelfieFingerprint", "hamming", "selfie_fingerprint"]

CODE_BITS = 256
#: Hamming distance (of 256 bits) up to which two codes are the same selfie.
DEFAULT_MAX_DISTANCE = 16
#: The part of the 64x64 copy-check crop that is hashed: the face and its near surroundings.
_REGION = (slice(12, 52), slice(12, 52))
_FORMAT = f"0{CODE_BITS // 4}x"
#: A lower band than the copy check's (which registers the crops first; a fingerprint
#: cannot): landmark jitter of a pixel or two must not change the code.
FINGERPRINT_SIGMAS = (2.0, 6.0)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@functools.cache
def _projections() -> np.ndarray:
    """CODE_BITS x 1600 matrix of +-1, from SHA-256 in counter mode (fixed forever)."""
    n = (_REGION[0].stop - _REGION[0].start) * (_REGION[1].stop - _REGION[1].start)
    need = CODE_BITS * n // 8
    stream = b"".join(hashlib.sha256(b"faceproof-fingerprint-v1:%d" % i).digest() for i in range(-(-need // 32)))
    bits = np.unpackbits(np.frombuffer(stream[:need], dtype=np.uint8)).reshape(CODE_BITS, n)
    return (bits.astype(np.float32) * 2.0 - 1.0).astype(np.float32)


def _coarse_band(crop: np.ndarray) -> np.ndarray:
    import cv2

    lo = cv2.GaussianBlur(crop, (0, 0), FINGERPRINT_SIGMAS[0])
    hi = cv2.GaussianBlur(crop, (0, 0), FINGERPRINT_SIGMAS[1])
    return np.asarray(lo - hi, dtype=np.float32)


def _code(crop: np.ndarray, mask: np.ndarray) -> int:
    band = _coarse_band(crop)
    v = np.where(mask[_REGION] > 0, band[_REGION], 0.0).astype(np.float32).ravel()
    v -= v.mean()
    bits = (_projections() @ v) > 0
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


@dataclass(frozen=True, slots=True)
class SelfieFingerprint:
    sha256: str
    code: int
    code_mirrored: int

    def distance(self, stored: SelfieFingerprint) -> int:
        """Bits (of 256) between this selfie, straight or mirrored, and a stored one."""
        return min(hamming(self.code, stored.code), hamming(self.code_mirrored, stored.code))

    def matches(self, stored: SelfieFingerprint, max_distance: int = DEFAULT_MAX_DISTANCE) -> bool:
        return self.sha256 == stored.sha256 or self.distance(stored) <= max_distance

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "code": format(self.code, _FORMAT),
            "code_mirrored": format(self.code_mirrored, _FORMAT),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SelfieFingerprint:
        try:
            return cls(
                sha256=str(doc["sha256"]),
                code=int(str(doc["code"]), 16),
                code_mirrored=int(str(doc["code_mirrored"]), 16),
            )
        except (KeyError, ValueError) as exc:
            raise InvalidArgument(f"not a selfie fingerprint: {exc}") from None


def selfie_fingerprint(
    image: ImageArray, face: Face, raw: bytes | None = None, *, descriptor: FaceDescriptor | None = None
) -> SelfieFingerprint:
    """The fingerprint of a selfie: ``image`` (RGB uint8), its face (with landmarks) and,
    when the caller has them, the file's bytes ``raw`` (hashed instead of the pixels:
    much cheaper than hashing a decoded photo). Pass the selfie's ``descriptor`` from
    :func:`~faceproof.authenticity.copies.describe_face` to reuse the copy check's crop."""
    if face.landmarks is None:
        raise InvalidArgument("the fingerprint needs the face's landmarks")
    if raw is not None:
        digest = hashlib.sha256(raw).hexdigest()
    else:
        h = hashlib.sha256(f"{image.shape}".encode())
        h.update(np.ascontiguousarray(image).data)
        digest = h.hexdigest()
    d = descriptor if descriptor is not None else describe_face(image, face)
    return SelfieFingerprint(
        sha256=digest,
        code=_code(d.face.crop, d.face.mask),
        code_mirrored=_code(d.face.mirrored, d.face.mask_mirrored),
    )
