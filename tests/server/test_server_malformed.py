"""A corpus of malformed and hostile inputs sent to ``POST /v1/verify``: each gets the right
4xx with the error envelope (and the seed's result code when an image is at fault), and
the service stays healthy and correct afterwards."""

from __future__ import annotations

import base64
import gzip
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

from .server_helpers import NO_FACE, OBAMA_1, OBAMA_2, assert_envelope, data_uri, encode

Request = dict[str, Any]


@pytest.fixture(scope="module")
def portrait(photos) -> Image.Image:
    return Image.open(photos / OBAMA_2).convert("RGB")


@pytest.fixture(scope="module")
def good(photos) -> bytes:
    return (photos / OBAMA_1).read_bytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def real_huge_png() -> bytes:
    """A complete, valid 20,000 x 20,000 1-bit PNG (400 megapixels, ~100 kB compressed)."""
    row = b"\x00" + b"\x00" * (20_000 // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(20_000)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def patched_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0/SOF2) claiming another size."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = jpeg.find(marker)
        if at > 0:
            return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]
    raise AssertionError("no SOF marker")


def patched_bmp_size(bmp: bytes, width: int, height: int) -> bytes:
    return bmp[:18] + struct.pack("<ii", width, height) + bmp[26:]


def patched_gif_size(gif: bytes, width: int, height: int) -> bytes:
    return gif[:6] + struct.pack("<HH", width, height) + gif[10:]


def animated_noise_gif() -> bytes:
    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)) for _ in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("face.jpg", b"not really")
    return buf.getvalue()


def multipart(parts: list[tuple[str, bytes]], boundary: str = "faceproofBoundary") -> bytes:
    out = b""
    for name, data in parts:
        out += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


# Each case builds the request from (good jpeg bytes, portrait image) and names the
# expected status, error code and seed result code (None when no image is at fault).
Case = tuple[str, Callable[[bytes, Image.Image], Request], int, str, int | None]


def origin_upload(make: Callable[[bytes, Image.Image], bytes]) -> Callable[[bytes, Image.Image], Request]:
    return lambda good, im: {"files": {"origin": ("o.jpg", make(good, im)), "target": ("t.jpg", good)}}


def target_upload(make: Callable[[bytes, Image.Image], bytes]) -> Callable[[bytes, Image.Image], Request]:
    return lambda good, im: {"files": {"origin": ("o.jpg", good), "target": ("t.jpg", make(good, im))}}


def json_body(origin: Callable[[bytes], Any]) -> Callable[[bytes, Image.Image], Request]:
    return lambda good, im: {"json": {"origin": origin(good), "target": data_uri(good)}}


def raw(body: bytes, content_type: str | None) -> Callable[[bytes, Image.Image], Request]:
    headers = {"Content-Type": content_type} if content_type else {}
    return lambda good, im: {"content": body, "headers": headers}


def raw_built(build: Callable[[bytes], bytes], content_type: str) -> Callable[[bytes, Image.Image], Request]:
    return lambda good, im: {"content": build(good), "headers": {"Content-Type": content_type}}


MP = "multipart/form-data; boundary=faceproofBoundary"

