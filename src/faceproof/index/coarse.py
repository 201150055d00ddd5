"""Coarse 8-bit scores for the exact search, with a bound on their error.

A float32 pass over a million 128-D templates costs ~25 ms on two cores (the product of a
query with 512 MB). Scores of templates quantised to 8 bits (one scale per block of each
row) are computed by onnxruntime's ``MatMulNBits`` kernel (made for language models'
one-token steps: one input row against a large constant matrix) in about a third of the
time. Every coarse score is within ``eps`` of the exact one, a bound computed from the
quantisation steps; the search ranks by coarse score, re-scores its candidates exactly
and stops only when no template left out could beat the ``k``-th answer — so the answer
is the exact one, only found faster (``MemberIndex._search_exact``).

The gallery's rows are cut into fixed segments of ``segment_rows``; each full segment is
quantised once into its own small onnxruntime session (a constant matrix is what the
kernel needs to be fast). Rows past the last full segment are scored exactly. Segments
belong to one *layout* of the gallery (row positions); a reload or a compaction starts a
new layout and the segments are built again. Segments run on a small thread pool (one
thread each), which is faster than one session's own threads.

Safety: the first segment built is checked against exact scores; if the kernel's error
ever exceeds the bound (another onnxruntime version quantising differently), or the
kernel or ``onnx`` is missing, coarse scoring switches itself off (logged once) and the
search is the plain float32 pass.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SEGMENT_ROWS", "CoarseScorer", "rows_dot"]

logger = logging.getLogger(__name__)

#: rows per quantised segment; rows past the last full segment are scored exactly
SEGMENT_ROWS = 65_536
#: fewer full segments than this: the plain float32 product (one segment plus a tail scored
#: without BLAS is no faster than BLAS's two threads; from two on the coarse pass wins,
#: bench/index_coarse.py)
MIN_SEGMENTS = 2
_LEVELS = 127  # symmetric 8-bit codes -127..127, stored with offset 128 (the kernel's default zero point)
_SLACK = 1e-4  # float rounding of the kernel's sums, far above what it can be


@dataclass(frozen=True)
class _Segment:
    start: int
    stop: int
    session: Any
    scale_max: float  # the largest quantisation step of any block of any row
    l1_max: float  # the largest L1 norm of a row


def rows_dot(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``rows @ q`` without BLAS: OpenBLAS's threads spin for a while after a multi-threaded
    call (~0.1 s), taking a core from the scoring sessions that run next; the product
    runs on the calling thread only."""
    return np.einsum("ij,j->i", rows, q)


def _block_size(dim: int) -> int | None:
    for b in (128, 64, 32, 16):
        if dim % b == 0:
            return b
    return None


