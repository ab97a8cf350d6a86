"""Registry and runtime tests: shipped entries and their defaults, model folders, user files and
registries, the runtimes, and the errors a user sees for missing or malformed models."""
import json
import warnings
from dataclasses import replace

import numpy as np
import onnxruntime as ort
import pytest

from engine import config
from engine.detectors import load_detector
from engine.embedder import Embedder
from engine.errors import ModelError
from engine.registry import (
    COCO_NAMES,
    SHIPPED_REGISTRY,
    ModelSpec,
    default_name,
    list_models,
    load_registry,
    resolve_attributes,
    resolve_detector,
    resolve_embedder,
)
from engine.runtime import available_devices, load_model
from tests.engine.onnx_builders import tiny_embedder
from tests.media import needs_omz

SHIPPED = SHIPPED_REGISTRY.parent


def test_shipped_registry_names_every_model_with_its_source():
    reg = load_registry()
    assert reg["default_detector"] == ["vehicle-ensemble", "vehicle-detection-0202", "nanodet-coco"]
    assert reg["default_embedder"][0] == "vehicle-reid-0001"
    assert reg["default_embedder"][-1] == "mobilenetv2-embed"
    for spec in list_models():
        assert spec.card and spec.card.is_file(), f"{spec.name} needs a model card"
        assert spec.licence
        for item in spec.files:  # downloadable: official URL, size and checksum
            assert item.url.startswith("https://") and item.size and item.checksum[0], item
    reid = reg["embedders"]["vehicle-reid-0001"]
    assert (reid.input_size, reid.dim, reid.channel_order, reid.scale) == ((208, 208), 512, "RGB", 1.0)
    assert reid.files[0].sha384 and reid.files[0].size == 8836743
    nano = reg["detectors"]["nanodet-coco"]
    assert nano.class_names == COCO_NAMES and nano.format == "nanodet" and nano.present


def test_embedded_models_are_the_fallback(model_dirs):
    model_dirs()  # only the shipped folder: the fetched models are missing
    assert default_name("detector") == "nanodet-coco"
    assert default_name("embedder") == "vreid-mnv2-reid"  # our own, shipped
    assert resolve_attributes() is None  # attributes are optional
    with pytest.raises(ModelError, match=r"not downloaded: run `python -m engine models fetch vehicle-detection-0202`"):
        resolve_detector("vehicle-detection-0202")


@needs_omz
def test_vehicle_models_are_the_default_where_present():
    assert resolve_detector().name == "vehicle-ensemble"
    assert resolve_attributes().name == "vehicle-attributes-recognition-barrier-0039"


def test_reid_model_is_the_default_embedder_once_its_file_is_there(model_dirs, tmp_path):
    """Plumbing with a stand-in of the same input/output names and shapes as vehicle-reid-0001."""
    folder = tmp_path / "models"
    folder.mkdir()
    tiny_embedder(folder / "osnet_ain_x1_0_vehicle_reid.onnx", size=(208, 208), dim=512,
                  input_name="input", output_name="output")
    model_dirs(folder)
    spec = resolve_embedder()
    assert spec.name == "vehicle-reid-0001" and spec.path.parent == folder
    embedder = Embedder(spec)
    assert embedder.dim == 512 and embedder.embed([np.zeros((50, 80, 3), np.uint8)]).shape == (1, 512)


def test_resolve_defaults_and_overrides():
    assert resolve_detector("nanodet-coco", letterbox=False).letterbox is False
    emb = resolve_embedder("mobilenetv2-embed", threshold=0.3)
    assert isinstance(emb, ModelSpec) and emb.threshold == 0.3 and emb.kind == "embedder"


def test_user_onnx_path_gets_yolo_and_reid_defaults():
    path = SHIPPED / "mobilenetv2-embed.onnx"  # any existing file will do
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
        resolve_detector("nanodet-coco", colour="red")


def test_bad_option_value():
    with pytest.raises(ModelError, match="channel_order"):
        resolve_embedder("mobilenetv2-embed", channel_order="HSV")


def test_text_file_named_onnx(tmp_path):
    fake = tmp_path / "weights.onnx"
    fake.write_text("this is not a model\n")
    spec = resolve_detector(fake)  # only cheap checks at resolve time
    with pytest.raises(ModelError, match=r"weights\.onnx"):
        load_detector(spec)
    with pytest.raises(ModelError, match=r"weights\.onnx"):
        Embedder(resolve_embedder(fake))


