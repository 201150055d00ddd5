"""What a worker does with one task: the library call, turned into one output record.

A :class:`Worker` is built once per worker process (or Ray actor) from a picklable
:class:`WorkerSpec`: it builds ONE :class:`~faceproof.Pipeline` from the spec's
:class:`~faceproof.PipelineConfig` and reuses it for every row (models load once per
worker). Every row gives exactly one record; a row that fails gets its typed error code
(``faceproof.errors``: ``image_not_found``, ``image_unreadable``, ``no_face``, ...;
``invalid_argument`` for a bad manifest value; ``internal_error`` for anything unexpected)
and never stops the job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from ..client import FaceProof
from ..decision.policy import Policy
from ..decision.profile import check_profile
from ..decision.results import PhotoStatus, ProfileCheck
from ..errors import FaceProofError, InvalidArgument, NoFaceError
from ..runtime.pipeline import Pipeline, PipelineConfig
from ..runtime.verify import VerifyResult
from .manifest import Operation

__all__ = ["RECORD_FIELDS", "Worker", "WorkerSpec", "error_record"]

logger = logging.getLogger(__name__)

#: the output columns, in order (see docs/batch.md)
RECORD_FIELDS: tuple[str, ...] = (
    "row",
    "id",
    "operation",
    "ok",
    "verdict",
    "code",
    "reasons",
    "similarity",
    "distance",
    "threshold",
    "faces",
    "error_code",
    "error_message",
    "elapsed_ms",
    "cpu_ms",
    "timings_ms",
    "worker",
    "detail",
)


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to build itself (picklable; the same for every worker)."""

    operation: Operation
    config: PipelineConfig = field(default_factory=PipelineConfig)
    policy: dict[str, Any] | None = None  # check-profile: Policy overrides (a Policy.coerce mapping)
    index_url: str | None = None  # enroll: the member index's store URL
    detail: bool = True  # keep the library's full report as JSON in ``detail``
    cv_threads: int = 1  # OpenCV threads per worker (the workers are the parallelism)

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", Operation.parse(self.operation))
        if self.operation is Operation.ENROLL and not self.index_url:
            raise InvalidArgument("enroll needs the member index's URL (index_url / --index)")
        if self.operation is Operation.ANALYZE and not self.config.attributes:
            raise InvalidArgument("analyze needs a PipelineConfig with attributes (e.g. ('gender', 'age'))")


def _r(value: float | None, ndigits: int = 6) -> float | None:
    return None if value is None else round(float(value), ndigits)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _blank(task: dict[str, Any], operation: Operation) -> dict[str, Any]:
    rec: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    rec.update(row=int(task["row"]), id=task.get("id"), operation=operation.value, ok=True, reasons=[])
    return rec


def error_record(task: dict[str, Any], operation: Operation, code: str, message: str) -> dict[str, Any]:
    """The record of a row that could not be processed at all (e.g. its worker crashed)."""
    rec = _blank(task, operation)
    rec.update(ok=False, error_code=code, error_message=message, worker=_worker_name(), timings_ms={})
    return rec


def _require(task: dict[str, Any], name: str) -> Any:
    value = task.get(name)
    if value is None or value == []:
        raise InvalidArgument(f"row {task['row']}: {name} is empty")
    return value


