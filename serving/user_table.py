"""The user table serving derives once per model version and keeps in DATA_DIR/serving/versions/<id>/.

User id -> the features that belong to the user (they never vary within one user
id in the training data: age, gender, occupation), so a caller can send `{"user": 42}` alone. It is
built with training/ml's own item-table code, applied with the user column in the item's place.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from core.storage import local_path
from serving.cache import VersionRef
from training.ml.features import FeatureSpec
from training.ml.items import item_feature_table

log = logging.getLogger(__name__)
USERS_FILE = "users.parquet"


def build_user_table(spec: FeatureSpec, tables: list) -> tuple[object, list[str]] | None:
    """(table of user id + user-level columns, those columns), or None without a user column."""
    if not spec.user_column or not tables:
        return None
    swapped = dataclasses.replace(spec, item_column=spec.user_column, user_column=spec.item_column)
    return item_feature_table(swapped, tables)


def ensure_user_table(ref: VersionRef, spec: FeatureSpec, folder: Path) -> Path | None:
    """Build the user table from the version's training data the first time it loads."""
    target = folder / USERS_FILE
    if target.is_file() or not spec.user_column:
        return target if target.is_file() else None
    from serving.registry import training_data

    names = training_data(ref)
    if not names:
        return None
    tables = []
    for name in names:
        with local_path(name) as path:
            schema = pq.read_schema(path)
            if set(spec.feature_columns) - set(schema.names):
                continue  # not a table of training rows (all features are needed to tell user-level ones)
            tables.append(pq.read_table(path, columns=spec.feature_columns))
    built = build_user_table(spec, tables)
    if built is None:
        return None
    table, columns = built
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".parquet.tmp")
    os.close(fd)
    pq.write_table(table, tmp)
    os.replace(tmp, target)  # several workers may race to build it: each sees a whole file
    log.info(
        "serving: user table for %s v%s: %d users, columns %s",
        ref.model,
        ref.version,
        table.num_rows,
        ", ".join(columns) or "(none)",
    )
    return target