CASES: list[Case] = [
    # --- broken or fake image bytes
    ("zero bytes", origin_upload(lambda g, im: b""), 422, "image_empty", -22),
    ("truncated JPEG", origin_upload(lambda g, im: g[: len(g) // 2]), 422, "image_unreadable", -22),
    ("JPEG header only", origin_upload(lambda g, im: g[:300]), 422, "image_unreadable", -22),
    ("wrong magic", origin_upload(lambda g, im: b"\x00\x00\x00\x00" + g[4:]), 422, "image_unreadable", -22),
    ("PNG magic on JPEG data", origin_upload(lambda g, im: b"\x89PNG\r\n\x1a\n" + g[8:]), 422, "image_unreadable", -22),
    ("random bytes", origin_upload(lambda g, im: np.random.default_rng(1).bytes(20_000)), 422, "image_unreadable", -22),
    ("plain text", origin_upload(lambda g, im: b"this is not an image\n" * 20), 422, "image_unreadable", -22),
    ("truncated PNG", origin_upload(lambda g, im: encode(im, "PNG")[:5000]), 422, "image_unreadable", -22),
    ("truncated WebP", origin_upload(lambda g, im: encode(im, "WEBP")[:3000]), 422, "image_unreadable", -22),
    ("truncated target", target_upload(lambda g, im: g[: len(g) // 3]), 422, "image_unreadable", -21),
    # --- recognisable but unsupported types
    (
        "SVG",
        origin_upload(lambda g, im: b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="9"/></svg>'),
        415,
        "unsupported_image_type",
        -22,
    ),
    (
        "SVG with XML prolog",
        origin_upload(lambda g, im: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'),
        415,
        "unsupported_image_type",
        -22,
    ),
    (
        "PDF",
        origin_upload(lambda g, im: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
        415,
        "unsupported_image_type",
        -22,
    ),
    (
        "HTML",
        origin_upload(lambda g, im: b"<!DOCTYPE html><html><body>hi</body></html>"),
        415,
        "unsupported_image_type",
        -22,
    ),
    ("TIFF", origin_upload(lambda g, im: encode(im, "TIFF")), 415, "unsupported_image_type", -22),
    ("ICO", origin_upload(lambda g, im: encode(im.resize((64, 64)), "ICO")), 415, "unsupported_image_type", -22),
    ("ZIP", origin_upload(lambda g, im: zip_bytes()), 415, "unsupported_image_type", -22),
    ("GZIP of a JPEG", origin_upload(lambda g, im: gzip.compress(g)), 415, "unsupported_image_type", -22),
    # HEIC and AVIF are decoded since issue 15: a header without an image is corrupt (422), not 415
    (
        "HEIC header only",
        origin_upload(lambda g, im: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64),
        422,
        "image_unreadable",
        -22,
    ),
    (
        "AVIF header only",
        origin_upload(lambda g, im: b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1" + b"\x00" * 64),
        422,
        "image_unreadable",
        -22,
    ),
    ("PSD", origin_upload(lambda g, im: b"8BPS\x00\x01" + b"\x00" * 64), 415, "unsupported_image_type", -22),
    # --- sizes: bombs and giant images, refused before decoding
    ("decompression bomb PNG", origin_upload(lambda g, im: bomb_png(60_000, 60_000)), 413, "image_too_large", -22),
    ("20000x20000 PNG", origin_upload(lambda g, im: real_huge_png()), 413, "image_too_large", -22),
    (
        "JPEG claiming 20000x20000",
        origin_upload(lambda g, im: patched_jpeg_size(g, 20_000, 20_000)),
        413,
        "image_too_large",
        -22,
    ),
    (
        "BMP claiming 20000x20000",
        origin_upload(lambda g, im: patched_bmp_size(encode(im.resize((8, 8)), "BMP"), 20_000, 20_000)),
        413,
        "image_too_large",
        -22,
    ),
    (
        "GIF claiming 20000x20000",
        origin_upload(lambda g, im: patched_gif_size(encode(im.resize((8, 8)), "GIF"), 20_000, 20_000)),
        413,
        "image_too_large",
        -22,
    ),
    # --- readable images without a face
    ("animated GIF of noise", origin_upload(lambda g, im: animated_noise_gif()), 422, "no_face", -2),
    ("1x1 PNG", origin_upload(lambda g, im: encode(Image.new("RGB", (1, 1)), "PNG")), 422, "no_face", -2),
    ("blank target", target_upload(lambda g, im: encode(Image.new("L", (640, 480), 128), "PNG")), 422, "no_face", -1),
    # --- base64 and data URIs in JSON
    (
        "huge base64 (over the body cap)",
        json_body(lambda g: "data:image/jpeg;base64," + "A" * (31 * 1024 * 1024)),
        413,
        "request_too_large",
        None,
    ),
    (
        "base64 over the image cap",
        json_body(lambda g: "data:image/jpeg;base64," + "A" * (14 * 1024 * 1024)),
        413,
        "image_too_large",
        -22,
    ),
    (
        "base64 with invalid characters",
        json_body(lambda g: "data:image/jpeg;base64,@@@@" + base64.b64encode(g).decode()),
        422,
        "image_unreadable",
        -22,
    ),
    (
        "base64 without its padding",
        json_body(lambda g: data_uri(g[: len(g) - len(g) % 3 - 1]).rstrip("=")),
        422,
        "image_unreadable",
        -22,
    ),
    (
        "base64 with padding inside",
        json_body(lambda g: "data:image/jpeg;base64,/9j=" + base64.b64encode(g[:300]).decode()),
        422,
        "image_unreadable",
        -22,
    ),
    (
        "base64 with line breaks",
        json_body(lambda g: "data:image/jpeg;base64," + base64.encodebytes(g).decode()),
        422,
        "image_unreadable",
        -22,
    ),
    (
        "URL-safe base64 alphabet",
        json_body(lambda g: "data:image/jpeg;base64," + base64.urlsafe_b64encode(g).decode().replace("=", "") + "-_=="),
        422,
        "image_unreadable",
        -22,
    ),
    ("data URI without base64", json_body(lambda g: "data:image/jpeg,%FF%D8%FF"), 422, "image_unreadable", -22),
    ("empty data URI", json_body(lambda g: "data:image/jpeg;base64,"), 422, "image_empty", -22),
    (
        "base64 of an SVG",
        json_body(lambda g: data_uri(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")),
        415,
        "unsupported_image_type",
        -22,
    ),
    ("a file path", json_body(lambda g: "/etc/passwd"), 400, "invalid_argument", None),
    ("a file: URL", json_body(lambda g: "file:///etc/passwd"), 400, "invalid_argument", None),
    (
        "raw base64 without data: prefix",
        json_body(lambda g: base64.b64encode(g).decode()),
        400,
        "invalid_argument",
        None,
    ),
    ("a number as image", json_body(lambda g: 12345), 400, "invalid_argument", None),
    # --- broken JSON
    ("JSON syntax error", raw(b'{"origin": "data:', "application/json"), 400, "malformed_request", None),
    ("JSON array", raw(b"[1, 2, 3]", "application/json"), 400, "malformed_request", None),
    (
        "JSON NaN",
        raw(b'{"origin": "a", "target": "b", "threshold": NaN}', "application/json"),
        400,
        "malformed_request",
        None,
    ),
    ("JSON nested 100k deep", raw(b"[" * 100_000, "application/json"), 400, "malformed_request", None),
    ("JSON empty body", raw(b"", "application/json"), 400, "malformed_request", None),
    ("JSON not UTF-8", raw(b'{"origin": "\xff\xfe"}', "application/json"), 400, "malformed_request", None),
    (
        "JSON unknown field",
        raw(b'{"origin": "data:,", "target": "data:,", "img_path": "/etc"}', "application/json"),
        400,
        "invalid_argument",
        None,
    ),
    ("JSON missing target", json_body(lambda g: data_uri(g)), 200, "", None),  # replaced below
    # --- broken multipart
    (
        "multipart wrong boundary",
        raw_built(lambda g: multipart([("origin", g), ("target", g)], "other"), MP),
        400,
        "malformed_request",
        None,
    ),
    (
        "multipart truncated",
        raw_built(lambda g: multipart([("origin", g), ("target", g)])[:-30], MP),
        400,
        "malformed_request",
        None,
    ),
    (
        "multipart without boundary",
        raw_built(lambda g: multipart([("origin", g), ("target", g)]), "multipart/form-data"),
        400,
        "malformed_request",
        None,
    ),
    (
        "multipart part without name",
        raw_built(
            lambda g: b"--faceproofBoundary\r\nContent-Type: image/jpeg\r\n\r\n" + g + b"\r\n--faceproofBoundary--\r\n",
            MP,
        ),
        400,
        "malformed_request",
        None,
    ),
    ("multipart missing target", raw_built(lambda g: multipart([("origin", g)]), MP), 400, "invalid_argument", None),
    (
        "multipart duplicate origin",
        raw_built(lambda g: multipart([("origin", g), ("origin", g), ("target", g)]), MP),
        400,
        "invalid_argument",
        None,
    ),
    (
        "multipart unknown field",
        raw_built(lambda g: multipart([("origin", g), ("target", g), ("img_path", b"/etc/passwd")]), MP),
        400,
        "invalid_argument",
        None,
    ),
    (
        "multipart huge option field",
        raw_built(lambda g: multipart([("origin", g), ("target", g), ("threshold", b"1" * 5000)]), MP),
        400,
        "invalid_argument",
        None,
    ),
    ("multipart empty body", raw(b"", MP), 400, "malformed_request", None),
    # --- wrong media types
    ("text/plain body", raw(b"origin=a&target=b", "text/plain"), 415, "unsupported_media_type", None),
    (
        "form-urlencoded body",
        raw(b"origin=a&target=b", "application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
        None,
    ),
    ("no content type", raw(b"\xff\xd8\xff", None), 415, "unsupported_media_type", None),
]
# a JSON body with only the origin: the missing image is named
CASES[CASES.index(next(c for c in CASES if c[0] == "JSON missing target"))] = (
    "JSON missing target",
    lambda good, im: {"json": {"origin": data_uri(good)}},
    400,
    "invalid_argument",
    None,
)


def test_the_corpus_is_large_and_names_are_unique():
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)) and len(names) >= 30


@pytest.mark.parametrize(("name", "build", "status", "code", "seed"), CASES, ids=[c[0] for c in CASES])
def test_malformed_input_gets_the_right_4xx(api, good, portrait, name, build, status, code, seed):
    request = build(good, portrait)
    response = api.post("/v1/verify", **request)
    body = assert_envelope(response, status, code)
    if seed is None:
        assert "result_code" not in body, body
    else:
        assert body["result_code"] == seed, body
    assert api.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("CMYK JPEG", lambda im: encode(im.convert("CMYK"), "JPEG", quality=92)),
        (
            "16-bit grayscale PNG",
            lambda im: encode(Image.fromarray(np.asarray(im.convert("L"), np.uint16) * 257), "PNG"),
        ),
        ("palette PNG with transparency", lambda im: encode(im.convert("P"), "PNG", transparency=0)),
        ("progressive JPEG", lambda im: encode(im, "JPEG", quality=85, progressive=True)),
        ("animated GIF with the face first", lambda im: _animated_with_face(im)),
    ],
)
def test_odd_but_valid_images_are_verified(api, good, portrait, name, make):
    """Not every odd file is malformed: these are real photos and must verify (200)."""
    response = api.post("/v1/verify", files={"origin": ("o", make(portrait)), "target": ("t", good)})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["result_code"] == 2


def _animated_with_face(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "GIF", save_all=True, append_images=[Image.new("RGB", im.size, (0, 0, 0))], duration=100)
    return buf.getvalue()


def test_service_is_healthy_and_correct_after_the_corpus(api, good, photos):
    # runs after the corpus in file order: nothing is stuck and answers are still right
    pool = api.get("/readyz").json()["pool"]
    assert pool["busy"] == 0 and pool["queued"] == 0
    same = api.post("/v1/verify", files={"origin": ("o", good), "target": ("t", (photos / OBAMA_2).read_bytes())})
    assert same.status_code == 200 and same.json()["result_code"] == 2
    cat = api.post("/v1/verify", files={"origin": ("o", good), "target": ("t", (photos / NO_FACE).read_bytes())})
    assert cat.status_code == 422 and cat.json()["result_code"] == -1
    json.dumps(api.get("/v1/models").json())  # still serialisable, still served
