"""The neighbourhood term blended into the final logit (training/ml/neighbours.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from serving.scorer import Scorer
from tests.factories import splits
from training.ml import load_artifact, save_artifact
from training.ml import neighbours as nbm
from training.ml.neighbours import Neighbours, fit_neighbours, pick_weight
from training.ml.predictor import Predictor


def _blocks(seed: int, n: int = 6000, users: int = 120, items: int = 60):
    """Users and items in two taste groups: a user likes items of their own group (85 %)."""
    rng = np.random.default_rng(seed)
    u = rng.integers(1, users + 1, n)
    i = rng.integers(1, items + 1, n)
    same = (u % 2) == (i % 2)
    y = (rng.random(n) < np.where(same, 0.85, 0.15)).astype(np.float64)
    return u, i, y


def _fit(u, i, y, k: int = 20) -> Neighbours:
    nb = fit_neighbours(u, i, y, n_users=int(u.max()) + 1, n_items=int(i.max()) + 1, k=k)
    assert nb is not None
    return nb


def test_a_taste_structure_is_found_from_the_neighbours_alone():
    u, i, y = _blocks(0)
    nb = _fit(u[:5000], i[:5000], y[:5000])
    term = nb.term(u[5000:], i[5000:])
    assert roc_auc_score(y[5000:], term) > 0.8
    sim = nb.item_similarity.toarray()
    assert np.all(np.diag(sim) == 0)  # an item is not its own neighbour
    assert np.all(np.diag(nb.user_similarity.toarray()) == 0)
    assert (np.count_nonzero(sim, axis=1) <= 20).all()  # k per item
    # Items of one group are each other's positive neighbours, the other group's negative ones.
    row = sim[2]
    assert row[0::2].sum() > 0 and (row[0::2] >= 0).all() and (row[1::2] <= 0).all()
    assert nb.info["rows"] == 5000 and nb.info["k"] == 20


def test_unknown_users_and_items_get_no_term():
    u, i, y = _blocks(1)
    nb = _fit(u, i, y)
    nb.weight = 2.0
    term = nb.logits(np.array([0, 5, 10_000, 5]), np.array([3, 0, 3, 10_000]))
    assert term.tolist() == [0.0, 0.0, 0.0, 0.0]
    # Rows with an unknown (vocabulary id 0) user or item are left out of the fit too.
    with_unknown = _fit(np.r_[u, [0] * 50], np.r_[i, [7] * 50], np.r_[y, [1.0] * 50])
    assert with_unknown.info["rows"] == len(y)


def test_the_term_is_the_weighted_mean_of_the_neighbours_residuals_for_any_mix_of_users():
    u, i, y = _blocks(2)
    nb = _fit(u, i, y)
    r, seen = nb.residuals.toarray(), nb.seen.toarray()
    s_item, s_user = nb.item_similarity.toarray(), nb.user_similarity.toarray()

    def reference(user: int, item: int) -> float:
        by_items = (s_item[item] * r[user]).sum() / ((np.abs(s_item[item]) * seen[user]).sum() + nbm.LAMBDA)
        by_users = (s_user[user] * r[:, item]).sum() / ((np.abs(s_user[user]) * seen[:, item]).sum() + nbm.LAMBDA)
        return by_items + by_users

    items = np.arange(1, 61)
    one_user = nb.term(np.full(len(items), 7), items)  # a rank request: one user, many items
    np.testing.assert_allclose(one_user, [reference(7, x) for x in items], atol=1e-12)
    rng = np.random.default_rng(0)
    users, some = rng.integers(1, 121, 300), rng.integers(1, 61, 300)  # users interleaved, as a split's rows
    np.testing.assert_allclose(
        nb.term(users, some), [reference(a, b) for a, b in zip(users, some, strict=True)], atol=1e-12
    )
    assert np.abs(one_user).max() > 0.05


def test_a_cell_seen_twice_counts_once_with_its_mean_residual():
    u, i, y = _blocks(3, n=3000)
    nb = _fit(np.r_[u, u[:10]], np.r_[i, i[:10]], np.r_[y, y[:10]])
    assert nb.seen.max() == 1.0
    assert nb.info["cells"] == len(set(zip(u.tolist(), i.tolist(), strict=True)))


def test_the_term_saves_and_loads_unchanged(tmp_path):
    u, i, y = _blocks(4)
    nb = _fit(u, i, y)
    nb.weight = 1.5
    nb.save(tmp_path / "neighbours.npz")
    loaded = Neighbours.load(tmp_path / "neighbours.npz", {"k": 20})
    assert loaded.weight == 1.5 and loaded.info == {"k": 20}
    np.testing.assert_allclose(loaded.logits(u[:500], i[:500]), nb.logits(u[:500], i[:500]), atol=1e-5)


def test_a_side_past_the_size_limit_is_left_out_and_said_so(monkeypatch):
    u, i, y = _blocks(5)
    full = _fit(u, i, y)
    # 60 items: at most 61^2 item similarities; 120 users: 121^2.
    assert full.info["item_entries_bound"] == 61**2 and full.info["user_entries_bound"] == 121**2
    monkeypatch.setattr(nbm, "MAX_ENTRIES", 121**2 - 1)
    nb = _fit(u, i, y)
    assert nb.user_similarity is None and "similarities > " in nb.info["user_left_out"]
    assert nb.item_similarity is not None and "item_left_out" not in nb.info
    assert np.abs(nb.term(u[:100], i[:100])).max() > 0
    monkeypatch.setattr(nbm, "MAX_ENTRIES", 0)
    assert fit_neighbours(u, i, y, n_users=121, n_items=61, k=20) is None


def test_the_busiest_rows_are_sampled_down_to_bound_the_work(monkeypatch):
    u, i, y = _blocks(6)
    full = _fit(u, i, y)
    assert "item_row_cap" not in full.info
    monkeypatch.setattr(nbm, "MAX_WORK", 60_000)  # sum of (cells per user)^2 is about 280,000 here
    capped = _fit(u, i, y)
    cap = capped.info["item_row_cap"]
    cells = np.diff(full.seen.indptr)
    assert (np.minimum(cells, cap) ** 2).sum() <= 60_000 < (np.minimum(cells, cap + 1) ** 2).sum()
    again = _fit(u, i, y)  # seeded: the same sample
    assert (again.item_similarity != capped.item_similarity).nnz == 0
    # The sample is for the similarities only: every cell still counts in the term.
    assert (capped.residuals != full.residuals).nnz == 0
    assert roc_auc_score(y, capped.term(u, i)) > 0.7


def test_validation_weighs_the_term_only_where_it_helps():
    u, i, y = _blocks(6)
    nb = _fit(u[:5000], i[:5000], y[:5000])
    vu, vi, vy = u[5000:], i[5000:], y[5000:]
    # A model that knows nothing: the term is all there is.
    term = nb.term(vu, vi)
    picked = pick_weight(nb, term, np.zeros(len(vy)), vy)
    assert picked["weight"] > 0 and nb.weight == picked["weight"]
    assert picked["blended_valid_auc"] > 0.8 and picked["model_valid_auc"] == 0.5
    # A model that ranks validation perfectly: nothing to add.
    picked = pick_weight(nb, term, np.where(vy > 0, 5.0, -5.0), vy)
    assert picked["weight"] == 0.0 and nb.weight == 0.0
    assert pick_weight(nb, term, np.zeros(len(vy)), np.ones(len(vy))) is None  # one class cannot pick


def test_a_trained_model_records_the_term_and_serving_adds_it_as_training_did(trained, table, spec, tmp_path):
    assert trained.neighbours_info is not None and trained.neighbours_info["k"] == 50
    # Give the version a term whatever validation picked for this tiny table, then score it every way.
    parts = splits(table)
    fields = nbm.id_fields(trained.spec)
    ids = trained.spec.categorical_ids(parts["train_table"])
    heads = trained.head_config.vocab_sizes
    nb = fit_neighbours(
        ids[:, fields[0]],
        ids[:, fields[1]],
        parts["train_table"].column("label").to_numpy(),
        n_users=heads[fields[0]],
        n_items=heads[fields[1]],
        k=10,
    )
    nb.weight = 3.0
    test_rows = parts["test_table"]
    trained.neighbours = None
    without = Predictor.from_training(trained).predict_logits(test_rows)
    trained.neighbours = nb
    trained.neighbours_info = {**trained.neighbours_info, "weight": 3.0, "k": 10}
    fresh = Predictor.from_training(trained)
    test_ids = trained.spec.categorical_ids(test_rows)
    term = nb.logits(test_ids[:, fields[0]], test_ids[:, fields[1]])
    assert np.abs(term).max() > 0.01
    np.testing.assert_allclose(fresh.predict_logits(test_rows), without + term, atol=1e-6)

    path = save_artifact(trained, tmp_path / "v1")
    assert (path / "neighbours.npz").is_file()
    loaded = load_artifact(path, device="cpu")
    assert loaded.neighbours is not None and loaded.neighbours.info["k"] == 10
    np.testing.assert_allclose(loaded.predict_logits(test_rows), without + term, atol=1e-5)

    # The serving scorer: known items on the fast path, and a user's term taken from the user column.
    scorer = Scorer(loaded)
    assert scorer.mode == "fast"
    row = test_rows.slice(0, 1).to_pylist()[0]
    item_level = set(loaded.item_columns) | {spec.item_column, "label"}
    user = {c: v for c, v in row.items() if c not in item_level}
    items = loaded.item_ids()[:12]
    expected = loaded.score(user, items)
    np.testing.assert_allclose(scorer.score([user], items, None), expected, atol=1e-5)
    no_user = scorer.score([{k: v for k, v in user.items() if k != spec.user_column}], items, None)
    assert not np.allclose(no_user, expected, atol=1e-4)  # the term needs the user's id
    # Several users in one batch (candidate i for users[user_of[i]]), on the fast and the full path.
    people = [{**user, spec.user_column: uid} for uid in test_rows.column(spec.user_column).unique().to_pylist()[:3]]
    user_of = np.arange(len(items)) % len(people)
    want = np.array([loaded.score(people[w], [item])[0] for w, item in zip(user_of, items, strict=True)])
    np.testing.assert_allclose(scorer.score(people, items, user_of), want, atol=1e-5)
    scorer.mode = "full"
    np.testing.assert_allclose(scorer.score(people, items, user_of), want, atol=1e-5)

    # An artifact from before the term (no neighbours.npz, no config entry) loads and scores without it.
    (path / "neighbours.npz").unlink()
    config = json.loads((path / "config.json").read_text())
    del config["neighbours"]
    (path / "config.json").write_text(json.dumps(config))
    old = load_artifact(path, device="cpu")
    assert old.neighbours is None
    np.testing.assert_allclose(old.predict_logits(test_rows), without, atol=1e-5)
    assert Scorer(old).mode == "fast"


def test_no_term_without_both_id_columns_or_with_k_0(tiny_base_model, table, spec, fast_params):
    from training.ml import FeatureSpec, train

    assert nbm.id_fields(FeatureSpec(label_column="label", categorical_columns=["a"], item_column="i")) is None
    assert nbm.id_fields(FeatureSpec(label_column="label", user_column="u", item_column="i")) == (0, 1)
    result = train(
        **splits(table), spec=spec, base_model=tiny_base_model, device="cpu", params={**fast_params, "neighbours_k": 0}
    )
    assert result.neighbours is None and result.neighbours_info is None


def test_the_refit_fits_the_term_again_on_train_and_validation_with_the_picked_weight_and_scale():
    from training.ml.batches import EncodedSplit, concat_splits
    from training.ml.features import FeatureSpec
    from training.ml.model import CTRModel, HeadConfig

    spec = FeatureSpec(label_column="label", user_column="u", item_column="i")

    def split(seed: int) -> EncodedSplit:
        u, i, y = _blocks(seed, n=2000)
        return EncodedSplit(
            categorical=np.stack([u, i], axis=1),
            numeric=np.zeros((len(y), 0), dtype=np.float32),
            text_ids=np.zeros((len(y), 0), dtype=np.int64),
            labels=y.astype(np.float32),
        )

    model = CTRModel(None, HeadConfig(vocab_sizes=[121, 61], n_text=0, n_numeric=0, embedding_dim=4))
    train, valid = split(7), split(8)
    nb, info = nbm.blend_neighbours(model, spec, train, valid, np.full(len(valid), 0.5), k=20)
    assert nb is not None and info["weight"] == nb.weight > 0 and info["rows"] == 2000
    assert float(model.logit_scale) == pytest.approx(info["scale"])  # the temperature of the blend
    fresh = CTRModel(None, model.head_config)
    refitted = nbm.refit_neighbours(nb, fresh, spec, concat_splits(train, valid))
    assert refitted.info["refit_rows"] == 4000 and refitted.weight == nb.weight
    assert float(fresh.logit_scale) == pytest.approx(info["scale"])
    assert not np.allclose(
        refitted.term(valid.categorical[:, 0], valid.categorical[:, 1]),
        nb.term(valid.categorical[:, 0], valid.categorical[:, 1]),
    )


def test_a_refit_that_would_lose_a_side_keeps_the_first_fit_and_still_takes_the_scale(monkeypatch):
    from training.ml.batches import EncodedSplit, concat_splits
    from training.ml.features import FeatureSpec
    from training.ml.model import CTRModel, HeadConfig

    spec = FeatureSpec(label_column="label", user_column="u", item_column="i")
    head = HeadConfig(vocab_sizes=[121, 61], n_text=0, n_numeric=0, embedding_dim=4)

    def split(seed: int) -> EncodedSplit:
        u, i, y = _blocks(seed, n=400)  # few cells a row: the bound is the work, not columns^2
        return EncodedSplit(
            categorical=np.stack([u, i], axis=1),
            numeric=np.zeros((len(y), 0), dtype=np.float32),
            text_ids=np.zeros((len(y), 0), dtype=np.int64),
            labels=y.astype(np.float32),
        )

    train, valid = split(9), split(10)
    nb, info = nbm.blend_neighbours(CTRModel(None, head), spec, train, valid, np.full(len(valid), 0.5), k=20)
    assert nb is not None and nb.user_similarity is not None
    # On train + validation a side could hold more similarities than the limit allows.
    monkeypatch.setattr(nbm, "MAX_ENTRIES", max(nb.info["user_entries_bound"], nb.info["item_entries_bound"]))
    merged = concat_splits(train, valid)
    fresh = CTRModel(None, head)
    kept = nbm.refit_neighbours(nb, fresh, spec, merged)
    assert kept is nb and kept.info["refit_kept_first_fit"].startswith("on train + validation ")
    assert float(fresh.logit_scale) == pytest.approx(info["scale"])
