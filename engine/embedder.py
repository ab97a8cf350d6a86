"""Appearance embedder: BGR crops -> L2-normalised float32 vectors (cosine distance =
1 - dot), batched, through the runtime engine.runtime picks for the file."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

from engine.errors import ModelError
from engine.preprocess import as_bgr, check_input_size, normaliser, to_blob
from engine.registry import ModelSpec
from engine.runtime import load_model


class Embedder:
    def __init__(self, spec: ModelSpec, device: str = "cpu", batch_size: int = 16,
                 threads: Optional[int] = None):
        self.spec = spec
        self.name = spec.name
        self.model = load_model(spec.path, device, threads, runtime=spec.runtime, dynamic_batch=True)
        self.input_name, fixed_batch = self._check_input()
        # A graph exported with batch 1 cannot take more; honour it instead of failing.
        self.batch_size = 1 if fixed_batch == 1 else max(1, int(batch_size))
        self.dim = self._check_output()
        self.threshold = spec.threshold if spec.threshold is not None else 0.15
        self._mul, self._add = normaliser(spec)

    def _check_input(self) -> tuple[str, object]:
        inp = self.model.inputs[0]
        shape = inp.shape
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise ModelError(f"{self.spec.path}: embedder input must be N x 3 x H x W, "
                             f"got {shape}")
        check_input_size(self.spec, shape, hint=" (pass input_size=(h, w))")
        return inp.name, shape[0]

    def _check_output(self) -> int:
        out = self.model.outputs[0]
        dim = out.shape[-1] if len(out.shape) == 2 else None
        if not isinstance(dim, int):
            raise ModelError(f"{self.spec.path}: embedder output must be N x D, "
                             f"got {out.shape}")
        if self.spec.dim is not None and self.spec.dim != dim:
            raise ModelError(f"{self.spec.path}: model outputs {dim}-d vectors but the "
                             f"spec says dim={self.spec.dim}")
        return dim

    def _resize(self, crop: np.ndarray) -> np.ndarray:
        if crop is None or crop.ndim not in (2, 3) or min(crop.shape[:2]) < 1:
            raise ValueError(f"embed() needs non-empty image crops, got shape "
                             f"{getattr(crop, 'shape', None)}")
        crop = as_bgr(crop)
        th, tw = self.spec.input_size
        # AREA when shrinking (no aliasing), LINEAR when enlarging tiny crops.
        shrink = crop.shape[0] > th and crop.shape[1] > tw
        return cv2.resize(crop, (tw, th), interpolation=cv2.INTER_AREA if shrink
                          else cv2.INTER_LINEAR)

    def _preprocess(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return to_blob([self._resize(c) for c in crops], self._mul, self._add, self.spec.channel_order == "RGB")

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, dim) float32, each row of unit length; an empty list gives (0, dim)."""
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        parts = []
        for i in range(0, len(crops), self.batch_size):
            x = self._preprocess(crops[i:i + self.batch_size])
            parts.append(self.model.run({self.input_name: x})[0])
        vecs = np.concatenate(parts).astype(np.float32, copy=False)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)  # an all-zero vector stays zero, not NaN