class Worker:
    """One worker's pipeline (and facade, policy, index) and the per-row operations."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        if spec.cv_threads > 0:
            import cv2

            cv2.setNumThreads(spec.cv_threads)
        self.pipeline = Pipeline(spec.config)
        self.facade = FaceProof(pipeline=self.pipeline, lang="en")
        self.policy = Policy.coerce(spec.policy)
        self.index: Any = None
        if spec.operation is Operation.ENROLL:
            from ..index import MemberIndex, ModelId

            self.index = MemberIndex(spec.index_url, model=ModelId.from_client(self.pipeline))
        self.name = _worker_name()

    def warmup(self) -> None:
        """Load the models now (a worker's first row is then not slower than the others)."""
        self.pipeline.warmup(confirmer=self.spec.operation is Operation.CHECK_PROFILE and self.policy.confirm != "none")

    def close(self) -> None:
        if self.index is not None:
            self.index.close()

    # ------------------------------------------------------------------ one row

    def process(self, task: dict[str, Any]) -> dict[str, Any]:
        """One task -> one record; never raises (a failure becomes the row's error code)."""
        op = self.spec.operation
        rec = _blank(task, op)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            if op is Operation.VERIFY:
                self._verify(task, rec)
            elif op is Operation.CHECK_PROFILE:
                self._check_profile(task, rec)
            elif op is Operation.ENROLL:
                self._enroll(task, rec)
            else:
                self._analyze(task, rec)
        except FaceProofError as exc:
            rec.update(ok=False, error_code=exc.code, error_message=exc.message)
        except Exception as exc:  # a bad row never stops the job: it is recorded
            logger.debug("row %s failed", task.get("row"), exc_info=True)
            rec.update(ok=False, error_code="internal_error", error_message=f"{type(exc).__name__}: {exc}")
        rec["elapsed_ms"] = round((time.perf_counter() - t0) * 1000.0, 3)
        rec["cpu_ms"] = round((time.process_time() - c0) * 1000.0, 3)
        rec["worker"] = self.name
        if rec["timings_ms"] is None:
            rec["timings_ms"] = {}
        if not self.spec.detail:
            rec["detail"] = None
        return rec

    def process_many(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.process(t) for t in tasks]

    # ------------------------------------------------------------------ operations

    def _verify(self, task: dict[str, Any], rec: dict[str, Any]) -> None:
        result: VerifyResult = self.facade.verify(_require(task, "origin"), _require(task, "target"))
        rec.update(
            code=int(result.code),
            verdict=None if result.verdict is None else ("same_person" if result.verdict else "not_same_person"),
            similarity=_r(result.best_similarity),
            distance=_r(result.best_distance),
            threshold=None if result.threshold is None else _r(result.threshold.value),
            faces=len(result.origin_faces) + len(result.target_faces),
            timings_ms={k: round(v, 3) for k, v in result.timings_ms.items()},
            detail=json.dumps(result.to_report(), ensure_ascii=False) if self.spec.detail else None,
        )
        if result.error is not None:
            rec.update(ok=False, error_code=result.error.code, error_message=result.error.message)

    def _check_profile(self, task: dict[str, Any], rec: dict[str, Any]) -> None:
        check: ProfileCheck = check_profile(
            self.pipeline, _require(task, "selfie"), _require(task, "photos"), policy=self.policy
        )
        best = [p for p in check.photos if p.similarity is not None]
        top = max(best, key=lambda p: p.similarity or 0.0) if best else None
        rec.update(
            verdict=check.verdict.value,
            reasons=[r.value for r in check.reasons],
            similarity=None if top is None else _r(top.similarity),
            distance=None if top is None else _r(top.distance),
            threshold=_r(check.threshold.value),
            faces=len(check.selfie.faces) + sum(len(p.faces) for p in check.photos),
            timings_ms={k: round(v, 3) for k, v in check.timings_ms.items()},
            detail=json.dumps(check.to_dict(), ensure_ascii=False) if self.spec.detail else None,
        )
        # the check could not be made: the typed error of what stopped it
        if check.selfie.error is not None:
            rec.update(ok=False, error_code=check.selfie.error.code, error_message=check.selfie.error.message)
        elif check.selfie.status.value == "no_face":
            rec.update(ok=False, error_code=NoFaceError.code, error_message="no face was detected in the selfie")
        elif check.selfie.usable and check.comparable_photos == 0:
            failed = next((p for p in check.photos if p.error is not None), None)
            if failed is not None and failed.error is not None:
                rec.update(ok=False, error_code=failed.error.code, error_message=failed.error.message)
            elif any(p.status is PhotoStatus.NO_FACE for p in check.photos):
                rec.update(ok=False, error_code=NoFaceError.code, error_message="no face in any profile photo")

    def _enroll(self, task: dict[str, Any], rec: dict[str, Any]) -> None:
        member_id = _require(task, "member_id")
        photos: list[str] = _require(task, "photos")
        photo_ids: list[str] = task.get("photo_ids") or [f"photo-{i}" for i in range(len(photos))]
        if len(photo_ids) != len(photos):
            raise InvalidArgument(f"row {task['row']}: {len(photos)} photos but {len(photo_ids)} photo_ids")
        timings: dict[str, float] = {}
        embeddings: list[Any] = []
        kept: list[str] = []
        reasons: list[str] = []
        report: list[dict[str, Any]] = []
        first_error: FaceProofError | None = None
        for i, (source, pid) in enumerate(zip(photos, photo_ids, strict=True)):
            t = time.perf_counter()
            try:
                faces = self.pipeline.faces(self.pipeline.load_image(source))
                if not faces:
                    raise NoFaceError(f"no face was detected in photo {i}")
            except FaceProofError as exc:
                first_error = first_error or exc
                reasons.append(f"photo_{i}_{exc.code}")
                report.append({"photo_id": pid, "error": exc.to_dict()})
                continue
            finally:
                timings[f"photo_{i}"] = (time.perf_counter() - t) * 1000.0
            face = max(faces, key=lambda f: f.bbox.area)  # the member is the largest face
            embeddings.append(face.embedding)
            kept.append(pid)
            report.append({"photo_id": pid, "faces": len(faces), "bbox": face.bbox.as_list()})
        if not kept:
            assert first_error is not None
            raise first_error
        t = time.perf_counter()
        # idempotent: re-enrolling a (member, photo id) replaces its template
        written = self.index.enroll(member_id, embeddings, kept, status=task.get("status") or None)
        timings["index_write"] = (time.perf_counter() - t) * 1000.0
        rec.update(
            verdict="enrolled",
            reasons=reasons,
            faces=int(written),
            timings_ms={k: round(v, 3) for k, v in timings.items()},
            detail=json.dumps({"member_id": member_id, "templates": written, "photos": report}),
        )

    def _analyze(self, task: dict[str, Any], rec: dict[str, Any]) -> None:
        result = self.facade.distinguish(_require(task, "image"))
        rec.update(
            code=int(result.code),
            verdict="analyzed" if result.ok else None,
            faces=len(result.faces),
            timings_ms={k: round(v, 3) for k, v in result.timings_ms.items()},
            detail=json.dumps(result.to_report(), ensure_ascii=False) if self.spec.detail else None,
        )
        if result.error is not None:
            rec.update(ok=False, error_code=result.error.code, error_message=result.error.message)
