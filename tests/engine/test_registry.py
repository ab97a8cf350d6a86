"""Registry and runtime tests: shipped entries, user files and registries, and the
errors a user sees for missing or malformed models."""
import json
import warnings

import onnxruntime as ort
import pytest

from engine.detectors import load_detector
from engine.embedder import Embedder
from engine.errors import ModelError
from engine.registry import (
    COCO_NAMES, ModelSpec, list_models, load_registry, models_dir, resolve_detector,
    resolve_embedder,
)
from engine.runtime import available_devices, create_session


def test_shipped_registry():
    reg = load_registry()
    assert reg["default_detector"] == "nanodet-coco"
    assert reg["default_embedder"] == "mobilenetv2-embed"
    det, emb = reg["detectors"]["nanodet-coco"], reg["embedders"]["mobilenetv2-embed"]
    assert det.path.is_file() and emb.path.is_file()
    assert det.card.is_file() and emb.card.is_file()
    assert det.class_names == COCO_NAMES and det.format == "nanodet"
    assert emb.dim == 1280 and 0 < emb.threshold < 1
    assert [(m.kind, m.name) for m in list_models()] == [
        ("detector", "nanodet-coco"), ("embedder", "mobilenetv2-embed")]


def test_resolve_defaults_and_overrides():
    assert resolve_detector().name == "nanodet-coco"
    assert resolve_detector("nanodet-coco", letterbox=False).letterbox is False
    emb = resolve_embedder(None, threshold=0.3)
    assert isinstance(emb, ModelSpec) and emb.threshold == 0.3 and emb.kind == "embedder"


def test_user_onnx_path_gets_yolo_and_reid_defaults():
    path = models_dir() / "mobilenetv2-embed.onnx"  # any existing file will do
    det = resolve_detector(str(path))
    assert (det.format, det.input_size, det.letterbox) == ("yolo", (640, 640), True)
    assert det.class_names == COCO_NAMES
    emb = resolve_embedder(path, input_size=(224, 224))
    assert (emb.channel_order, emb.threshold, emb.input_size) == ("RGB", 0.15, (224, 224))
    assert Embedder(emb).dim == 1280  # dim is read from the model


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match=r"nope\.onnx: model file not found"):
        resolve_detector(tmp_path / "nope.onnx")


def test_unknown_name_lists_known_models():
    with pytest.raises(ModelError, match="unknown embedder 'clip'.*mobilenetv2-embed"):
        resolve_embedder("clip")


def test_unknown_option():
    with pytest.raises(ModelError, match="unknown detector option.*colour"):
        resolve_detector(colour="red")


def test_bad_option_value():
    with pytest.raises(ModelError, match="channel_order"):
        resolve_embedder(channel_order="HSV")


def test_text_file_named_onnx(tmp_path):
    fake = tmp_path / "weights.onnx"
    fake.write_text("this is not a model\n")
    spec = resolve_detector(fake)  # only cheap checks at resolve time
    with pytest.raises(ModelError, match=r"weights\.onnx: not a valid ONNX model"):
        load_detector(spec)
    with pytest.raises(ModelError, match=r"weights\.onnx: not a valid ONNX model"):
        Embedder(resolve_embedder(fake))


def test_empty_file(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match=r"empty\.onnx: model file is empty"):
        resolve_embedder(tmp_path / "empty.onnx")


def test_user_registry_merged_over_default(tmp_path, monkeypatch):
    shipped = models_dir() / "mobilenetv2-embed.onnx"
    user = tmp_path / "my_models.json"
    user.write_text(json.dumps({
        "embedders": {"big": {"path": str(shipped), "input_size": [224, 224],
                              "threshold": 0.25, "dim": 1280}},
        "default_embedder": "big",
    }))
    monkeypatch.setenv("VREID_MODEL_REGISTRY", str(user))
    assert [m.name for m in list_models() if m.kind == "embedder"] == [
        "big", "mobilenetv2-embed"]
    assert resolve_embedder().threshold == 0.25
    assert resolve_detector().name == "nanodet-coco"  # untouched sections remain


@pytest.mark.parametrize("text, message", [
    ("{not json", "not readable JSON"),
    ('{"detectors": []}', "'detectors' must be an object"),
    ('{"embedders": {"x": {"input_size": [224, 224]}}}', "embedder 'x'.*'path'"),
    ('{"embedders": {"x": {"path": "x.onnx", "mean": [0.5]}}}', "embedder 'x'.*mean"),
    ('{"default_detector": "ghost"}', "default_detector 'ghost'"),
])
def test_malformed_user_registry(tmp_path, monkeypatch, text, message):
    user = tmp_path / "bad.json"
    user.write_text(text)
    monkeypatch.setenv("VREID_MODEL_REGISTRY", str(user))
    with pytest.raises(ModelError, match=message):
        load_registry()


def test_models_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv("VREID_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match=r"registry\.json: model registry not found"):
        load_registry()


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(),
                    reason="this onnxruntime build has CUDA: nothing to fall back from")
def test_cuda_request_falls_back_to_cpu_with_warning():
    path = resolve_embedder().path
    with pytest.warns(RuntimeWarning, match="running on CPU"):
        session = create_session(path, device="cuda")
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert "no CUDAExecutionProvider" in session.fallback_reason and available_devices() == ["cpu"]
    with pytest.warns(RuntimeWarning, match="running on CPU"):
        emb = Embedder(resolve_embedder(), device="cuda:0")
    assert emb.embed([]).shape == (0, 1280)


def test_cpu_request_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert create_session(resolve_embedder().path, device="cpu", threads=1).fallback_reason is None


def test_unknown_device():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        create_session(resolve_embedder().path, device="tpu")
