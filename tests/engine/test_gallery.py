import json

import faiss
import numpy as np
import pytest

from engine.errors import GalleryError
from engine.gallery import Gallery, ivf_params

DIM = 32


def vecs(n, seed=0, dim=DIM):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def test_add_search_normalises_and_reports_cosine_distance():
    x = vecs(50)
    g = Gallery(DIM)
    g.add(range(100, 150), x * 7.0)  # scale must not matter
    assert len(g) == 50 and g.ids() == list(range(100, 150)) and 120 in g
    hits = g.search(x[3], k=3)
    assert len(hits) == 1 and len(hits[0]) == 3
    (best_id, best_d), *rest = hits[0]
    assert best_id == 103 and best_d == pytest.approx(0.0, abs=1e-5)
    assert [d for _, d in hits[0]] == sorted(d for _, d in hits[0])
    assert all(0.0 <= d <= 2.0 for _, d in rest)


def test_several_vectors_per_id_reported_once_with_min_distance():
    rng = np.random.default_rng(1)
    centre = vecs(1, 1)[0]
    photos = centre + 0.3 * rng.standard_normal((20, DIM)).astype(np.float32)
    g = Gallery.build([7] * 20 + list(range(1, 6)), np.vstack([photos, vecs(5, 2)]))
    assert len(g) == 25 and g.ids() == [1, 2, 3, 4, 5, 7]
    hits = g.search(centre, k=4)[0]
    assert hits[0][0] == 7 and len(hits) == 4  # widened the fetch past the 20 duplicates
    assert len({i for i, _ in hits}) == 4
    unit = photos / np.linalg.norm(photos, axis=1, keepdims=True)
    expected = 1 - float((unit @ (centre / np.linalg.norm(centre))).max())
    assert hits[0][1] == pytest.approx(expected, abs=1e-5)
    assert [len(h) for h in g.search(vecs(3, 9), k=50)] == [6, 6, 6]  # k > number of ids


def test_remove_drops_every_vector_of_an_id():
    g = Gallery.build([1, 1, 2, 3], vecs(4))
    g.labels.update({1: "red van", 2: "taxi"})
    assert g.remove([1, 99]) == 2
    assert len(g) == 2 and g.ids() == [2, 3] and g.labels == {2: "taxi"}
    assert all(i != 1 for i, _ in g.search(vecs(4)[0], k=5)[0])


def test_empty_gallery_search():
    assert Gallery(DIM).search(vecs(2), k=5) == [[], []]


def test_save_load_round_trip(tmp_path):
    x = vecs(30)
    g = Gallery.build(list(range(30)), x, embedder="mobilenetv2")
    g.labels[3] = "blue car"
    path = g.save(tmp_path / "gal")
    assert path == tmp_path / "gal" / "gallery.faiss" and (tmp_path / "gal" / "gallery.json").is_file()
    h = Gallery.load(tmp_path / "gal", expect_dim=DIM, expect_embedder="mobilenetv2")
    assert len(h) == 30 and h.ids() == g.ids() and h.labels == {3: "blue car"}
    assert h.embedder == "mobilenetv2" and h.kind == "flat"
    assert h.search(x[:2], 3) == g.search(x[:2], 3)
    h.add([30], vecs(1, 5))  # still usable after loading
    assert len(h) == 31
    other = Gallery.build([1], vecs(1)).save(tmp_path / "x" / "named.faiss")
    assert Gallery.load(other).ids() == [1]


def test_wrong_dimension_errors(tmp_path):
    g = Gallery.build([1], vecs(1))
    with pytest.raises(GalleryError, match="dimension 32"):
        g.add([2], vecs(1, dim=16))
    with pytest.raises(GalleryError, match="dimension 32"):
        g.search(vecs(1, dim=64))
    with pytest.raises(GalleryError, match="2 ids for 1 vectors"):
        g.add([2, 3], vecs(1))
    with pytest.raises(GalleryError, match="zero"):
        g.add([2], np.zeros((1, DIM)))
    g.save(tmp_path)
    with pytest.raises(GalleryError, match=r"gallery\.faiss.*512-d"):
        Gallery.load(tmp_path, expect_dim=512)


def test_embedder_mismatch(tmp_path):
    Gallery.build([1], vecs(1), embedder="mobilenetv2").save(tmp_path)
    with pytest.raises(GalleryError, match="mobilenetv2.*osnet"):
        Gallery.load(tmp_path, expect_embedder="osnet")


