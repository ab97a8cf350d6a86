"""Match decisions: colour/type must agree, negative examples refuse a look-alike, and the next
vehicle in line still gets its chance. The attribute model on real photos."""
import cv2
import numpy as np
import pytest

from engine import api
from engine.attributes import load_attributes
from engine.matching import Matcher, MatchRules, VehicleProfile, agreement
from engine.registry import resolve_attributes
from tests.media import FIXTURES, needs_omz


def unit(*values):
    v = np.asarray(values, np.float32)
    return v / np.linalg.norm(v)


def attrs(colour, p=0.9, kind="car"):
    colours = {c: (p if c == colour else (1 - p) / 6) for c in ("white", "gray", "yellow", "red", "green", "blue", "black")}
    types = {t: (0.9 if t == kind else 0.1 / 3) for t in ("car", "bus", "truck", "van")}
    return api.Attributes(colours, types)


@pytest.fixture
def gallery():
    return api.Gallery.build([1, 2], np.stack([unit(1, 0, 0), unit(0.8, 0.6, 0)]))


def test_agreement_is_the_chance_of_the_same_class():
    assert agreement({"a": 1.0}, {"a": 1.0}) == 1.0
    assert agreement({"a": 0.5, "b": 0.5}, {"a": 0.2, "b": 0.8}) == pytest.approx(0.5)


def test_a_confident_colour_disagreement_refuses_and_the_next_vehicle_is_tried(gallery):
    profiles = {1: VehicleProfile(attributes=attrs("white")), 2: VehicleProfile(attributes=attrs("red"))}
    matcher = Matcher(gallery, MatchRules(threshold=0.5), profiles)
    query = unit(0.95, 0.2, 0)  # nearest to 1, within the threshold of both
    decision = matcher.decide(query[None], [attrs("red")])[0]
    assert decision.accepted and decision.gallery_id == 2
    only_one = Matcher(gallery, MatchRules(threshold=0.05), profiles).decide(query[None], [attrs("red")])[0]
    assert not only_one.accepted and only_one.gallery_id == 1 and only_one.reason.startswith("colour: red")
    # A white/grey doubt is no disagreement, and the rule can be turned off.
    assert Matcher(gallery, MatchRules(threshold=0.05), profiles).decide(query[None], [attrs("gray", p=0.5)])[0].accepted
    off = MatchRules(threshold=0.05, min_colour_agreement=0, min_type_agreement=0)
    assert Matcher(gallery, off, profiles).decide(query[None], [attrs("red")])[0].accepted


def test_a_negative_example_refuses_the_look_alike_but_not_the_vehicle(gallery):
    look_alike = unit(0.9, 0.1, 0.42)
    profiles = {1: VehicleProfile(negatives=look_alike[None])}
    matcher = Matcher(gallery, MatchRules(threshold=0.2), profiles)
    refused = matcher.decide(unit(0.9, 0.1, 0.4)[None])[0]  # the look-alike seen again
    assert not refused.accepted and "rejected look-alike" in refused.reason
    assert matcher.decide(unit(1, 0.02, 0)[None])[0].accepted  # the vehicle itself


@needs_omz
def test_attribute_model_names_colour_and_type_of_real_cars():
    model = load_attributes(resolve_attributes())
    red = cv2.imread(str(FIXTURES / "red_car.jpg"))[392:480, 85:222]
    silver = cv2.imread(str(FIXTURES / "street_wagon.jpg"))[419:580, 392:707]
    found = model.classify([red, silver])
    assert found[0].colour == "red" and found[0].type == "car"
    assert found[1].colour in ("white", "gray") and found[1].type in ("car", "van")
    mean = api.Attributes.mean(found)
    assert abs(sum(mean.colours.values()) - 1) < 1e-3
