"""Match decisions: which gallery vehicle a vector is, or why the near-match was refused.

A candidate is a hit of gallery vehicle V when its cosine distance to V's photos is within the
threshold AND nothing speaks against it:
- colour and type must agree: the chance that both show the same colour (the sum over colours
  of the product of both probabilities) must reach `min_colour_agreement`, and likewise for type.
  Only a confident disagreement refuses (a white/grey doubt keeps a shared share);
- it must not lie closer to one of V's negative examples (views the user rejected as "not this
  vehicle") than to V's own photos, by more than `negative_margin`.
Candidates are tried nearest first, so a look-alike refused for V can still be a hit of W.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from engine.gallery import Gallery
from engine.types import Attributes


@dataclass(frozen=True)
class MatchRules:
    threshold: float  # cosine distance
    min_colour_agreement: float = 0.05  # 0 turns the colour rule off
    min_type_agreement: float = 0.05  # 0 turns the type rule off
    negative_margin: float = 0.02


@dataclass
class VehicleProfile:
    """What the gallery knows about one vehicle beyond its vectors."""

    attributes: Optional[Attributes] = None  # mean over its photos
    negatives: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # rows: unit vectors


@dataclass(frozen=True)
class Decision:
    gallery_id: int
    distance: float
    accepted: bool
    reason: str = ""  # why it was refused


def agreement(a: dict[str, float], b: dict[str, float]) -> float:
    """Probability that two independent class distributions name the same class."""
    return float(sum(p * b.get(k, 0.0) for k, p in a.items()))


class Matcher:
    def __init__(self, gallery: Gallery, rules: MatchRules,
                 profiles: Optional[dict[int, VehicleProfile]] = None, k: int = 5):
        self.gallery, self.rules, self.k = gallery, rules, k
        self.profiles = profiles or {}

    def decide(self, vectors: np.ndarray, attributes: Optional[list] = None) -> list[Optional[Decision]]:
        """Per query vector: the accepted match, else the nearest refusal within the threshold,
        else None."""
        if len(self.gallery) == 0 or len(vectors) == 0:
            return [None] * len(vectors)
        attributes = attributes or [None] * len(vectors)
        results = self.gallery.search(vectors, k=self.k)
        return [self._decide_one(v, found, attrs) for v, found, attrs in zip(vectors, results, attributes)]

    def _decide_one(self, vector, found, attrs) -> Optional[Decision]:
        refused = None
        for gallery_id, distance in found:
            if distance > self.rules.threshold:
                break
            reason = self.objection(int(gallery_id), float(distance), vector, attrs)
            if not reason:
                return Decision(int(gallery_id), float(distance), True)
            refused = refused or Decision(int(gallery_id), float(distance), False, reason)
        return refused

    def objection(self, gallery_id: int, distance: float, vector: np.ndarray,
                  attrs: Optional[Attributes]) -> str:
        """Why `vector` is not gallery vehicle `gallery_id` despite the distance ("" if none)."""
        profile = self.profiles.get(gallery_id)
        if profile is None:
            return ""
        rules = self.rules
        mine = profile.attributes
        if attrs is not None and mine is not None:
            if agreement(attrs.colours, mine.colours) < rules.min_colour_agreement:
                return f"colour: {attrs.colour} ({attrs.colour_p:.0%}), registered {mine.colour} ({mine.colour_p:.0%})"
            if agreement(attrs.types, mine.types) < rules.min_type_agreement:
                return f"type: {attrs.type} ({attrs.type_p:.0%}), registered {mine.type} ({mine.type_p:.0%})"
        if profile.negatives.size and profile.negatives.shape[1] == len(vector):
            nearest = float(1.0 - (profile.negatives @ vector).max())
            if nearest + rules.negative_margin < distance:
                return f"closer to a rejected look-alike ({nearest:.3f}) than to its photos ({distance:.3f})"
        return ""
