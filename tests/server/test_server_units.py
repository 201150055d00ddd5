"""Logic of the service's parts, without models: strict parsing, settings, the inference
pool's admission and hand-over rules, API keys and the rate limiter."""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import time

import pytest

from faceproof import errors
from faceproof.server.errors import RateLimited, Unauthorized, retry_after_of
from faceproof.server.parsing import decode_data_uri, parse_bool, parse_float, parse_image_ref, parse_int
from faceproof.server.pool import InferencePool
from faceproof.server.security import KeyRing, RateLimiter
from faceproof.server.settings import ServiceSettings

# ------------------------------------------------------------------ strict values


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("TRUE", True), (" 1 ", True), ("false", False), ("0", False)],
)
def test_booleans(value, expected):
    assert parse_bool("x", value) is expected


@pytest.mark.parametrize("value", ["yes", "no", "", "2", "falsy", 1, 0, None, 0.0, [], "f"])
def test_anything_else_is_not_a_boolean(value):
    with pytest.raises(errors.InvalidArgument):
        parse_bool("x", value)


@pytest.mark.parametrize(("value", "expected"), [("0.5", 0.5), ("1e-1", 0.1), (".25", 0.25), (3, 3.0), ("0", 0.0)])
def test_numbers(value, expected):
    assert parse_float("t", value) == expected


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "0x10", "1_000", " ", "1,5", True, None, "½"])
def test_not_finite_plain_numbers_are_refused(value):
    with pytest.raises(errors.InvalidArgument):
        parse_float("t", value)


def test_integers_and_ranges():
    assert parse_int("n", "224", minimum=16, maximum=512) == 224
    for bad in ("22.0", "1e3", True, 2.0):
        with pytest.raises(errors.InvalidArgument):
            parse_int("n", bad)
    with pytest.raises(errors.InvalidArgument):
        parse_int("n", "8", minimum=16)
    with pytest.raises(errors.InvalidArgument):
        parse_float("p", "1.5", maximum=1.0)


def test_data_uris_are_decoded_strictly():
    payload = base64.b64encode(b"\xff\xd8\xff\xe0 some bytes").decode()
    assert (
        decode_data_uri(f"data:image/jpeg;base64,{payload}", role="origin", max_bytes=100)
        == b"\xff\xd8\xff\xe0 some bytes"
    )
    assert decode_data_uri(f"data:;base64,{payload}", role="origin", max_bytes=100).startswith(b"\xff\xd8")
    assert decode_data_uri(f"data:image/png;name=a.png;base64,{payload}", role="origin", max_bytes=100)
    for bad in (
        f"data:image/jpeg,{payload}",
        f"data:image/jpeg;base64;{payload}",
        f"data:image/jpeg;base64,{payload[:-1]}",
    ):
        with pytest.raises(errors.ImageDecodeError) as info:
            decode_data_uri(bad, role="target", max_bytes=100)
        assert info.value.role == "target"
    with pytest.raises(errors.ImageTooLarge):
        decode_data_uri(f"data:image/jpeg;base64,{payload}", role="origin", max_bytes=10)
    with pytest.raises(errors.EmptyImage):
        decode_data_uri("data:image/jpeg;base64,", role="origin", max_bytes=10)


def test_image_refs_are_data_uris_or_urls_never_paths():
    assert parse_image_ref("https://x.example/a.jpg", role="origin", max_bytes=10).kind == "url"
    assert parse_image_ref("  HTTP://x.example/a.jpg", role="origin", max_bytes=10).kind == "url"
    for bad in ("/etc/passwd", "a.jpg", "file:///etc/passwd", "ftp://x/a.jpg", "C:\\a.jpg", ""):
        with pytest.raises(errors.InvalidArgument):
            parse_image_ref(bad, role="origin", max_bytes=10)


# ------------------------------------------------------------------ settings


