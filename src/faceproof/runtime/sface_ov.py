"""SFace on OpenVINO: the same network as ``cv2.dnn`` runs, at about 0.6 of its CPU in
float32 (docs/performance.md).

OpenCV's ``dnn`` runs SFace's 27 convolutions in about 20 ms of one core per chip on the
2-core Intel Xeon of 2026-11-29; OpenVINO's CPU plugin (oneDNN kernels chosen for the CPU
it finds) runs the same float32 graph in about 12 ms, with outputs equal to OpenCV's to
cosine 1 - 2e-7. The installed block-quantised file is prepared in memory by
:func:`.onnx_fold.fold_constant_weights` (the weights OpenCV computes at load) and
compiled once for one 112x112 chip, one inference thread, no core pinning (a service
runs one worker per core), in the precision asked for:

* ``"f32"`` (default): float32 throughout; the calibrated thresholds hold as recorded.
* ``"bf16"``: bfloat16 where the CPU computes it natively (AMX / AVX-512 BF16), about 3x
  cheaper again; embeddings move by up to cosine 6e-4 from float32 and pair scores by up
  to about 0.02 (docs/performance.md measures what that does to verdicts). On a CPU
  without native bfloat16 OpenVINO runs float32.

OpenVINO's ``import openvino`` initialises the usage telemetry of its model converter
(``openvino_telemetry``): without a consent file it writes a client id and counters under
``~/intel`` and sends an "import" event to Google Analytics. A face-verification library
must not do either, so :func:`import_openvino` imports it with ``openvino_telemetry``
masked, and the converter falls back to its own no-op stub (nothing here converts models
with it). Applications that import ``openvino`` themselves before faceproof get whatever
they configured.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..errors import InvalidArgument

__all__ = ["PRECISIONS", "SFaceOpenVINO", "import_openvino"]

#: the precisions :class:`SFaceOpenVINO` accepts
PRECISIONS: tuple[str, ...] = ("f32", "bf16")

_INPUT = "data"
_SIDE = 112


def import_openvino() -> Any:
    """``openvino``, imported without its usage telemetry (see the module doc)."""
    import sys

    if "openvino" in sys.modules:
        return sys.modules["openvino"]
    masked = "openvino_telemetry" not in sys.modules
    if masked:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # its import raises ImportError
    try:
        import openvino
    finally:
        if masked and sys.modules.get("openvino_telemetry", 0) is None:
            del sys.modules["openvino_telemetry"]
    return openvino


class SFaceOpenVINO:
    """A compiled SFace network; :meth:`run` embeds one chip at a time (batching gains
    nothing measurable on CPU and would compile a second shape)."""

    def __init__(self, model: bytes, precision: str = "f32") -> None:
        if precision not in PRECISIONS:
            raise InvalidArgument(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        from .onnx_fold import fold_constant_weights

        ov = import_openvino()

        self.precision = precision
        core = ov.Core()
        network = core.read_model(fold_constant_weights(model).SerializeToString())
        network.reshape({_INPUT: [1, 3, _SIDE, _SIDE]})
        self._compiled: Any = core.compile_model(
            network,
            "CPU",
            {
                "INFERENCE_NUM_THREADS": 1,
                "NUM_STREAMS": 1,
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_PRECISION_HINT": precision,
                "ENABLE_CPU_PINNING": False,
            },
        )
        self._output = self._compiled.output(0)
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()

    def run(self, chip: np.ndarray) -> np.ndarray:
        """The raw 128-D output for one 112x112x3 uint8 chip (RGB; the graph normalises),
        fed as ``cv2.dnn.blobFromImage`` would: float32, channels first, no scaling."""
        blob = np.ascontiguousarray(np.asarray(chip, np.float32).transpose(2, 0, 1)[None])
        with self._lock:
            out = self._request.infer({_INPUT: blob})[self._output]
        return np.asarray(out, np.float32).reshape(-1).copy()