def test_corrupt_or_missing_files_name_the_file(tmp_path):
    with pytest.raises(GalleryError, match="gallery.json"):
        Gallery.load(tmp_path / "nothing")
    Gallery.build([1, 2], vecs(2)).save(tmp_path)
    index = tmp_path / "gallery.faiss"
    index.write_bytes(index.read_bytes()[:40])  # truncated
    with pytest.raises(GalleryError, match=r"gallery\.faiss: corrupt"):
        Gallery.load(tmp_path)
    index.write_bytes(b"not a faiss index at all")
    with pytest.raises(GalleryError, match=r"gallery\.faiss: corrupt"):
        Gallery.load(tmp_path)
    (tmp_path / "gallery.json").write_text("{not json")
    with pytest.raises(GalleryError, match=r"gallery\.json: corrupt"):
        Gallery.load(tmp_path)
    meta_dir = tmp_path / "dimlie"
    Gallery.build([1], vecs(1)).save(meta_dir)
    meta = json.loads((meta_dir / "gallery.json").read_text())
    (meta_dir / "gallery.json").write_text(json.dumps({**meta, "dim": 64}))
    with pytest.raises(GalleryError, match="dimension 32"):
        Gallery.load(meta_dir)


def test_unsupported_index_type(tmp_path):
    Gallery.build([1], vecs(1)).save(tmp_path)
    faiss.write_index(faiss.IndexFlatL2(DIM), str(tmp_path / "gallery.faiss"))
    with pytest.raises(GalleryError, match="unsupported"):
        Gallery.load(tmp_path)


def test_ivf_params():
    assert ivf_params(1_000_000) == (4096, 64)
    assert ivf_params(100_000) == (1024, 32)
    assert ivf_params(20_000)[0] == 512
    assert ivf_params(10)[0] == 1


