"""Copy attacks: what an attacker does to a profile photo to pass it off as a fresh selfie.

Used by the benchmark (``bench/copy_attacks.py``) and the tests to generate, at run time
and in memory only, near-copies of real photos. Every attack takes an RGB ``uint8`` image
and a :class:`numpy.random.Generator` and returns a new RGB ``uint8`` image. Parameters
are drawn at random inside the ranges the product promises to catch (issue 11): JPEG
quality >= 30, scale >= 0.4, crop keeping >= 60 % of the area, rotation within 10
degrees, colour filters, borders and app chrome, blur and noise, a re-shot of a screen.

Nothing here runs at import time; OpenCV and Pillow are imported on first use.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np

from ..types import BBox, ImageArray

__all__ = ["ATTACKS", "Attack", "apply_attack", "attack_names"]

Attack = Callable[[ImageArray, np.random.Generator, BBox | None], ImageArray]


def _u8(x: np.ndarray) -> ImageArray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _jpeg(image: ImageArray, quality: int) -> ImageArray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.uint8)


def _resize(image: ImageArray, scale: float) -> ImageArray:
    import cv2

    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(image, size, interpolation=interp), dtype=np.uint8)


def exact(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    return image.copy()


def jpeg(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    return _jpeg(image, int(rng.integers(30, 71)))


def jpeg_q30(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    return _jpeg(image, 30)


def downscale(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    return _resize(image, float(rng.uniform(0.4, 0.7)))


def downscale_04(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    return _resize(image, 0.4)


def upscale(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    return _resize(image, float(rng.uniform(1.2, 2.0)))


def crop(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    """A crop keeping 60-80 % of the area that still holds the whole face box."""
    h, w = image.shape[:2]
    for _ in range(50):
        keep = float(rng.uniform(0.6, 0.8))
        aspect = float(rng.uniform(0.8, 1.25))
        cw = min(w, round(w * math.sqrt(keep) * aspect))
        ch = min(h, round(h * keep * w / max(cw, 1)))
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        if face is None or (x0 <= face.x1 and y0 <= face.y1 and x0 + cw >= face.x2 and y0 + ch >= face.y2):
            return image[y0 : y0 + ch, x0 : x0 + cw].copy()
    # the face fills the photo: crop symmetrically around it as far as possible
    if face is None:
        return image.copy()
    x0 = int(max(0, min(face.x1, w * 0.1)))
    y0 = int(max(0, min(face.y1, h * 0.1)))
    x1 = int(min(w, max(face.x2, w * 0.9)))
    y1 = int(min(h, max(face.y2, h * 0.9)))
    return image[y0:y1, x0:x1].copy()


def mirror(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    return np.ascontiguousarray(image[:, ::-1])


def _rotate(image: ImageArray, degrees: float) -> ImageArray:
    import cv2

    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    # a phone's rotate tool crops to the original frame; fill the corners with black
    return np.asarray(cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR), dtype=np.uint8)


def rotate_full(image: ImageArray, degrees: float) -> ImageArray:
    """Rotated counter-clockwise by ``degrees`` with the canvas enlarged so nothing is cut
    (edges replicated): a selfie taken with the head or the phone tilted, for the pose
    checks' measurements and tests."""
    import cv2

    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * s + w * c), int(h * c + w * s)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return np.asarray(cv2.warpAffine(image, m, (nw, nh), borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)


def rotate(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return _rotate(image, sign * float(rng.uniform(3.0, 10.0)))


def brightness_contrast(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    gain = float(rng.uniform(0.6, 1.5))
    offset = float(rng.uniform(-40, 40))
    mean = image.mean()
    return _u8((image.astype(np.float32) - mean) * gain + mean + offset)


def gamma(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    g = float(rng.choice([rng.uniform(0.5, 0.8), rng.uniform(1.3, 2.0)]))
    return _u8(255.0 * (image.astype(np.float32) / 255.0) ** g)


def colour_filter(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    """One of: grey, sepia, a warm or cool tint, boosted or faded saturation, an
    S-curve "vintage" look."""
    x = image.astype(np.float32)
    kind = int(rng.integers(0, 6))
    if kind == 0:
        g = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return _u8(np.repeat(g[..., None], 3, axis=2))
    if kind == 1:
        sepia = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], dtype=np.float32)
        return _u8(x @ sepia.T)
    if kind == 2:
        warm = rng.uniform(1.05, 1.25)
        return _u8(x * np.array([warm, 1.0, 2.0 - warm], dtype=np.float32))
    if kind == 3:
        cool = rng.uniform(1.05, 1.25)
        return _u8(x * np.array([2.0 - cool, 1.0, cool], dtype=np.float32))
    if kind == 4:
        g = (x @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
        sat = float(rng.choice([rng.uniform(0.2, 0.6), rng.uniform(1.4, 2.0)]))
        return _u8(g + (x - g) * sat)
    t = x / 255.0
    curve = t + 0.6 * (t - 0.5) * t * (1 - t) * 4 * 0.5
    faded = 0.1 + 0.8 * curve
    return _u8(255.0 * faded * np.array([1.05, 1.0, 0.9], dtype=np.float32))


def blur(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    import cv2

    # sigma relative to the face (a 2 px blur on a 26 px inter-eye face ~ 0.08 of it)
    scale = (face.width / 3.0) if face is not None else min(image.shape[:2]) / 6.0
    sigma = max(0.8, float(rng.uniform(0.03, 0.08)) * scale)
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), dtype=np.uint8)


def noise(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    sigma = float(rng.uniform(5.0, 15.0))
    return _u8(image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32))


def blur_noise_jpeg(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    return _jpeg(noise(blur(image, rng, face), rng, face), int(rng.integers(40, 80)))


def border(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    """A plain frame (white, black or coloured) of 3-20 % of the side."""
    h, w = image.shape[:2]
    colour = (
        rng.integers(0, 256, size=3).astype(np.uint8)
        if rng.random() < 0.5
        else np.full(3, 255 * int(rng.integers(0, 2)), np.uint8)
    )
    t, b = (round(h * float(rng.uniform(0.03, 0.2))) for _ in range(2))
    left, right = (round(w * float(rng.uniform(0.03, 0.2))) for _ in range(2))
    out = np.empty((h + t + b, w + left + right, 3), dtype=np.uint8)
    out[:] = colour
    out[t : t + h, left : left + w] = image
    return out


def screenshot(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    """The photo shown inside a phone app and captured: scaled into a 9:19.5 portrait
    screen with a status bar, a title bar, buttons and text below, then PNG/JPEG-like."""
    import cv2

    sw = int(rng.choice([720, 1080]))
    sh = int(sw * 19.5 / 9)
    dark = rng.random() < 0.5
    screen = np.full((sh, sw, 3), 18 if dark else 248, dtype=np.uint8)
    ink = (235, 235, 235) if dark else (20, 20, 20)
    accent = tuple(int(v) for v in rng.integers(0, 256, size=3))
    bar = round(sh * 0.035)
    screen[:bar] = (0, 0, 0) if dark else (240, 240, 240)
    cv2.putText(screen, "9:41", (round(sw * 0.05), round(bar * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, sw / 1200, ink, 2)
    title = round(sh * 0.06)
    cv2.rectangle(screen, (0, bar), (sw, bar + title), accent, -1)
    cv2.putText(
        screen,
        "Profile",
        (round(sw * 0.3), bar + round(title * 0.7)),
        cv2.FONT_HERSHEY_SIMPLEX,
        sw / 500,
        (255, 255, 255),
        3,
    )
    h, w = image.shape[:2]
    margin = round(sw * float(rng.uniform(0.0, 0.06)))
    scale = (sw - 2 * margin) / w
    pw, ph = sw - 2 * margin, round(h * scale)
    ph = min(ph, round(sh * 0.6))
    photo = cv2.resize(image, (pw, round(h * scale)), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    top = bar + title + round(sh * 0.01)
    screen[top : top + ph, margin : margin + pw] = photo[:ph]
    y = top + ph + round(sh * 0.04)
    cv2.putText(screen, "Alex, 29", (margin + 10, y), cv2.FONT_HERSHEY_SIMPLEX, sw / 600, ink, 2)
    for i in range(3):
        cx = round(sw * (0.25 + 0.25 * i))
        cv2.circle(screen, (cx, sh - round(sh * 0.08)), round(sw * 0.07), accent, -1)
    out = np.asarray(screen, dtype=np.uint8)
    return _jpeg(out, int(rng.integers(70, 95))) if rng.random() < 0.5 else out


def screen_reshoot(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    """A photo of the photo on a screen: perspective (a camera 5-15 degrees off axis),
    display gamma and colour cast, a moire grating, sensor blur and noise, JPEG."""
    import cv2

    h, w = image.shape[:2]
    x = image.astype(np.float32) / 255.0
    x = x ** float(rng.uniform(0.8, 1.3))
    x = x * rng.uniform(0.85, 1.1, size=3).astype(np.float32)
    # moire: a beat between the screen's pixel grid and the sensor's, a tilted sinusoid
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = float(rng.uniform(0, math.pi))
    period = float(rng.uniform(3.0, 9.0))
    phase = (xx * math.cos(angle) + yy * math.sin(angle)) * (2 * math.pi / period)
    x = x * (1.0 - float(rng.uniform(0.04, 0.12)) * (0.5 + 0.5 * np.sin(phase)))[..., None]
    # perspective: shift each corner by up to 8 % of the side, on a dark surround (the bezel)
    pad = round(0.1 * max(h, w))
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    jitter = rng.uniform(-0.08, 0.08, size=(4, 2)).astype(np.float32) * np.array([w, h], dtype=np.float32)
    dst = src + pad + jitter
    m = cv2.getPerspectiveTransform(src, dst)
    canvas = (w + 2 * pad, h + 2 * pad)
    warped = cv2.warpPerspective(x, m, canvas, flags=cv2.INTER_LINEAR, borderValue=(0.03, 0.03, 0.03))
    out = _u8(255.0 * np.clip(warped, 0, 1))
    sigma = max(0.6, 0.004 * max(canvas))
    out = np.asarray(cv2.GaussianBlur(out, (0, 0), sigma), dtype=np.uint8)
    out = _u8(out.astype(np.float32) + rng.normal(0.0, float(rng.uniform(2.0, 8.0)), out.shape).astype(np.float32))
    return _jpeg(out, int(rng.integers(60, 90)))


def combo_mirror_half_q60(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    """The issue's example: mirror, halve, JPEG quality 60."""
    return _jpeg(_resize(np.ascontiguousarray(image[:, ::-1]), 0.5), 60)


def combo_random(image: ImageArray, rng: np.random.Generator, face: BBox | None = None) -> ImageArray:
    """Three of the other attacks in a row (crop first, so it keeps the face box)."""
    out = crop(image, rng, face) if rng.random() < 0.5 else image
    names = [n for n in _CHAINABLE if n != "crop"]
    for name in rng.choice(names, size=2, replace=False):
        out = ATTACKS[str(name)](out, rng, None)
    return _jpeg(out, int(rng.integers(30, 90)))


#: Every attack by name, in the order of the tables.
ATTACKS: dict[str, Attack] = {
    "exact": exact,
    "jpeg": jpeg,
    "jpeg_q30": jpeg_q30,
    "downscale": downscale,
    "downscale_0.4": downscale_04,
    "upscale": upscale,
    "crop": crop,
    "mirror": mirror,
    "rotate": rotate,
    "brightness_contrast": brightness_contrast,
    "gamma": gamma,
    "colour_filter": colour_filter,
    "blur": blur,
    "noise": noise,
    "blur_noise_jpeg": blur_noise_jpeg,
    "border": border,
    "screenshot": screenshot,
    "screen_reshoot": screen_reshoot,
    "mirror_half_q60": combo_mirror_half_q60,
    "combo": combo_random,
}

_CHAINABLE = (
    "jpeg",
    "downscale",
    "crop",
    "mirror",
    "rotate",
    "brightness_contrast",
    "gamma",
    "colour_filter",
    "noise",
    "border",
)


def attack_names() -> list[str]:
    return list(ATTACKS)


def apply_attack(name: str, image: ImageArray, seed: int, face: BBox | None = None) -> ImageArray:
    """The attack ``name`` on ``image`` with parameters drawn from ``seed`` (reproducible).
    ``face`` (the main face's box in ``image``) keeps crops around the face and scales
    the blur to the face."""
    from ..errors import InvalidArgument

    if name not in ATTACKS:
        raise InvalidArgument(f"unknown attack {name!r}; known: {', '.join(ATTACKS)}")
    rng = np.random.default_rng(seed)
    return ATTACKS[name](np.ascontiguousarray(image, dtype=np.uint8), rng, face)
