"""A small LFW check: accuracy at the default threshold on LFW View 1 dev-test pairs.

Our own detection on the unaligned 150x150 images; the face nearest the image centre is
the subject (LFW's convention). Measured with the default configuration: 98.8 %
(987/999 pairs; reproduce with this test, -s prints it). The floor, 98.0 %, is the
measurement minus about two binomial standard errors (sqrt(0.012*0.988/999) = 0.34 %),
rounded down: a real regression fails, run-to-run noise (there is none: the pipeline is
deterministic) or a platform's float differences do not.
"""

from __future__ import annotations

import csv

import pytest

from faceproof.embed import embed_faces

FLOOR = 0.980


@pytest.mark.slow
def test_lfw_dev_test_accuracy_at_the_default_threshold(fp, lfw):
    with (lfw / "pairs_dev_test.csv").open(encoding="utf-8") as fh:
        pairs = [(r["path1"], r["path2"], r["same"] == "1") for r in csv.DictReader(fh)]
    assert len(pairs) == 999
    embeddings = {}
    for path in sorted({p for a, b, _ in pairs for p in (a, b)}):
        image = fp.load_image(lfw / path)
        faces = fp.detect(image)
        if not faces:
            continue
        h, w = image.shape[:2]
        subject = min(faces, key=lambda f: (f.bbox.center[0] - w / 2) ** 2 + (f.bbox.center[1] - h / 2) ** 2)
        (subject,) = embed_faces(fp.recognizer, image, [subject])
        embeddings[path] = subject.embedding
    threshold = fp.default_threshold.value
    correct = no_face = 0
    for a, b, same in pairs:
        if a not in embeddings or b not in embeddings:
            no_face += 1
            predicted = False  # a pair we cannot compare is a rejection
        else:
            predicted = 1.0 - float(embeddings[a] @ embeddings[b]) <= threshold
        correct += predicted == same
    accuracy = correct / len(pairs)
    print(f"\nLFW dev-test: accuracy {accuracy:.4f} ({correct}/{len(pairs)}) at cosine threshold {threshold}")
    print(f"pairs with a face missing (scored as rejections): {no_face}")
    assert accuracy >= FLOOR
