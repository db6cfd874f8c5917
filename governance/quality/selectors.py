"""Reads of the quality app: a dataset's rules, a version's latest report, why a version fails, column charts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.db.models import QuerySet

from core.storage import local_path
from governance.catalog import hooks
from governance.catalog.models import Dataset, DatasetVersion
from governance.quality.models import QualityReport, QualityRule

HISTOGRAM_BINS = 20
TOP_CATEGORIES = 10
CHART_MAX_COLUMNS = 30


def rules_of(dataset: Dataset, *, status: str | None = None) -> QuerySet[QualityRule]:
    rules = QualityRule.objects.filter(dataset=dataset).select_related("created_by", "suggested_from")
    return rules.filter(status=status) if status else rules


def rules_shown_to(rules: Iterable[QualityRule], *, dataset: Dataset, user: Any) -> list[QualityRule]:
    """The rules with the values of personal-data columns hidden from `user` taken out (see hide_values)."""
    latest = dataset.latest_version()
    hidden = hooks.columns_hidden_from(latest, user) if latest is not None else set()
    return [rule.hide_values(hidden) for rule in rules]


def active_rules(dataset: Dataset) -> QuerySet[QualityRule]:
    return rules_of(dataset, status=QualityRule.Status.ACTIVE).order_by("id")


def previous_version(version: DatasetVersion) -> DatasetVersion | None:
    """The dataset's version before this one (the baseline of distribution_shift)."""
    return version.dataset.versions.filter(number__lt=version.number).order_by("-number").first()


def latest_report(version: DatasetVersion) -> QualityReport | None:
    return QualityReport.objects.filter(version=version).select_related("job").order_by("-created_at", "-id").first()


def report_rules_shown_to(report: QualityReport, *, user: Any) -> list[dict[str, Any]]:
    """The report's rule results; a value-bearing rule on a column hidden from `user` is named without its values."""
    hidden = hooks.columns_hidden_from(report.version, user)
    out = []
    for result in report.rules:
        if result["kind"] in QualityRule.VALUE_BEARING and set(result.get("columns", [])) & hidden:
            result = result | {"name": f"{result['kind']}({', '.join(result['columns'])}) [values hidden]"}
        out.append(result)
    return out


def failing_blocking_rules(version: DatasetVersion) -> list[str]:
    """Names of the blocking rules that the version's latest report failed."""
    report = latest_report(version)
    return report.failing_blocking if report is not None else []


def quality_gate_reasons(version: DatasetVersion) -> list[str]:
    """Why the version may not be trained on for its quality: its latest check failed blocking rules."""
    if version.quality_status != DatasetVersion.QualityStatus.FAILED:
        return []
    names = failing_blocking_rules(version)
    return [f"{version} fails its blocking quality rules: {'; '.join(names) or 'see its quality report'}"]


def column_charts_data(*, version: DatasetVersion, user: Any) -> list[dict[str, Any]]:
    """Per column, what its picture shows: a histogram of a numeric column (bin labels and counts), the top values
    of a text / boolean column. Columns hidden from `user` (personal data) get no picture of their values."""
    hidden = hooks.columns_hidden_from(version, user)
    out: list[dict[str, Any]] = []
    with local_path(version.parquet) as path:
        pfile = pq.ParquetFile(path)
        for field in list(pfile.schema_arrow)[:CHART_MAX_COLUMNS]:
            name, dtype = field.name, field.type
            if name in hidden:
                out.append({"name": name, "kind": "hidden"})
                continue
            numeric = pa.types.is_integer(dtype) or pa.types.is_floating(dtype)
            categorical = pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_boolean(dtype)
            if not (numeric or categorical):
                continue
            column = pfile.read(columns=[name]).column(0).drop_null()
            if not len(column):
                continue
            if numeric:
                values = column.cast(pa.float64()).to_numpy()
                values = values[np.isfinite(values)]
                if not len(values):
                    continue
                counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
                labels = [f"{edges[i]:.4g}" for i in range(len(counts))]
                out.append({"name": name, "kind": "histogram", "bins": labels, "counts": counts.tolist()})
            else:
                vc = pc.value_counts(column.cast(pa.string()))
                order = pc.array_sort_indices(vc.field("counts"), order="descending")
                top = vc.take(order[:TOP_CATEGORIES])
                out.append(
                    {
                        "name": name,
                        "kind": "top_values",
                        "values": [str(v) for v in top.field("values").to_pylist()],
                        "counts": top.field("counts").to_pylist(),
                        "distinct": len(vc),
                    }
                )
    return out
