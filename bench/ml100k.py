"""Load MovieLens 100K (RecBole atomic files) as one Arrow table of rating rows with features."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def _shared_data_dir() -> Path:
    """`../shared/data/ml-100k` beside the checkout; from a worktree (/work/wt/<name>), the nearest
    ancestor that has one. STEWARD_ML100K_DIR (or ML100K_DIR) names another place."""
    named = os.environ.get("STEWARD_ML100K_DIR") or os.environ.get("ML100K_DIR")
    if named:
        return Path(named)
    here = Path(__file__).resolve()
    for parent in here.parents[1:]:
        candidate = parent / "shared" / "data" / "ml-100k"
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "shared" / "data" / "ml-100k"


DEFAULT_DIR = _shared_data_dir()


def read_atomic(path: Path) -> pa.Table:
    """A RecBole atomic file: tab separated, headers like `user_id:token` (the type is dropped)."""
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=False),
    )
    return table.rename_columns([name.split(":")[0] for name in table.column_names])


def load_ml100k(data_dir: Path = DEFAULT_DIR) -> pa.Table:
    inter = read_atomic(data_dir / "ml-100k.inter")
    users = read_atomic(data_dir / "ml-100k.user")
    items = read_atomic(data_dir / "ml-100k.item")
    items = items.rename_columns(
        ["genres" if c == "class" else "title" if c == "movie_title" else c for c in items.column_names]
    )
    # Arrow joins do not keep row order; sort back so seeded splits are reproducible.
    inter = inter.append_column("_row", pa.array(range(inter.num_rows), pa.int64()))
    table = inter.join(users, "user_id", join_type="left outer")
    table = table.join(items, "item_id", join_type="left outer")
    table = table.sort_by("_row").drop_columns(["_row"])
    label = pc.cast(pc.greater_equal(table.column("rating"), 4), pa.int8())
    return table.append_column("label", label)