def test_settings_from_environment_are_strict():
    env = {
        "FACEPROOF_URL_FETCH": "false",
        "FACEPROOF_DOCS": "0",
        "FACEPROOF_MAX_QUEUE": "4",
        "FACEPROOF_ATTRIBUTES": "",
        "FACEPROOF_MODELS": "SFace, dlib",
        "FACEPROOF_REQUEST_TIMEOUT": "2.5",
        "FACEPROOF_TESTDATA": "/somewhere",  # not a service setting: ignored
    }
    s = ServiceSettings.from_env(env)
    assert s.url_fetch is False and s.docs is False and s.max_queue == 4 and s.attributes == ()
    assert s.models == ("sface", "dlib") and s.request_timeout == 2.5
    assert ServiceSettings.from_env({"FACEPROOF_URL_FETCH": "TRUE"}).url_fetch is True
    assert ServiceSettings.from_env({"FACEPROOF_FLIP": "false"}).flip is False
    assert ServiceSettings.from_env({"FACEPROOF_FLIP": ""}).flip is None  # the library's default
    for key, value in (
        ("FACEPROOF_URL_FETCH", "no"),
        ("FACEPROOF_MAX_QUEUE", "4.5"),
        ("FACEPROOF_MAX_QUEUE", "-1"),
        ("FACEPROOF_REQUEST_TIMEOUT", "nan"),
        ("FACEPROOF_LANG", "fr"),
        ("FACEPROOF_CORS_ORIGINS", "*"),
        ("FACEPROOF_API_KEYS", "short"),
        ("FACEPROOF_MAX_IMAGE_BYTES", str(64 * 1024 * 1024)),  # above the body cap
        ("FACEPROOF_INDEX_SEARCH", "fast"),
        ("FACEPROOF_INDEX_SEARCH", "hnsw"),  # without a PostgreSQL store
    ):
        with pytest.raises(errors.InvalidArgument):
            ServiceSettings.from_env({key: value})
    pg = {"FACEPROOF_STORE_URL": "postgresql://u@db/x", "FACEPROOF_INDEX_SEARCH": "HNSW"}
    assert ServiceSettings.from_env(pg).index_search == "hnsw" and ServiceSettings().index_search == "exact"


