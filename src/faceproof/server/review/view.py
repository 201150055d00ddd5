"""What the case page shows, computed from the stored check result: face boxes, the
compared pairs, the score bar against the threshold and the uncertainty band, quality
measures, and the copy/replay and face-index findings when the result carries them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...review import Case
from .texts import Texts

__all__ = ["Bar", "CaseView", "case_view"]

_COPY_KEYS = ("authenticity", "copy", "copies", "replay")
_INDEX_KEYS = ("index", "member_index", "face_search")


@dataclass(frozen=True)
class Bar:
    """Positions (percent of the bar's width) of the score, the threshold and the band."""

    label: str
    value: str
    score: float
    threshold: float
    band_lo: float
    band_hi: float
    side: str  # "match", "band" or "nomatch"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    kind: str  # "compared", "other", "unusable"
    n: int


@dataclass
class ImageView:
    index: int  # stored image index (0 selfie)
    width: int
    height: int
    boxes: list[Box]
    kept: bool


@dataclass
class PhotoView:
    number: int  # photo index (0-based) in the request
    status: str
    status_text: str
    reasons: list[str]
    image: ImageView
    bar: Bar | None
    face: int | None
    quality: list[tuple[str, str]]
    issues: list[str]
    faces: int


@dataclass
class CaseView:
    reasons: list[tuple[str, str]]
    selfie: ImageView
    selfie_face: int | None
    selfie_quality: list[tuple[str, str]]
    selfie_issues: list[str]
    photos: list[PhotoView]
    findings: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    metric: str = "cosine"


def _boxes(faces: list[dict[str, Any]], compared: int | None) -> list[Box]:
    out = []
    for n, f in enumerate(faces):
        x1, y1, x2, y2 = (float(v) for v in f["bbox"][:4])
        q = f.get("quality") or {}
        kind = "compared" if n == compared else ("unusable" if q.get("usable") is False else "other")
        out.append(Box(x1, y1, max(1.0, x2 - x1), max(1.0, y2 - y1), kind, n))
    return out


def _image(index: int, sizes: Any, boxes: list[Box]) -> ImageView:
    w, h = sizes.get(index, (0, 0))
    return ImageView(index, w, h, boxes, index in sizes)


def _quality(face: dict[str, Any] | None, t: Texts) -> tuple[list[tuple[str, str]], list[str]]:
    q = (face or {}).get("quality")
    if not q:
        return [], []
    pose = q.get("pose") or {}
    rows = [
        (t("score"), f"{q.get('score', 0):.2f} ({t('usable') if q.get('usable') else t('not_usable')})"),
        (t("size"), f"{q.get('inter_eye_px', 0):.0f} px"),
        (t("sharpness"), f"{q.get('sharpness', 0):.3f}"),
        (t("brightness"), f"{q.get('brightness', 0):.0f} / 255"),
        (t("pose"), f"{pose.get('yaw', 0):+.0f}° / {pose.get('pitch', 0):+.0f}°"),
    ]
    return rows, [t.code(i) for i in q.get("issues", ())]


def _bar(distance: float | None, result: dict[str, Any], t: Texts) -> Bar | None:
    if distance is None:
        return None
    thr = float(result["threshold"])
    lo, hi = (float(v) for v in result.get("band", (thr, thr)))
    side = "match" if distance <= lo else ("band" if distance <= hi else "nomatch")
    if result.get("metric") == "cosine":  # similarity = 1 - cosine distance, on 0..1

        def pos(d: float) -> float:
            return round(min(100.0, max(0.0, (1.0 - d) * 100.0)), 2)

        return Bar(t("similarity"), f"{1.0 - distance:.3f}", pos(distance), pos(thr), pos(hi), pos(lo), side)
    top = max(hi * 1.6, distance * 1.05, 1e-6)

    def pos_d(d: float) -> float:
        return round(min(100.0, max(0.0, d / top * 100.0)), 2)

    return Bar(t("distance"), f"{distance:.3f}", pos_d(distance), pos_d(thr), pos_d(lo), pos_d(hi), side)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            out.extend(_flatten(v, f"{prefix}{k}" if not prefix else f"{prefix}.{k}"))
        return out
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return [(prefix or "-", text[:300])]


def case_view(case: Case, t: Texts) -> CaseView:
    result: dict[str, Any] = dict(case.result or {})
    sizes = case.image_sizes
    selfie = result.get("selfie") or {}
    selfie_faces = list(selfie.get("faces") or [])
    used = selfie.get("face")
    selfie_face = next((n for n, f in enumerate(selfie_faces) if used and f.get("bbox") == used.get("bbox")), None)
    sq, si = _quality(used, t)
    photos: list[PhotoView] = []
    for p in result.get("photos", ()):
        i = int(p["index"])
        faces = list(p.get("faces") or [])
        face = p.get("face_index")
        q, issues = _quality(faces[face] if face is not None and face < len(faces) else None, t)
        photos.append(
            PhotoView(
                number=i,
                status=p.get("status", ""),
                status_text=t.status(p.get("status", "")),
                reasons=[t.code(r) for r in p.get("reasons", ())],
                image=_image(i + 1, sizes, _boxes(faces, face)),
                bar=_bar(p.get("distance"), result, t),
                face=face,
                quality=q,
                issues=issues,
                faces=len(faces),
            )
        )
    findings = []
    for title, keys in (("copy_replay", _COPY_KEYS), ("face_index", _INDEX_KEYS)):
        for key in keys:
            if result.get(key):
                findings.append((t(title), _flatten(result[key])))
    return CaseView(
        reasons=[(r, t.code(r)) for r in case.reasons],
        selfie=_image(0, sizes, _boxes(selfie_faces, selfie_face)),
        selfie_face=selfie_face,
        selfie_quality=sq,
        selfie_issues=si,
        photos=photos,
        findings=findings,
        metric=str(result.get("metric", "cosine")),
    )