def clustered(n, dim, seed):
    """Clustered unit vectors (ids' photos), like real embeddings; see bench_gallery.py."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n // 10, dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)]
    x += 0.5 * rng.standard_normal(x.shape).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_ivf_index_recall_and_persistence(tmp_path):
    dim, n = 64, 20_000
    x = clustered(n, dim, 3)
    g = Gallery.build(np.arange(n), x, index_kind="ivf")
    assert g.kind == "ivf" and g.nprobe == 32
    rng = np.random.default_rng(4)
    q = x[rng.choice(n, 100, replace=False)] + 0.1 * rng.standard_normal((100, dim)).astype(np.float32)
    exact = Gallery.build(np.arange(n), x, index_kind="flat")
    truth = exact.search(q, 10)
    got = g.search(q, 10)
    recall = np.mean([len({i for i, _ in a} & {i for i, _ in b}) / 10 for a, b in zip(got, truth)])
    assert recall > 0.9

    g.remove([int(truth[0][0][0])])
    assert len(g) == n - 1 and g.search(q[:1], 10)[0][0][0] != truth[0][0][0]
    g.add([n], x[:1])
    g.save(tmp_path)
    h = Gallery.load(tmp_path)
    assert h.kind == "ivf" and h.nprobe == 32 and len(h) == n and h.ids() == g.ids()
    assert h.search(q[:5], 10) == g.search(q[:5], 10)


def test_ivf_is_hnsw_quantised_fp16_and_two_level_trained(monkeypatch, tmp_path):
    """The large-gallery path (HNSW coarse quantizer, fp16 codes, 2-level k-means) at a small size."""
    import engine.gallery as gallery_mod
    monkeypatch.setattr(gallery_mod, "TWO_LEVEL_MIN_NLIST", 64)
    dim, n = 48, 12_000
    x = clustered(n, dim, 6)
    ids = np.arange(n) // 3  # three photos per vehicle
    g = Gallery.build(ids, x, index_kind="ivf")
    index = g._index
    nlist = ivf_params(n)[0]  # 307: capped at 39 training points per list
    assert isinstance(index, faiss.IndexIVFScalarQuantizer) and index.nlist == nlist == 307
    assert index.sq.qtype == faiss.ScalarQuantizer.QT_fp16
    quantizer = faiss.downcast_index(index.quantizer)
    assert isinstance(quantizer, faiss.IndexHNSWFlat) and quantizer.ntotal == nlist
    assert g.nprobe == 32 and quantizer.hnsw.efSearch >= 32
    g.nprobe = 100
    assert quantizer.hnsw.efSearch >= 100
    g.nprobe = 32

    q = x[::97] + 0.05 * np.random.default_rng(7).standard_normal((len(x[::97]), dim)).astype(np.float32)
    exact = Gallery.build(ids, x, index_kind="flat")
    truth, got = exact.search(q, 10), g.search(q, 10)
    recall = np.mean([len({i for i, _ in a} & {i for i, _ in b}) / 10 for a, b in zip(got, truth)])
    assert recall > 0.9
    for a, b in zip(got, truth):  # fp16 codes: distances within ~1e-3 of exact
        if a[0][0] == b[0][0]:
            assert a[0][1] == pytest.approx(b[0][1], abs=2e-3)

    # decoded contents (used to retrain as the gallery grows) match what was added
    got_ids, got_x = g._contents()
    order = np.lexsort((got_x[:, 0], got_ids))
    ref = np.lexsort((x[:, 0], ids))
    assert np.array_equal(got_ids[order], ids[ref])
    assert np.allclose(got_x[order], x[ref], atol=2e-3)

    victim = got[0][0][0]
    assert g.remove([victim]) == 3 and victim not in g and len(g) == n - 3
    assert all(i != victim for i, _ in g.search(q[:1], 10)[0])
    g.save(tmp_path)
    h = Gallery.load(tmp_path)
    assert h.kind == "ivf" and h.nprobe == 32 and len(h) == n - 3
    assert h.search(q[:5], 10) == g.search(q[:5], 10)


def test_loads_old_ivf_flat_gallery(tmp_path):
    x = clustered(2_000, DIM, 8)
    g = Gallery.build(np.arange(2_000), x, index_kind="ivf")
    old = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, 16, faiss.METRIC_INNER_PRODUCT)
    old.train(x)
    old.add_with_ids(x, np.arange(2_000))
    old.nprobe = 16
    g._index = old
    g.save(tmp_path)
    h = Gallery.load(tmp_path)
    assert h.kind == "ivf" and len(h) == 2_000 and h.search(x[5], 1)[0][0][0] == 5
    h.remove([5])
    assert len(h) == 1_999


def test_auto_switches_to_ivf_when_the_gallery_grows(monkeypatch):
    import engine.gallery as gallery_mod
    monkeypatch.setattr(gallery_mod, "AUTO_APPROX_MIN", 5_000)
    x = clustered(8_000, 32, 5)
    g = Gallery(32)
    g.add(np.arange(4_000) // 2, x[:4_000])  # two vectors per id
    assert g.kind == "flat"
    g.add(np.arange(4_000, 8_000) // 2, x[4_000:])  # crosses the threshold: rebuilt as IVF
    assert g.kind == "ivf" and len(g) == 8_000 and g.ids() == list(range(4_000))
    assert g.search(x[10], k=1)[0][0] == (5, pytest.approx(0.0, abs=1e-5))


def test_unknown_kind():
    with pytest.raises(GalleryError, match="kind"):
        Gallery(DIM, index_kind="hnsw")


def test_widening_tracks_vectors_per_id_across_add_and_remove():
    rng = np.random.default_rng(11)
    centre = vecs(1, 12)[0]
    g = Gallery.build(range(10), vecs(10, 13))
    g.add([99] * 30, centre + 0.2 * rng.standard_normal((30, DIM)).astype(np.float32))
    assert len(g.search(centre, k=5)[0]) == 5  # 30 vectors of id 99 must not starve the rest
    g.remove([99])
    g.add([50] * 3, np.repeat(centre[None], 3, 0))
    hits = g.search(centre, k=11)[0]
    assert hits[0][0] == 50 and len(hits) == 11 and len({i for i, _ in hits}) == 11


def test_ivf_training_survives_data_of_a_few_dense_groups():
    """Footage of one camera is the same few parked cars again and again: two-level k-means must
    give every group at least one list (faiss.contrib's split gave small groups none, and raised)."""
    from engine.gallery import _train_centroids

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16))
    x = np.concatenate([c + 0.01 * rng.normal(size=(8000, 16)) for c in centres] + [rng.normal(size=(20, 16))])
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    centroids = _train_centroids(x, 1024)
    assert 5 <= len(centroids) <= 1024 + 32 and np.allclose(np.linalg.norm(centroids, axis=1), 1, atol=1e-4)
