"""faceproof batch: manifests, the output directory's resume rules, the local engine on the
real model (LFW View 1 pairs and the licensed photos), bad rows with their typed error
codes, both output formats, the CLI, and a job killed with SIGKILL and started again."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceproof import PipelineConfig
from faceproof.batch import JobDir, Operation, read_manifest, read_results, run
from faceproof.cli.main import cli
from faceproof.errors import InvalidArgument

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

REPO = Path(__file__).resolve().parents[1]
#: no attribute model, so the workers load only what verify / check-profile need
CONFIG = PipelineConfig(attributes=())


def lfw_pairs(lfw: Path, same: int, different: int) -> list[tuple[str, str, int]]:
    with (lfw / "pairs_dev_test.csv").open(encoding="utf-8") as fh:
        rows = [(r["path1"], r["path2"], int(r["same"])) for r in csv.DictReader(fh)]
    pos = [r for r in rows if r[2] == 1][:same]
    neg = [r for r in rows if r[2] == 0][:different]
    return [(str(lfw / a), str(lfw / b), s) for a, b, s in pos + neg]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


# ----------------------------------------------------------------------------- manifests


def test_manifest_csv_and_parquet(tmp_path):
    (tmp_path / "img").mkdir()
    csv_path = write_csv(
        tmp_path / "m.csv",
        ["id", "selfie", "photos"],
        [["a", "img/s.jpg", "img/p1.jpg|https://example.com/p2.jpg"], ["", "/abs/s.jpg", ""]],
    )
    tasks = read_manifest(csv_path, "check-profile")
    assert tasks[0] == {
        "row": 0,
        "id": "a",
        "selfie": str(tmp_path / "img/s.jpg"),
        "photos": [str(tmp_path / "img/p1.jpg"), "https://example.com/p2.jpg"],
    }
    assert tasks[1]["id"] is None and tasks[1]["selfie"] == "/abs/s.jpg" and tasks[1]["photos"] == []
    table = pa.table({"member_id": ["m1"], "photos": [["x.jpg", "y.jpg"]], "photo_ids": [["p-x", "p-y"]]})
    pq.write_table(table, tmp_path / "m.parquet")
    (task,) = read_manifest(tmp_path / "m.parquet", "enroll", root="/data")
    assert task["photos"] == ["/data/x.jpg", "/data/y.jpg"] and task["photo_ids"] == ["p-x", "p-y"]
    assert "status" not in task  # an optional column that is absent
    with pytest.raises(InvalidArgument, match="needs a column 'target' or 'profile' or 'path2'"):
        read_manifest(csv_path, "verify")
    with pytest.raises(InvalidArgument, match="unknown batch operation"):
        Operation.parse("frobnicate")


# ----------------------------------------------------------------------------- output directory


def rec(row: int) -> dict[str, object]:
    return {"row": row, "operation": "verify", "ok": True, "verdict": "same_person", "reasons": [], "timings_ms": {}}


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_jobdir_reconciles_after_a_kill(tmp_path, fmt):
    job = {"operation": "verify", "manifest_sha256": "x", "rows": 10}
    out = JobDir(tmp_path, fmt)
    out.open(job)
    out.write_part([rec(0), rec(1)])
    out.write_part([rec(2), rec(3)])
    # killed between the rename and the record: the committed part must be adopted
    lines = out.log.read_text().splitlines()
    out.log.write_text(lines[0] + "\n" + lines[1][:17])  # and the record's last line torn
    (out.parts / f".part-000009.{fmt}.tmp").write_text("half a part")  # killed while writing
    again = JobDir(tmp_path, fmt)
    again.open(job)
    assert sorted(again.done) == [0, 1, 2, 3]
    assert not list(out.parts.glob(".*.tmp"))
    assert len(again.log.read_text().splitlines()) == 2
    assert again.write_part([rec(4)]).startswith("part-000002")
    with pytest.raises(RuntimeError, match="twice"):
        again.write_part([rec(4)])
    # a record whose file is gone is dropped: its rows are done again
    (again.parts / f"part-000000.{fmt}").unlink()
    third = JobDir(tmp_path, fmt)
    third.open(job)
    assert sorted(third.done) == [2, 3, 4]
    with pytest.raises(InvalidArgument, match="holds another job"):
        JobDir(tmp_path, fmt).open({**job, "operation": "analyze"})


# ----------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def verify_manifest(tmp_path_factory, lfw, photos) -> tuple[Path, list[int | None]]:
    """LFW View 1 dev-test pairs (3 same, 3 different) and four bad rows."""
    pairs = lfw_pairs(lfw, 3, 3)
    rows: list[list[object]] = [[f"pair-{i}", a, b] for i, (a, b, _) in enumerate(pairs)]
    rows += [
        ["missing", str(photos / "nope.jpg"), pairs[0][1]],
        ["not-an-image", str(photos / "manifest.csv"), pairs[0][1]],
        ["no-face", pairs[0][0], str(photos / "skimage/chelsea.png")],
        ["empty", "", pairs[0][1]],
    ]
    path = write_csv(tmp_path_factory.mktemp("verify") / "pairs.csv", ["id", "path1", "path2"], rows)
    return path, [s for _, _, s in pairs] + [None] * 4


def test_verify_local_pool_real_model(verify_manifest, tmp_path):
    manifest, labels = verify_manifest
    summary = run(manifest, tmp_path / "out", "verify", CONFIG, workers=2, part_rows=3, progress="none")
    assert summary.complete and summary.rows_this_run == 10 and summary.duplicated_rows == 0
    assert summary.errors == {"image_not_found": 1, "image_unreadable": 1, "invalid_argument": 1, "no_face": 1}
    assert summary.verdicts == {"none": 4, "not_same_person": 3, "same_person": 3}
    assert len(summary.worker_peak_rss_mb) >= 1 and all(v > 50 for v in summary.worker_peak_rss_mb.values())
    results = read_results(tmp_path / "out")
    assert [r["row"] for r in results] == list(range(10))
    for r, same in zip(results[:6], labels[:6], strict=True):
        assert r["ok"] and r["error_code"] is None
        assert r["verdict"] == ("same_person" if same else "not_same_person"), r["id"]
        assert r["code"] == (2 if same else 0)
        assert (r["distance"] <= r["threshold"]) == bool(same)
        assert r["timings_ms"]["total"] > 0 and r["cpu_ms"] > 0 and r["elapsed_ms"] > 0
        assert json.loads(r["detail"])["result_code"] == r["code"]
    bad = {r["id"]: (r["ok"], r["error_code"], r["code"]) for r in results[6:]}
    assert bad == {
        "missing": (False, "image_not_found", -22),
        "not-an-image": (False, "image_unreadable", -22),
        "no-face": (False, "no_face", -1),
        "empty": (False, "invalid_argument", None),
    }
    # every worker built one pipeline and reused it: at most two worker processes for 10 rows
    assert len({r["worker"] for r in results if r["id"] != "empty"}) <= 2
    # a second run of a finished job does nothing and changes nothing
    before = (tmp_path / "out/_parts.jsonl").read_text()
    again = run(manifest, tmp_path / "out", "verify", CONFIG, workers=2, progress="none")
    assert again.rows_this_run == 0 and again.rows_skipped == 10 and again.complete
    assert (tmp_path / "out/_parts.jsonl").read_text() == before
    saved = json.loads((tmp_path / "out/summary.json").read_text())
    assert saved["complete"] and saved["rows_done"] == 10
    # the same directory with another configuration is refused
    with pytest.raises(InvalidArgument, match="holds another job"):
        run(manifest, tmp_path / "out", "verify", CONFIG.replace(flip=False), progress="none")


def test_cli_check_profile_jsonl_and_analyze(tmp_path, photos):
    p = photos / "pytopenface"
    manifest = write_csv(
        tmp_path / "profiles.csv",
        ["id", "selfie", "photos"],
        [
            ["obama", p / "obama1.jpg", f"{p / 'obama2.jpg'}|{p / 'obama3.jpg'}"],
            ["catfish", p / "obama1.jpg", f"{p / 'chirac1.jpg'}|{p / 'chirac2.jpg'}"],
            ["cat-selfie", photos / "skimage/chelsea.png", str(p / "obama2.jpg")],
            ["gone", tmp_path / "gone.jpg", str(p / "obama2.jpg")],
            ["photos-gone", p / "obama1.jpg", str(tmp_path / "gone.jpg")],
        ],
    )
    out = tmp_path / "out"
    args = ["batch", "check-profile", manifest, "--out", out, "--format", "jsonl", "--workers", "1"]
    args += ["--progress", "log"]
    res = CliRunner().invoke(cli, list(map(str, args)))
    assert res.exit_code == 0, res.output
    assert "check-profile: 5/5 rows done" in res.output and "complete" in res.output
    assert "faceproof batch check-profile: 5/5 rows" in res.output  # the plain progress line (not a TTY)
    parts = sorted((out / "parts").glob("part-*.jsonl"))
    assert parts and not list((out / "parts").glob("*.parquet"))
    got = {r["id"]: r for r in read_results(out)}
    assert got["obama"]["verdict"] == "verified" and got["obama"]["ok"]
    assert got["catfish"]["verdict"] == "not_verified" and "consistent_other_person" in got["catfish"]["reasons"]
    assert got["cat-selfie"]["error_code"] == "no_face" and got["cat-selfie"]["reasons"] == ["selfie_no_face"]
    assert got["gone"]["error_code"] == "image_not_found" and got["gone"]["verdict"] == "not_verified"
    assert got["photos-gone"]["error_code"] == "image_not_found"
    assert got["photos-gone"]["reasons"] == ["no_comparable_photo"]
    # analyze through the CLI, Parquet, JSON summary
    images = write_csv(tmp_path / "images.csv", ["image"], [[p / "obama1.jpg"], [photos / "skimage/brick.png"]])
    res = CliRunner().invoke(
        cli, list(map(str, ["batch", "analyze", images, "--out", tmp_path / "a", "--workers", "1", "--json"]))
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{") :])
    assert summary["errors"] == {"no_face": 1} and summary["verdicts"]["analyzed"] == 1
    (face,) = json.loads(read_results(tmp_path / "a")[0]["detail"])["faces"]
    assert face["attributes"]["dominant_gender"] == "Man"
    # usage errors exit 2 without a traceback
    res = CliRunner().invoke(cli, list(map(str, ["batch", "verify", images, "--out", tmp_path / "v"])))
    assert res.exit_code == 2 and "needs a column" in res.output


def test_enroll_is_idempotent(tmp_path, lfw):
    from faceproof.index import MemberIndex

    people = ["Abdullah_Gul", "Adel_Al-Jubeir", "Abdullatif_Sener"]
    rows = []
    for name in people:
        files = sorted((lfw / "images" / name).glob("*.jpg"))[:2]
        rows.append([name.lower(), "|".join(str(f) for f in files), "|".join(f.stem for f in files)])
    rows.append(["ghost", str(tmp_path / "none.jpg"), "x"])
    manifest = write_csv(tmp_path / "members.csv", ["member_id", "photos", "photo_ids"], rows)
    url = f"sqlite:///{tmp_path / 'members.db'}"
    first = run(manifest, tmp_path / "o1", "enroll", CONFIG, index=url, workers=2, progress="none")
    assert first.verdicts == {"enrolled": 3, "none": 1} and first.errors == {"image_not_found": 1}
    # the same rows again (another output directory): templates are replaced, not added
    run(manifest, tmp_path / "o2", "enroll", CONFIG, index=url, workers=1, progress="none")
    with MemberIndex(url) as index:
        stats = index.stats()
    assert stats.members == 3 and stats.templates == 6


# ----------------------------------------------------------------------------- kill and resume


def _job_cmd(manifest: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "faceproof.cli",
        "batch",
        "verify",
        str(manifest),
        "--out",
        str(out),
        "--workers",
        "2",
        "--chunk",
        "1",
        "--part-rows",
        "2",
        "--no-flip",
        "--progress",
        "log",
        "--log-every",
        "1",
    ]


def _recorded_rows(out: Path) -> int:
    try:
        lines = (out / "_parts.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return 0
    return sum(json.loads(line)["n"] for line in lines if line.endswith("}"))


def _committed_rows(out: Path) -> int:
    """Rows in the part files renamed into place (the commit), recorded or not."""
    return sum(pq.read_metadata(p).num_rows for p in (out / "parts").glob("part-*.parquet"))


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path, lfw):
    pairs = lfw_pairs(lfw, 12, 12)
    manifest = write_csv(tmp_path / "pairs.csv", ["path1", "path2"], [[a, b] for a, b, _ in pairs])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # its own session: SIGKILL goes to the job and its workers at once, like a lost machine
    proc = subprocess.Popen(
        _job_cmd(manifest, out), env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 600
    while _recorded_rows(out) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = _committed_rows(out)
    assert 2 <= done_at_kill < len(pairs), f"the job was not killed mid-run ({done_at_kill} rows done)"
    first_parts = {p.name: p.read_bytes() for p in (out / "parts").glob("part-*")}

    again = subprocess.run(_job_cmd(manifest, out), env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows_skipped"] == done_at_kill and summary["rows_this_run"] == len(pairs) - done_at_kill
    rows = [r["row"] for r in read_results(out)]
    lost = set(range(len(pairs))) - set(rows)
    duplicated = len(rows) - len(set(rows))
    assert (len(lost), duplicated) == (0, 0)
    assert summary["complete"] and summary["duplicated_rows"] == 0 and summary["missing_rows"] == 0
    # the parts finished before the kill are kept as they were
    for name, data in first_parts.items():
        assert (out / "parts" / name).read_bytes() == data
    print(f"killed after {done_at_kill}/{len(pairs)} rows; resumed: lost {len(lost)}, duplicated {duplicated}")


def test_ctrl_c_writes_finished_rows_then_resume_completes(tmp_path, lfw):
    # enough rows that the interruption lands mid-job on a quiet machine too (12 rows could
    # all be done between the progress line and the signal; since SFace runs on OpenVINO,
    # 50 rows could too: the first progress line comes after a second)
    pairs = lfw_pairs(lfw, 75, 75)
    manifest = write_csv(tmp_path / "pairs.csv", ["path1", "path2"], [[a, b] for a, b, _ in pairs])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = _job_cmd(manifest, out)
    cmd[cmd.index("--part-rows") + 1] = "1000"  # nothing is written before the interruption
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # the plain progress lines: "faceproof batch verify: 3/12 rows ..."
        if "rows (" in line and int(line.split(": ")[1].split("/")[0]) >= 2:
            break
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the job and its workers
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest
    assert "run the same command again to resume" in rest
    kept = _committed_rows(out)
    assert 2 <= kept < len(pairs)  # the finished rows were written on Ctrl-C
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    rows = [r["row"] for r in read_results(out)]
    assert sorted(rows) == list(range(len(pairs)))


def _pool_workers(pid: int) -> list[int]:
    """The pool's worker processes among a job's children (not multiprocessing's tracker)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    workers = []
    for child in map(int, out):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            workers.append(child)
    return workers


def test_a_worker_killed_mid_job_is_replaced_and_its_rows_redone(tmp_path, lfw):
    pairs = lfw_pairs(lfw, 75, 75)  # the kill must land mid-job, on a quiet machine too
    manifest = write_csv(tmp_path / "pairs.csv", ["path1", "path2"], [[a, b] for a, b, _ in pairs])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(_job_cmd(manifest, out), env=env, start_new_session=True, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "rows (" in line and int(line.split(": ")[1].split("/")[0]) >= 1:
            break
    victims = _pool_workers(proc.pid)
    assert victims, "no pool worker found"
    os.kill(victims[0], signal.SIGKILL)  # as the OOM killer would
    rest = proc.stderr.read()
    assert proc.wait(timeout=600) == 0, rest
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["duplicated_rows"] == 0
    assert "worker_crashed" not in summary["errors"]  # killed once: its rows were simply done again
    results = read_results(out)
    assert [r["row"] for r in results] == list(range(len(pairs)))
    assert all(r["ok"] for r in results)
    assert "a worker process died; retrying" in rest  # the pool was replaced, the rows retried alone
    assert len({r["worker"] for r in results}) >= 2  # the first pool's workers and the new pool's


def test_ctrl_c_is_recorded_and_raised_only_where_the_engine_waits():
    """SIGINT inside the engine sets a flag (no KeyboardInterrupt in the middle of
    concurrent.futures' locks); the engine raises it at its next wait; the handler that was
    there before comes back. In a fresh interpreter: a real SIGINT to the test process
    would meet whatever native handlers earlier tests' libraries installed."""
    code = (
        "import os, signal, time\n"
        "from faceproof.batch.engines import _check, _sigint_deferred\n"
        "before = signal.getsignal(signal.SIGINT)\n"
        "with _sigint_deferred() as interrupted:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    deadline = time.monotonic() + 5\n"
        "    while not interrupted.is_set() and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)\n"
        "    flagged = interrupted.is_set()\n"
        "    try:\n"
        "        _check(interrupted)\n"
        "        raised = False\n"
        "    except KeyboardInterrupt:\n"
        "        raised = True\n"
        "print(flagged, raised, signal.getsignal(signal.SIGINT) is before)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "True"]
