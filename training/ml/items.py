"""The item feature table: item id -> the feature values that belong to the item.

A feature belongs to the item when it never varies within one item id in the training data
(title, genres, price), as opposed to features of the user or the request. Serving looks these
up, so a caller can rank candidates given by id alone.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from training.ml.features import FeatureSpec


def item_level_columns(spec: FeatureSpec, train: pa.Table) -> list[str]:
    item = spec.item_column
    assert item is not None
    # List columns (behaviour sequences) vary per interaction: never the item's.
    candidates = [c for c in spec.feature_columns if c not in (item, spec.user_column, *spec.list_columns)]
    if not candidates:
        return []
    key = train.column(item).cast(pa.string())
    probe = pa.table({"__item": key, **{c: _comparable(train.column(c)) for c in candidates}})
    grouped = probe.group_by("__item").aggregate(
        [(c, "count_distinct", pc.CountOptions(mode="all")) for c in candidates]
    )
    return [c for c in candidates if pc.max(grouped.column(f"{c}_count_distinct")).as_py() <= 1]


def item_feature_table(spec: FeatureSpec, tables: list[pa.Table]) -> tuple[pa.Table, list[str]]:
    """(table with the item id as string + item-level columns, those columns); last row wins."""
    item = spec.item_column
    assert item is not None
    columns = item_level_columns(spec, tables[0])
    parts = [t.select([item, *columns]) for t in tables if t.num_rows]
    merged = pa.concat_tables(parts, promote_options="permissive")
    merged = merged.set_column(0, item, merged.column(item).cast(pa.string()))
    merged = merged.filter(pc.is_valid(merged.column(item)))
    if not columns:
        ids = pc.unique(merged.column(item))
        return pa.table({item: ids}), columns
    # The last occurrence of each id: positions of the last row per id, then take them.
    positions = pa.array(range(merged.num_rows), pa.int64())
    last = (
        pa.table({"__item": merged.column(item), "__pos": positions}).group_by("__item").aggregate([("__pos", "max")])
    )
    picked = merged.take(pc.take(last.column("__pos_max"), pc.sort_indices(last.column("__pos_max"))))
    return picked.combine_chunks(), columns


def _comparable(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column