def test_empty_file(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match=r"empty\.onnx: model file is empty"):
        resolve_embedder(tmp_path / "empty.onnx")


def test_user_registry_merged_over_default(tmp_path, engine_env):
    shipped = SHIPPED / "mobilenetv2-embed.onnx"
    user = tmp_path / "my_models.json"
    user.write_text(json.dumps({
        "embedders": {"big": {"path": str(shipped), "input_size": [224, 224],
                              "threshold": 0.25, "dim": 1280}},
        "default_embedder": "big",
    }))
    engine_env(VREID_MODEL_REGISTRY=user)
    assert "big" in [m.name for m in list_models() if m.kind == "embedder"]
    assert resolve_embedder().threshold == 0.25
    assert "nanodet-coco" in load_registry()["detectors"]  # untouched sections remain


@pytest.mark.parametrize("text, message", [
    ("{not json", "not readable JSON"),
    ('{"detectors": []}', "'detectors' must be an object"),
    ('{"embedders": {"x": {"input_size": [224, 224]}}}', "embedder 'x'.*'path'"),
    ('{"embedders": {"x": {"path": "x.onnx", "mean": [0.5]}}}', "embedder 'x'.*mean"),
    ('{"detectors": {"x": {"path": "x.xml", "format": "ssd", "class_names": ["v"], "min_score": 3}}}', "min_score"),
    ('{"default_detector": "ghost"}', "default_detector 'ghost'"),
])
def test_malformed_user_registry(tmp_path, engine_env, text, message):
    user = tmp_path / "bad.json"
    user.write_text(text)
    engine_env(VREID_MODEL_REGISTRY=user)
    with pytest.raises(ModelError, match=message):
        load_registry()


def test_bad_environment_value_is_named(engine_env):
    with pytest.raises(config.ConfigError, match="VREID_CPU_RUNTIME='tensorflow'"):
        engine_env(VREID_CPU_RUNTIME="tensorflow")


# -- runtimes ---------------------------------------------------------------------------
def test_onnx_runs_on_openvino_by_default_and_on_onnxruntime_on_request(engine_env):
    path = SHIPPED / "mobilenetv2-embed.onnx"
    assert load_model(path).runtime == "openvino"
    assert load_model(path, runtime="onnxruntime").runtime == "onnxruntime"
    engine_env(VREID_CPU_RUNTIME="onnxruntime")
    assert load_model(path).runtime == "onnxruntime"


def test_both_runtimes_give_the_same_embedding(bikes_frames):
    spec = resolve_embedder("mobilenetv2-embed")
    crops = [bikes_frames[150][100:200, 200:400], bikes_frames[160][50:150, 300:380]]
    ov = Embedder(spec).embed(crops)
    onnx = Embedder(replace(spec, runtime="onnxruntime")).embed(crops)
    assert abs(ov - onnx).max() < 1e-3


def test_a_graph_openvino_cannot_convert_falls_back_to_onnxruntime():
    # NanoDet's ScatterND does not convert; its registry entry says so, but even without the
    # hint the loader tries the next runtime.
    spec = resolve_detector("nanodet-coco", runtime=None)
    assert load_detector(spec).model.runtime == "onnxruntime"


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(),
                    reason="this onnxruntime build has CUDA: nothing to fall back from")
def test_cuda_request_falls_back_to_cpu_with_warning():
    path = resolve_embedder("mobilenetv2-embed").path
    with pytest.warns(RuntimeWarning, match="running on CPU"):
        model = load_model(path, device="cuda")
    assert model.device == "cpu" and "no CUDA provider" in model.fallback
    with pytest.warns(RuntimeWarning, match="running on CPU"):
        emb = Embedder(resolve_embedder("mobilenetv2-embed"), device="cuda:0")
    assert emb.embed([]).shape == (0, 1280)
    assert available_devices() == ["cpu"]


def test_cpu_request_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load_model(resolve_embedder("mobilenetv2-embed").path, device="cpu", threads=1)
    assert model.fallback == ""


def test_unknown_device():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        load_model(resolve_embedder("mobilenetv2-embed").path, device="tpu")
