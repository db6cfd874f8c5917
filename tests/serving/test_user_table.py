from __future__ import annotations

from typing import Any

from serving.user_table import build_user_table
from tests.factories import shop_interactions, shop_user


def test_user_table_keeps_the_features_that_belong_to_the_user(predictors: dict[str, Any]) -> None:
    spec = predictors["v1"].spec
    table, columns = build_user_table(spec, [shop_interactions(seed=0)])
    assert sorted(columns) == ["age", "gender"]  # hour varies per request, genre/title/price per item
    rows = {r["user_id"]: r for r in table.to_pylist()}
    assert len(rows) == 20
    expected = shop_user(7)
    assert {k: rows["u7"][k] for k in ("age", "gender")} == {"age": expected["age"], "gender": expected["gender"]}


def test_no_user_table_without_a_user_column(predictors: dict[str, Any]) -> None:
    import dataclasses

    spec = dataclasses.replace(predictors["v1"].spec, user_column=None)
    assert build_user_table(spec, [shop_interactions(seed=0)]) is None