class CoarseScorer:
    """Coarse scores of one query against a gallery matrix, with their error bound."""

    def __init__(self, segment_rows: int = SEGMENT_ROWS, threads: int | None = None) -> None:
        if segment_rows < 16:
            raise ValueError("segment_rows must be at least 16")
        self.segment_rows = int(segment_rows)
        self.threads = max(1, min(4, threads if threads is not None else (os.cpu_count() or 1)))
        self._layout: int | None = None
        self._segments: list[_Segment] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.disabled: str | None = None  # why coarse scoring is off, if it is

    def close(self) -> None:
        with self._lock:
            self._segments = []
            self._layout = None
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None

    def prepare(self, layout: int, matrix: np.ndarray) -> int:
        """Build the segments of ``matrix`` now (not in the first search); how many."""
        full = matrix.shape[0] // self.segment_rows
        if full < MIN_SEGMENTS or self.disabled is not None or _block_size(matrix.shape[1]) is None:
            return 0
        return len(self._segments_for(layout, matrix, full))

    def scores(self, layout: int, matrix: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, float]:
        """(scores, eps): a score per row of ``matrix`` (n, d) for the unit query ``q``,
        each within ``eps`` of ``matrix @ q`` (eps 0: all exact)."""
        n, dim = matrix.shape
        full = n // self.segment_rows
        if full < MIN_SEGMENTS or self.disabled is not None or _block_size(dim) is None:
            return matrix @ q, 0.0
        segments = self._segments_for(layout, matrix, full)
        if not segments:
            return matrix @ q, 0.0
        out = np.empty(n, np.float32)
        a = np.ascontiguousarray(q[None, :], dtype=np.float32)

        def run(part: list[_Segment]) -> None:
            for s in part:
                out[s.start : s.stop] = s.session.run(None, {"A": a})[0][0]

        pool = self._pool
        rest = segments[-1].stop
        if pool is None:
            run(segments)
            out[rest:] = rows_dot(matrix[rest:], q)
        else:
            futures = [pool.submit(run, segments[i :: self.threads]) for i in range(self.threads)]
            out[rest:] = rows_dot(matrix[rest:], q)  # meanwhile, on this thread
            for f in futures:
                f.result()
        return out, self._eps(q, segments)

    @staticmethod
    def _eps(q: np.ndarray, segments: list[_Segment]) -> float:
        """The largest possible |coarse - exact| for ``q``: a row's value is off by at most
        half its block's step ``s``, the query's (quantised by the kernel to 8 bits per
        block, step ``t`` at most max|q| / 127) by at most ``t / 2``; so a product is off by
        at most ``s/2 * |q|_1 + t/2 * |x|_1 + d * s * t / 4``."""
        t = float(np.abs(q).max()) / _LEVELS
        l1q = float(np.abs(q).sum())
        s = max(seg.scale_max for seg in segments)
        l1x = max(seg.l1_max for seg in segments)
        return s / 2 * l1q + t / 2 * l1x + q.shape[0] * s * t / 4 + _SLACK

    def _segments_for(self, layout: int, matrix: np.ndarray, full: int) -> list[_Segment]:
        with self._lock:
            if self._layout != layout:
                self._layout, self._segments = layout, []
            while len(self._segments) < full and self.disabled is None:
                i = len(self._segments)
                rows = matrix[i * self.segment_rows : (i + 1) * self.segment_rows]
                try:
                    seg = self._build(i * self.segment_rows, rows)
                    if i == 0:
                        self._self_check(seg, rows)
                except Exception as exc:  # the kernel, onnx or the check: plain float32 from now on
                    self.disabled = f"{type(exc).__name__}: {exc}"
                    self._segments = []
                    logger.warning("coarse 8-bit scores are off, exact float32 search only (%s)", self.disabled)
                    break
                self._segments.append(seg)
            if self._segments and self._pool is None and self.threads > 1:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="faceproof-index-scan")
            return list(self._segments)

    def _build(self, start: int, rows: np.ndarray) -> _Segment:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        n, dim = rows.shape
        block = _block_size(dim)
        assert block is not None
        blocks = rows.reshape(n, dim // block, block)
        scale = np.abs(blocks).max(axis=2) / _LEVELS  # (n, blocks)
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        codes = np.clip(np.rint(blocks / scale[..., None]), -_LEVELS, _LEVELS).astype(np.int16) + 128
        node = helper.make_node(
            "MatMulNBits",
            ["A", "B", "S"],
            ["Y"],
            domain="com.microsoft",
            K=dim,
            N=n,
            bits=8,
            block_size=block,
            accuracy_level=4,  # int8 products (VNNI where the CPU has it)
        )
        graph = helper.make_graph(
            [node],
            "faceproof_index_coarse",
            [helper.make_tensor_value_info("A", TensorProto.FLOAT, [1, dim])],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, n])],
            [
                numpy_helper.from_array(codes.astype(np.uint8), "B"),
                numpy_helper.from_array(scale.reshape(-1), "S"),
            ],
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
        )
        model.ir_version = 8
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no idle threads burning CPU
        opts.log_severity_level = 3
        session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return _Segment(
            start=start,
            stop=start + n,
            session=session,
            scale_max=float(scale.max()),
            l1_max=float(np.abs(rows).sum(axis=1).max()),
        )

    def _self_check(self, seg: _Segment, rows: np.ndarray) -> None:
        """Probe the kernel with a few of the segment's own rows and random unit vectors:
        every error must be within the bound, or the bound does not describe this kernel."""
        rng = np.random.default_rng(0)
        probes = rng.standard_normal((4, rows.shape[1])).astype(np.float32)
        probes /= np.linalg.norm(probes, axis=1, keepdims=True)
        norms = np.linalg.norm(rows[:4], axis=1, keepdims=True)
        probes = np.concatenate([probes, rows[:4] / np.where(norms > 0, norms, 1.0)]).astype(np.float32)
        for q in probes:
            got = seg.session.run(None, {"A": q[None, :]})[0][0]
            err = float(np.abs(got - rows @ q).max())
            eps = self._eps(q, [seg])
            if not err <= eps:
                raise RuntimeError(f"8-bit score error {err:.5f} exceeds its bound {eps:.5f}")
