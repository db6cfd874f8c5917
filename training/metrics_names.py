from __future__ import annotations

# The metrics a model version stores for its test split, in the order pages show them.
COMPARE_METRICS = ("auc", "logloss", "accuracy", "precision", "recall", "f1")
