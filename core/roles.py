"""Roles are Django groups; what each may do is one table, enforced by API permissions and page mixins."""

from __future__ import annotations

from typing import Any

STEWARD = "steward"
ANNOTATOR = "annotator"
ML_ENGINEER = "ml_engineer"
VIEWER = "viewer"
ROLES = (STEWARD, ANNOTATOR, ML_ENGINEER, VIEWER)

CAPABILITIES: dict[str, frozenset[str]] = {
    # the catalog: see datasets, versions, schemas, lineage, (masked) rows
    "catalog.read": frozenset({STEWARD, ML_ENGINEER, VIEWER}),
    # create datasets, upload versions, run transforms
    "catalog.write": frozenset({STEWARD, ML_ENGINEER}),
    # see raw values of PII columns, review findings, mask, custom recognizers, decrypt
    "pii.manage": frozenset({STEWARD}),
    # analyze free texts for PII
    "pii.analyze": frozenset({STEWARD, ML_ENGINEER}),
    "jobs.read": frozenset({STEWARD, ML_ENGINEER, VIEWER}),
    # a failed job's full error with its traceback (others read the reason without internals)
    "jobs.debug": frozenset({STEWARD}),
    "audit.read": frozenset({STEWARD}),
    # see quality rules and reports of datasets
    "quality.read": frozenset({STEWARD, ML_ENGINEER, VIEWER}),
    # write quality rules, accept or reject suggested ones
    "quality.manage": frozenset({STEWARD}),
    # run a quality check of a version on demand
    "quality.check": frozenset({STEWARD, ML_ENGINEER}),
    "labeling.annotate": frozenset({STEWARD, ANNOTATOR}),
    "labeling.manage": frozenset({STEWARD}),
    "models.read": frozenset({STEWARD, ML_ENGINEER, VIEWER}),
    "models.train": frozenset({STEWARD, ML_ENGINEER}),
    "models.manage": frozenset({STEWARD, ML_ENGINEER}),
    "serving.score": frozenset({STEWARD, ML_ENGINEER, VIEWER}),
}


def user_roles(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_steward_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._steward_roles = cached
    return cached


def has_capability(user: Any, capability: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    allowed = CAPABILITIES.get(capability)
    if allowed is None:
        raise KeyError(f"unknown capability {capability!r}")
    return bool(user_roles(user) & allowed)
