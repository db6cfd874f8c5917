"""Table transforms on pyarrow tables (no Django). Each takes (tables, params) and returns a list of tables:
one for most operations, one per fraction for `split`. Bad params raise TransformError with a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from governance.catalog.expressions import ExpressionError, compile_expression


class TransformError(ValueError):
    pass


def _columns(table: pa.Table, names: Any, param: str) -> list[str]:
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise TransformError(f"`{param}` must be a non-empty list of column names.")
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise TransformError(f"Unknown column(s) in `{param}`: {', '.join(missing)}.")
    if len(set(names)) != len(names):
        raise TransformError(f"`{param}` names a column more than once.")
    return names


def _column_map(table: pa.Table, params: dict[str, Any], meaning: str) -> dict[str, Any]:
    """`params["columns"]` as a non-empty {existing column: value} object."""
    mapping = params.get("columns")
    if not isinstance(mapping, dict) or not mapping:
        raise TransformError(f"`columns` must map {meaning}.")
    _columns(table, list(mapping), "columns")
    return mapping


def _numeric(table: pa.Table, name: str, advice: str = "") -> pa.ChunkedArray:
    col = table.column(name)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise TransformError(f"Column {name} is not numeric{advice}.")
    return col


def _arrow(message: str, compute: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """compute(*args, **kwargs); an Arrow error becomes a TransformError with `message`, where "{reason}" (if
    present) stands for the first line of Arrow's own message."""
    try:
        return compute(*args, **kwargs)
    except pa.ArrowException as exc:
        raise TransformError(message.replace("{reason}", str(exc).splitlines()[0][:120] if str(exc) else "")) from None


def _replace(table: pa.Table, name: str, values: Any) -> pa.Table:
    """The table with column `name` replaced in place (same position) by `values`."""
    return table.set_column(table.column_names.index(name), name, values)


def _number(params: dict[str, Any], key: str, default: Any, kind: type = float) -> Any:
    value = params.get(key, default)
    try:
        if isinstance(value, bool):
            raise TypeError
        return kind(value)
    except (TypeError, ValueError, OverflowError):
        raise TransformError(f"`{key}` must be a number.") from None


def _rng(params: dict[str, Any]) -> np.random.Generator:
    seed = _number(params, "seed", 0, int)
    if seed < 0:
        raise TransformError("`seed` must be a number >= 0.")
    return np.random.default_rng(seed)


def _name(params: dict[str, Any], key: str, default: str) -> str:
    name = params.get(key) or default
    if not isinstance(name, str) or not name.strip():
        raise TransformError(f"`{key}` must be a column name.")
    return name


def _expr(table: pa.Table, text: Any) -> Any:
    try:
        return compile_expression(text, table.column_names)
    except ExpressionError as exc:
        raise TransformError(str(exc)) from None


def _project(table: pa.Table, name: str, expression: Any) -> pa.Table:
    projection = {n: pc.field(n) for n in table.column_names if n != name} | {name: expression}
    return _arrow(
        "The expression cannot be computed on these column types ({reason}).",
        lambda: pads.dataset(table).to_table(columns=projection),
    )


