"""YuNet on ONNX Runtime: the same network and the same decoding as OpenCV's
``cv2.FaceDetectorYN``, about 2.5x cheaper on a 640-px image (docs/performance.md).

OpenCV's ``dnn`` runs YuNet's small depthwise convolutions slowly (18-23 ms of one core
for a 640x512 image on the 2-core Intel Xeon of 2026-11-29); ONNX Runtime with its full
graph optimisations runs the same graph in 7-9 ms. The installed file cannot be handed to
ONNX Runtime as it is: its block-quantised weights use ``DequantizeLinear`` nodes that
ONNX Runtime refuses (a per-tensor bias with a ``block_size``), and its input is fixed at
640x640. So at load time, from the verified file:

* every ``DequantizeLinear`` of constant weights is computed once, ``(q - zero_point) *
  scale`` in float32 with each block's scale (OpenCV computes the same weights: its
  network's outputs are bit-identical with and without this folding), and the
  ``Reshape`` of a constant that follows it too;
* the input's height and width and the outputs' anchor counts become free dimensions
  (the graph's reshapes are ``(1, -1, k)``, its resizes scale by 2: any size that is a
  multiple of 32 runs).

:class:`YuNetOrt` then does what ``FaceDetectorYN.detect`` does: pad the image at the
bottom and right to multiples of 32 with black, run the network, decode each anchor
(score ``sqrt(cls * obj)``, box and landmarks from the stride grid), keep scores at or
above the threshold and apply OpenCV's own NMS (``cv2.dnn.NMSBoxes`` on integer boxes,
as OpenCV does). Rows are ``[x, y, w, h, 5 x (x, y) landmarks, score]``, float32.
The network's float outputs differ from OpenCV's in the last bits (another convolution
code), so boxes and landmarks move by about 1e-4 px; docs/performance.md gives what that
does to scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["STRIDES", "YuNetOrt", "decode_yunet", "fold_yunet_model"]

#: YuNet 2023mar's output levels
STRIDES: tuple[int, ...] = (8, 16, 32)
_DIVISOR = 32


def fold_yunet_model(data: bytes) -> bytes:
    """The YuNet graph with its constant weight dequantisation folded in
    (:func:`.onnx_fold.fold_constant_weights`) and free input and output sizes (see the
    module doc); ``data`` is the installed ONNX file."""
    from .onnx_fold import fold_constant_weights

    model = fold_constant_weights(data)
    graph = model.graph
    for vi in graph.input:
        for dim, name in zip(vi.type.tensor_type.shape.dim[2:], ("height", "width"), strict=True):
            dim.ClearField("dim_value")
            dim.dim_param = name
    for vi in graph.output:
        dim = vi.type.tensor_type.shape.dim[1]
        dim.ClearField("dim_value")
        dim.dim_param = f"anchors_{vi.name.rsplit('_', 1)[-1]}"
    return bytes(model.SerializeToString())


def decode_yunet(
    outputs: dict[str, np.ndarray], pad_w: int, pad_h: int, score_threshold: float, nms_threshold: float, top_k: int
) -> np.ndarray:
    """``FaceDetectorYN``'s decoding and NMS of the network's 12 outputs (see the module doc)."""
    import cv2

    rows: list[np.ndarray] = []
    thr = np.float32(score_threshold)
    for stride in STRIDES:
        cols = pad_w // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0).astype(np.float32)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0).astype(np.float32)
        score = np.sqrt(cls * obj).astype(np.float32)
        idx = np.flatnonzero(score >= thr)
        if idx.size == 0:
            continue
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[idx].astype(np.float32)
        kps = outputs[f"kps_{stride}"].reshape(-1, 10)[idx].astype(np.float32)
        r = (idx // cols).astype(np.float32)
        c = (idx % cols).astype(np.float32)
        s = np.float32(stride)
        cx = (c + bbox[:, 0]) * s
        cy = (r + bbox[:, 1]) * s
        w = np.exp(bbox[:, 2]) * s
        h = np.exp(bbox[:, 3]) * s
        out = np.empty((idx.size, 15), np.float32)
        out[:, 0] = cx - w / np.float32(2.0)
        out[:, 1] = cy - h / np.float32(2.0)
        out[:, 2] = w
        out[:, 3] = h
        out[:, 4:14:2] = (kps[:, 0::2] + c[:, None]) * s
        out[:, 5:14:2] = (kps[:, 1::2] + r[:, None]) * s
        out[:, 14] = score[idx]
        rows.append(out)
    if not rows:
        return np.zeros((0, 15), np.float32)
    faces = np.concatenate(rows)
    if len(faces) == 1:
        return faces
    boxes = [(int(x), int(y), int(w), int(h)) for x, y, w, h in faces[:, :4]]
    kept = cv2.dnn.NMSBoxes(boxes, faces[:, 14].tolist(), float(score_threshold), float(nms_threshold), 1.0, top_k)
    keep = np.asarray(kept, dtype=np.int64).reshape(-1)
    return faces[keep] if keep.size else np.zeros((0, 15), np.float32)


class YuNetOrt:
    """YuNet in an ONNX Runtime session: one intra-op thread and no spinning (a pool of
    inference threads must not have idle threads burning the other core), and no memory
    arena (with it, the buffers of the largest image seen stay allocated: about 500 MB of
    RSS after a 2,560-px image instead of 190 MB without, at the same speed)."""

    def __init__(
        self, model: bytes, score_threshold: float = 0.3, nms_threshold: float = 0.3, top_k: int = 5000
    ) -> None:
        from .attributes import import_onnxruntime

        ort = import_onnxruntime()
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(fold_yunet_model(model), opts, providers=["CPUExecutionProvider"])
        self._names = [o.name for o in self._session.get_outputs()]
        self._input = self._session.get_inputs()[0].name
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.top_k = int(top_k)

    @property
    def session(self) -> Any:
        """The ONNX Runtime session (its options say how it runs)."""
        return self._session

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        """Faces of a BGR uint8 image, as ``FaceDetectorYN.detect`` gives them (N x 15)."""
        h, w = bgr.shape[:2]
        pad_h = ((h - 1) // _DIVISOR + 1) * _DIVISOR
        pad_w = ((w - 1) // _DIVISOR + 1) * _DIVISOR
        blob = np.zeros((1, 3, pad_h, pad_w), np.float32)
        blob[0, :, :h, :w] = bgr.transpose(2, 0, 1)
        outputs = dict(zip(self._names, self._session.run(self._names, {self._input: blob}), strict=True))
        return decode_yunet(outputs, pad_w, pad_h, self.score_threshold, self.nms_threshold, self.top_k)
