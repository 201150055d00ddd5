"""HEIC/HEIF and AVIF, the formats phones send (issue 15): decoded by the one loader behind
the same byte and pixel caps, rotation applied. The files are made at test time from the
licensed test photos (HEIC with pillow-heif's encoder, AVIF with Pillow's)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from faceproof import errors
from faceproof.runtime.io import ImageLimits, decodable_formats, decode_image, load_image

PORTRAIT = "pytopenface/obama1.jpg"
OTHER = "pytopenface/obama2.jpg"
ORIENTATION = 0x0112
FORMATS = ("HEIF", "AVIF")


def phone_file(rgb: Image.Image, fmt: str, orientation: int = 1) -> bytes:
    """``rgb`` stored as HEIC or AVIF; with ``orientation`` 8 the pixels are stored turned
    90 degrees and the file says how to turn them back (as a phone held sideways does)."""
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    # orientation 8: turn the stored pixels 90 degrees counter-clockwise to show them
    stored = rgb.transpose(Image.Transpose.ROTATE_270) if orientation == 8 else rgb
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    buf = io.BytesIO()
    stored.save(buf, fmt, quality=90, exif=exif.tobytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def upright(photos) -> Image.Image:
    return Image.open(photos / PORTRAIT).convert("RGB")


def test_this_installation_decodes_heic_and_avif():
    assert {"HEIF", "AVIF"} <= set(decodable_formats())


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("orientation", [1, 8])
def test_phone_formats_decode_upright(upright, fmt, orientation):
    data = phone_file(upright, fmt, orientation)
    assert data[4:8] == b"ftyp"
    rgb = decode_image(data)
    expected = np.asarray(upright)
    assert rgb.shape == expected.shape and rgb.dtype == np.uint8
    # lossy, but the same picture the right way up (a 90-degree turn or a mirror would differ by far more)
    assert np.abs(rgb.astype(np.int16) - expected).mean() < 6.0
    named_jpg = load_image(io.BytesIO(data))  # the format comes from the bytes, whatever the name
    assert np.array_equal(named_jpg, rgb)


@pytest.mark.parametrize("fmt", FORMATS)
def test_phone_formats_obey_the_byte_and_pixel_caps(upright, fmt):
    data = phone_file(upright.resize((480, 600)), fmt)
    with pytest.raises(errors.ImageTooLarge):
        decode_image(data, limits=ImageLimits(max_bytes=len(data) - 1))
    with pytest.raises(errors.ImageTooLarge) as info:
        decode_image(data, limits=ImageLimits(max_pixels=480 * 600 - 1))
    assert info.value.detail["width"] == 480 and info.value.detail["height"] == 600
    assert decode_image(data, limits=ImageLimits(max_pixels=480 * 600)).shape == (600, 480, 3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_truncated_phone_file_is_unreadable_not_unsupported(upright, fmt):
    data = phone_file(upright.resize((240, 300)), fmt)
    with pytest.raises(errors.ImageDecodeError):
        decode_image(data[: len(data) // 2])


def test_a_heic_selfie_matches_its_person(fp, photos, upright):
    heic = phone_file(upright, "HEIF", orientation=8)
    avif = phone_file(Image.open(photos / OTHER).convert("RGB"), "AVIF", orientation=8)
    result = fp.verify(heic, avif)
    assert result.error is None and result.verdict is True