def op_label(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    """Add a 0/1 column from a boolean expression, e.g. {"column": "label", "expression": "rating >= 4"}."""
    table = tables[0]
    column = _name(params, "column", "label")
    out = _project(table, column, _expr(table, params.get("expression")))
    values = out.column(column)
    if not pa.types.is_boolean(values.type):
        raise TransformError("The label expression must be a comparison (true/false), e.g. rating >= 4.")
    return [_replace(out, column, pc.fill_null(values, False).cast(pa.int8()))]


def op_filter(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    table = tables[0]
    expression = _expr(table, params.get("expression"))
    return [_arrow("The filter cannot be computed ({reason}).", lambda: table.filter(expression))]


def op_dedupe(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    table = tables[0]
    keys = _columns(table, params.get("keys") or table.column_names, "keys")
    keep = params.get("keep", "first")
    if keep not in ("first", "last"):
        raise TransformError("`keep` must be 'first' or 'last'.")
    indexed = table.select(keys).append_column("__row", pa.array(np.arange(table.num_rows)))
    agg = "min" if keep == "first" else "max"
    rows = indexed.group_by(keys, use_threads=False).aggregate([("__row", agg)]).column(f"__row_{agg}")
    return [table.take(pa.array(np.sort(rows.to_numpy())))]


def op_join(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    left, right = tables[0], tables[1]
    on = params.get("on")
    _columns(left, on, "on")
    keys = _columns(right, on, "on")
    how = params.get("how", "inner")
    kinds = {"inner": "inner", "left": "left outer", "right": "right outer", "outer": "full outer"}
    if not isinstance(how, str) or how not in kinds:
        raise TransformError(f"`how` must be one of {', '.join(kinds)}.")
    # Arrow's hash join emits rows in no fixed order; keep the left table's order (then the right's) so the
    # same join gives the same version and a seeded split of it the same rows.
    lrow, rrow = "__steward_left_row", "__steward_right_row"
    left = left.append_column(lrow, pa.array(np.arange(left.num_rows)))
    right = right.append_column(rrow, pa.array(np.arange(right.num_rows)))
    joined = _arrow(
        "The join failed: the key columns' types differ ({reason}).",
        lambda: left.join(right, keys=keys, join_type=kinds[how], right_suffix="_right", use_threads=True),
    )
    order = pc.sort_indices(
        joined.select([lrow, rrow]), sort_keys=[(lrow, "ascending"), (rrow, "ascending")], null_placement="at_end"
    )
    return [joined.take(order).drop_columns([lrow, rrow])]


def op_select(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    return [tables[0].select(_columns(tables[0], params.get("columns"), "columns"))]


def op_drop(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    return [tables[0].drop_columns(_columns(tables[0], params.get("columns"), "columns"))]


def op_rename(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    mapping = _column_map(tables[0], params, "old names to new names")
    names = [mapping.get(n, n) for n in tables[0].column_names]
    if not all(isinstance(n, str) and n.strip() for n in names) or len(set(names)) != len(names):
        raise TransformError("The new column names must be non-empty and unique.")
    return [tables[0].rename_columns(names)]


CAST_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("s"),
    "date": pa.date32(),
}


def op_cast(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    table = tables[0]
    mapping = _column_map(table, params, "column names to types (int, float, string, bool, timestamp, date)")
    for name, type_name in mapping.items():
        if not isinstance(type_name, str) or type_name not in CAST_TYPES:
            raise TransformError(f"Unknown type {type_name!r} for {name}: use one of {', '.join(CAST_TYPES)}.")
        message = f"Column {name} has values that cannot become {type_name}."
        table = _replace(table, name, _arrow(message, pc.cast, table.column(name), CAST_TYPES[type_name], safe=True))
    return [table]


def op_impute(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    table = tables[0]
    strategy = params.get("strategy", "mean")
    for name in _columns(table, params.get("columns"), "columns"):
        col = table.column(name)
        if strategy == "constant":
            fill = params.get("value")
            if fill is None:
                raise TransformError("strategy 'constant' needs `value`.")
        elif strategy in ("mean", "median"):
            col = _numeric(table, name, "; use strategy 'constant' or 'mode'")
            fill = pc.mean(col).as_py() if strategy == "mean" else pc.approximate_median(col).as_py()
            if pa.types.is_integer(col.type):
                col = col.cast(pa.float64())
        elif strategy == "mode":
            # pc.mode has no kernel for strings; value counts work for every type.
            counts = pc.value_counts(col.drop_null())
            tally = counts.field("counts")
            fill = counts.field("values")[pc.index(tally, pc.max(tally)).as_py()].as_py() if len(counts) else None
        else:
            raise TransformError("`strategy` must be mean, median, mode or constant.")
        if fill is not None:
            message = f"The fill value does not fit column {name}'s type."
            col = _arrow(message, _fill_null, col, fill)
        table = _replace(table, name, col)
    return [table]


def _fill_null(values: pa.ChunkedArray, fill: Any) -> pa.ChunkedArray:
    return pc.fill_null(values, pa.scalar(fill).cast(values.type))


def op_clip(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    """Clip numeric outliers to quantiles (`lower`, `upper`, default 0.01 and 0.99)."""
    table = tables[0]
    lower_q, upper_q = _number(params, "lower", 0.01), _number(params, "upper", 0.99)
    if not 0 <= lower_q < upper_q <= 1:
        raise TransformError("Quantiles must satisfy 0 <= lower < upper <= 1.")
    for name in _columns(table, params.get("columns"), "columns"):
        col = _numeric(table, name)
        lo, hi = pc.quantile(col, q=[lower_q, upper_q]).to_pylist()
        if lo is None:
            continue
        clipped = pc.min_element_wise(pc.max_element_wise(col.cast(pa.float64()), lo), hi)
        table = _replace(table, name, clipped)
    return [table]


def split_indices(table: pa.Table, params: dict[str, Any]) -> list[np.ndarray]:
    fractions = params.get("fractions", [0.8, 0.1, 0.1])
    if (
        not isinstance(fractions, list)
        or len(fractions) < 2
        or any(not isinstance(f, (int, float)) or f <= 0 for f in fractions)
        or abs(sum(fractions) - 1.0) > 1e-6
    ):
        raise TransformError("`fractions` must be 2 or more positive numbers that add up to 1.")
    strategy = params.get("strategy", "random")
    rng = _rng(params)
    n = table.num_rows
    bounds = np.cumsum([0.0, *list(fractions)])
    if strategy == "random":
        order = rng.permutation(n)
    elif strategy == "time":
        time_column = _columns(table, params.get("time_column"), "time_column")[0]
        order = np.asarray(pc.sort_indices(table, sort_keys=[(time_column, "ascending")]))
    elif strategy == "user":
        user_column = _columns(table, params.get("user_column"), "user_column")[0]
        users = pc.dictionary_encode(table.column(user_column)).combine_chunks()
        codes = np.asarray(users.indices.fill_null(-1))
        perm = rng.permutation(len(users.dictionary) + 1)
        user_rank = perm[codes + 1] / max(1, len(perm))
        return [
            np.flatnonzero((user_rank >= bounds[i]) & (user_rank < bounds[i + 1] + (i == len(fractions) - 1)))
            for i in range(len(fractions))
        ]
    else:
        raise TransformError("`strategy` must be random, time or user.")
    cuts = np.round(bounds * n).astype(int)
    return [
        np.sort(order[cuts[i] : cuts[i + 1]]) if strategy == "random" else order[cuts[i] : cuts[i + 1]]
        for i in range(len(fractions))
    ]


def op_split(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    return [tables[0].take(pa.array(idx, type=pa.int64())) for idx in split_indices(tables[0], params)]


def op_negative_sampling(tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    """Add `ratio` unobserved (user, item) pairs per positive with label 0; positives get label 1."""
    table = tables[0]
    user_col, item_col = (_columns(table, params.get(k), k)[0] for k in ("user_column", "item_column"))
    ratio = _number(params, "ratio", 1, int)
    label = _name(params, "label_column", "label")
    if not 1 <= ratio <= 20:
        raise TransformError("`ratio` must be between 1 and 20.")
    rng = _rng(params)
    users = np.asarray(table.column(user_col).to_pylist(), dtype=object)
    items_all = np.asarray(pc.unique(table.column(item_col)).to_pylist(), dtype=object)
    seen = set(zip(users.tolist(), table.column(item_col).to_pylist(), strict=True))
    neg_users, neg_items = [], []
    for user in users.tolist():
        for _ in range(ratio):
            for _try in range(10):
                item = items_all[rng.integers(len(items_all))]
                if (user, item) not in seen:
                    neg_users.append(user)
                    neg_items.append(item)
                    break
    positives = table.select([user_col, item_col]).append_column(
        label, pa.array(np.ones(table.num_rows, dtype=np.int8))
    )
    negatives = pa.table(
        {
            user_col: pa.array(neg_users, type=table.schema.field(user_col).type),
            item_col: pa.array(neg_items, type=table.schema.field(item_col).type),
            label: pa.array(np.zeros(len(neg_users), dtype=np.int8)),
        }
    )
    return [pa.concat_tables([positives, negatives])]


OPERATIONS: dict[str, tuple[Callable[[list[pa.Table], dict[str, Any]], list[pa.Table]], str]] = {
    "label": (op_label, '{"column": "label", "expression": "rating >= 4"}'),
    "filter": (op_filter, '{"expression": "event != \'view\'"}'),
    "dedupe": (op_dedupe, '{"keys": ["user_id", "item_id"], "keep": "last"}'),
    "join": (op_join, '{"right": <version id>, "on": ["item_id"], "how": "inner|left|right|outer"}'),
    "select": (op_select, '{"columns": ["a", "b"]}'),
    "drop": (op_drop, '{"columns": ["a"]}'),
    "rename": (op_rename, '{"columns": {"old": "new"}}'),
    "cast": (op_cast, '{"columns": {"price": "float"}}'),
    "impute": (op_impute, '{"columns": ["age"], "strategy": "mean|median|mode|constant", "value": ...}'),
    "clip": (op_clip, '{"columns": ["price"], "lower": 0.01, "upper": 0.99}'),
    "split": (
        op_split,
        '{"strategy": "random|time|user", "fractions": [0.8, 0.1, 0.1], "seed": 0, "time_column": ...}',
    ),
    "negative_sampling": (op_negative_sampling, '{"user_column": "user_id", "item_column": "item_id", "ratio": 1}'),
}


def apply(operation: str, tables: list[pa.Table], params: dict[str, Any]) -> list[pa.Table]:
    if operation not in OPERATIONS:
        raise TransformError(f"Unknown operation {operation!r}: use one of {', '.join(OPERATIONS)}.")
    return OPERATIONS[operation][0](tables, params)
