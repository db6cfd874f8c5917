from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from training.ml.base_model import load_tokenizer
from training.ml.text import TextPool, TokenStore, length_batches, tokenize_texts


class _CountingTokenizer:
    """Wraps a real tokenizer and counts how many strings it was asked to tokenize."""

    def __init__(self, inner):
        self.inner = inner
        self.strings = 0

    def __call__(self, texts, **kw):
        self.strings += len(texts)
        return self.inner(texts, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_pool_keeps_each_distinct_text_once():
    pool = TextPool()
    ids = pool.ids_for(pa.chunked_array([["b", "a", "b", "c", "a"]]))
    assert pool.texts == ["b", "a", "c"]
    assert ids.tolist() == [0, 1, 0, 2, 1]


def test_tokenization_is_cached_by_content_tokenizer_and_length(tiny_base_model, tmp_path):
    tok = _CountingTokenizer(load_tokenizer(tiny_base_model))
    texts = ["the movie about cats", "a story", "dogs"]
    first = tokenize_texts(texts, tok, max_length=8, cache_dir=tmp_path)
    assert tok.strings == 3
    again = tokenize_texts(texts, tok, max_length=8, cache_dir=tmp_path)
    assert tok.strings == 3  # served from the cache file
    np.testing.assert_array_equal(first.input_ids, again.input_ids)
    tokenize_texts(texts, tok, max_length=4, cache_dir=tmp_path)
    assert tok.strings == 6  # another max length is another cache entry
    assert len(list(tmp_path.glob("tokens-*.npz"))) == 2


def test_truncation_respects_max_length(tiny_base_model):
    tok = load_tokenizer(tiny_base_model)
    out = tokenize_texts(["the a of movie story about cats dogs space war"], tok, max_length=5)
    assert out.lengths.tolist() == [5] and out.input_ids.shape == (1, 5)


def test_token_store_trims_batches_and_skips_the_mask_without_padding(tiny_base_model):
    tok = load_tokenizer(tiny_base_model)
    tokens = tokenize_texts(["cats", "the movie about cats dogs"], tok, max_length=16)
    store = TokenStore(tokens, torch.device("cpu"))
    ids, mask = store.batch(np.array([0]))
    assert ids.shape == (1, 3) and mask is None  # [CLS] cats [SEP]
    ids, mask = store.batch(np.array([0, 1]))
    assert ids.shape == (2, 7) and mask.sum(dim=1).tolist() == [3, 7]


def test_length_batches_cover_all_positions_within_the_token_budget():
    lengths = np.array([5, 1, 9, 3, 3, 7, 2])
    batches = length_batches(lengths, max_tokens=12)
    assert sorted(np.concatenate(batches).tolist()) == list(range(7))
    assert all(len(b) * lengths[b].max() <= 12 or len(b) == 1 for b in batches)