def test_flags_override_the_environment_and_settings_round_trip(tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("# service keys\nabcdefghijklmnop1\n\nabcdefghijklmnop2\n", encoding="utf-8")
    s = ServiceSettings.from_env(
        {"FACEPROOF_PORT": "9000", "FACEPROOF_API_KEYS_FILE": str(keys)}, port=9100, threads=None
    )
    assert s.port == 9100 and s.threads == 0 and s.api_keys == ("abcdefghijklmnop1", "abcdefghijklmnop2")
    assert "abcdefghijklmnop" not in repr(s) and "api_keys" not in s.public()
    assert ServiceSettings.from_env(s.to_env()) == s
    both = ServiceSettings.from_env({"FACEPROOF_API_KEYS": "abcdefghijklmnop0", "FACEPROOF_API_KEYS_FILE": str(keys)})
    assert both.api_keys == ("abcdefghijklmnop0", "abcdefghijklmnop1", "abcdefghijklmnop2")
    with pytest.raises(errors.InvalidArgument):
        ServiceSettings.from_env({"FACEPROOF_API_KEYS_FILE": str(tmp_path / "missing.txt")})


def test_default_slots_follow_the_cores():
    from faceproof.server.settings import available_cores

    assert ServiceSettings().slots == available_cores()
    assert ServiceSettings(workers=available_cores() * 2).slots == 1
    assert ServiceSettings(threads=3).slots == 3
    assert ServiceSettings(threads=1).opencv_threads is None and ServiceSettings(threads=2).opencv_threads == 1


@pytest.mark.parametrize(
    ("cores", "workers", "threads", "slots"),
    [(1, 1, 0, 1), (2, 1, 0, 2), (2, 2, 0, 1), (4, 1, 0, 4), (4, 2, 0, 2), (4, 3, 0, 1), (4, 8, 0, 1), (4, 2, 3, 3)],
)
def test_slots_are_cores_divided_by_processes_at_least_one(monkeypatch, cores, workers, threads, slots):
    """The rule of docs/service.md (``--threads``: "cores / processes"), on a pretended
    machine: the cores are the process's CPU affinity mask."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert ServiceSettings(workers=workers, threads=threads).slots == slots


# ------------------------------------------------------------------ the pool


def _run(coro):
    return asyncio.run(coro)


def test_pool_refuses_past_its_queue_and_hands_workers_over_in_order():
    async def scenario():
        pool = InferencePool(["w0"], max_queue=2)
        gate = threading.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        order: list[str] = []

        def job(tag):
            def fn(worker):
                gate.wait(5)
                order.append(tag)
                return f"{tag}@{worker}"

            return fn

        tasks = [asyncio.create_task(pool.run(job(t), deadline=deadline)) for t in ("a", "b", "c")]
        await asyncio.sleep(0.05)
        assert pool.busy == 1 and pool.queued == 2
        with pytest.raises(errors.Overloaded) as info:
            await pool.run(job("d"), deadline=deadline)
        assert retry_after_of(info.value) >= 1
        gate.set()
        results = await asyncio.gather(*tasks)
        assert [r for r, _ in results] == ["a@w0", "b@w0", "c@w0"] and order == ["a", "b", "c"]
        assert pool.busy == 0 and pool.queued == 0 and pool.rejected == 1 and pool.completed == 3
        pool.shutdown()

    _run(scenario())


def test_pool_deadline_in_the_queue_and_during_the_run():
    async def scenario():
        pool = InferencePool(["w0"], max_queue=1)
        gate = threading.Event()
        loop = asyncio.get_running_loop()
        slow = asyncio.create_task(pool.run(lambda w: gate.wait(5), deadline=loop.time() + 0.2))
        await asyncio.sleep(0.02)
        with pytest.raises(errors.Overloaded, match="became free"):
            await pool.run(lambda w: "never", deadline=loop.time() + 0.05)
        with pytest.raises(errors.Overloaded, match="did not finish"):
            await slow
        # the timed-out computation still holds its worker until it really ends
        assert pool.busy == 1
        gate.set()
        for _ in range(100):
            if pool.busy == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.busy == 0 and pool.queued == 0
        result, _ = await pool.run(lambda w: w, deadline=loop.time() + 1)
        assert result == "w0"
        pool.shutdown()

    _run(scenario())


def test_pool_errors_release_the_worker_and_parallel_workers_overlap():
    async def scenario():
        pool = InferencePool(["w0", "w1"], max_queue=0)
        loop = asyncio.get_running_loop()

        def fail(worker):
            raise errors.NoFaceError("none")

        with pytest.raises(errors.NoFaceError):
            await pool.run(fail, deadline=loop.time() + 1)
        assert pool.busy == 0

        def sleepy(worker):
            time.sleep(0.3)
            return worker

        start = time.perf_counter()
        done = await asyncio.gather(*(pool.run(sleepy, deadline=loop.time() + 5) for _ in range(2)))
        assert sorted(w for w, _ in done) == ["w0", "w1"]
        assert time.perf_counter() - start < 0.55  # both ran at once
        pool.shutdown()

    _run(scenario())


# ------------------------------------------------------------------ keys and rate limit


def test_key_ring():
    ring = KeyRing(["0123456789abcdef-one", "0123456789abcdef-two"])
    assert ring.enabled and len(ring.check("0123456789abcdef-two")) == 8
    for bad in (None, "", "0123456789abcdef-three"):
        with pytest.raises(Unauthorized):
            ring.check(bad)
    assert not KeyRing([]).enabled


def test_rate_limiter_buckets_refill_and_stay_bounded():
    limiter = RateLimiter(per_minute=60, burst=2, max_keys=3)
    limiter.take("a", now=0.0)
    limiter.take("a", now=0.0)
    with pytest.raises(RateLimited) as info:
        limiter.take("a", now=0.5)
    assert retry_after_of(info.value) == 1
    limiter.take("a", now=1.6)  # one token back after a second
    limiter.take("b", now=0.0)  # other keys have their own bucket
    for key in ("c", "d", "e"):
        limiter.take(key, now=2.0)
    assert len(limiter._buckets) == 3
    RateLimiter(per_minute=0, burst=0).take("x")  # off: never raises


def test_flip_is_passed_only_when_set():
    from faceproof import FaceProof
    from faceproof.server.workers import build_worker

    library_default = FaceProof(attributes=()).recognizer.flip
    assert build_worker(0, ServiceSettings(attributes=())).default.recognizer.flip is library_default
    for value in (True, False):
        assert build_worker(0, ServiceSettings(attributes=(), flip=value)).default.recognizer.flip is value


def test_precision_setting_reaches_the_sface_recognizer_only():
    from faceproof.server.workers import build_worker

    assert ServiceSettings.from_env({}).precision == "f32"
    assert ServiceSettings.from_env({"FACEPROOF_PRECISION": "BF16"}).precision == "bf16"
    with pytest.raises(errors.InvalidArgument, match="FACEPROOF_PRECISION"):
        ServiceSettings.from_env({"FACEPROOF_PRECISION": "f16"})
    worker = build_worker(0, ServiceSettings(attributes=(), models=("sface", "dlib"), precision="bf16"))
    assert worker.default.recognizer.precision == "bf16"
    # the dlib recognizer has one arithmetic: the setting does not reach it
    assert worker.clients["dlib"].pipeline.config.precision == "f32"
