"""Vehicle colour and type (Intel's vehicle-attributes-recognition-barrier-0039, or any model
with a colour and a type softmax output): BGR crops -> Attributes, batched.

Attributes are optional everywhere: without the model's files the engine runs without them.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

from engine.errors import ModelError
from engine.preprocess import as_bgr, check_input_size, normaliser, to_blob
from engine.registry import ModelSpec
from engine.runtime import load_model
from engine.types import Attributes

COLOURS = ("white", "gray", "yellow", "red", "green", "blue", "black")
TYPES = ("car", "bus", "truck", "van")
BATCH = 32


class AttributeModel:
    def __init__(self, spec: ModelSpec, device: str = "cpu", threads: Optional[int] = None):
        self.spec, self.name = spec, spec.name
        self.colours = tuple(spec.extra.get("colours", COLOURS))
        self.types = tuple(spec.extra.get("types", TYPES))
        self.model = load_model(spec.path, device, threads, runtime=spec.runtime, dynamic_batch=True)
        inp = self.model.inputs[0]
        check_input_size(spec, inp.shape)
        self.input_name = inp.name
        self.batch = BATCH if inp.shape[0] is None else 1
        self._colour_out = self._output("color", len(self.colours))
        self._type_out = self._output("type", len(self.types))
        self._mul, self._add = normaliser(spec)

    def _output(self, name: str, classes: int) -> int:
        for i, port in enumerate(self.model.outputs):
            if port.name == name or port.name.startswith(name):
                if int(np.prod([d for d in port.shape[1:] if d])) != classes:
                    raise ModelError(f"{self.spec.path}: output '{name}' has shape {port.shape}, "
                                     f"expected {classes} classes")
                return i
        raise ModelError(f"{self.spec.path}: no '{name}' output (has {[p.name for p in self.model.outputs]})")

    def _prepare(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        th, tw = self.spec.input_size
        batch = [cv2.resize(as_bgr(c), (tw, th), interpolation=cv2.INTER_AREA) for c in crops]
        return to_blob(batch, self._mul, self._add, self.spec.channel_order == "RGB")

    def classify(self, crops: Sequence[np.ndarray]) -> list[Attributes]:
        """One Attributes per crop (colour and type probabilities)."""
        out = []
        for start in range(0, len(crops), self.batch):
            x = self._prepare(crops[start:start + self.batch])
            result = self.model.run({self.input_name: x})
            colours = result[self._colour_out].reshape(len(x), -1)
            types = result[self._type_out].reshape(len(x), -1)
            for c, t in zip(colours, types):
                out.append(Attributes(dict(zip(self.colours, map(float, c))), dict(zip(self.types, map(float, t)))))
        return out


def load_attributes(spec: Optional[ModelSpec], device: str = "cpu",
                    threads: Optional[int] = None) -> Optional[AttributeModel]:
    return AttributeModel(spec, device, threads) if spec is not None else None
