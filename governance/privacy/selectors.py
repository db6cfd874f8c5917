"""Reads of the privacy app: scans and findings, the training gate, what a version's policy would mask.

Nothing here writes; services.py does the writes and reads through these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.db.models import Exists, QuerySet

from core.errors import ServiceError
from core.parquet import parquet_for_batches
from core.roles import has_capability
from core.storage import local_path
from governance.catalog.ingest import read_rows
from governance.catalog.models import Dataset, DatasetVersion, LineageEdge
from governance.privacy.engines import analyzer, masking_secrets
from governance.privacy.models import CustomRecognizer, MaskingPolicy, PiiFinding, PiiScan

SpanFinder = Callable[[list[str], Any], list[list[Any]]]

# What the policy editor proposes for a flagged column, by entity type.
SUGGESTED_OPERATORS: dict[str, tuple[str, dict[str, Any]]] = {
    "EMAIL_ADDRESS": ("hash", {}),
    "PERSON": ("pseudonymize", {}),
    "PHONE_NUMBER": ("mask", {"chars_to_keep": 2}),
    "STREET_ADDRESS": ("replace", {}),
    "CREDIT_CARD": ("mask", {"chars_to_keep": 4}),
    "NATIONAL_ID": ("hash", {}),
    "US_SSN": ("hash", {}),
    "DATE_OF_BIRTH": ("generalize", {"kind": "date"}),
    "ZIP_CODE": ("generalize", {"kind": "zip"}),
    "IBAN_CODE": ("encrypt", {}),
    "USERNAME": ("hash", {}),
    "LOCATION": ("replace", {}),
    "IP_ADDRESS": ("hash", {}),
}


def version_list() -> QuerySet[DatasetVersion]:
    """Dataset versions with their dataset, for the privacy pages and API to look one up."""
    return DatasetVersion.objects.select_related("dataset")


def unresolved_version_list() -> QuerySet[DatasetVersion]:
    """Versions whose latest scan has findings not yet masked or rejected."""
    return version_list().filter(pii_status=DatasetVersion.PiiStatus.UNRESOLVED)


def scan_list(*, version: DatasetVersion | None = None) -> QuerySet[PiiScan]:
    """Scans newest first, with their version and their job (which holds their status); of one version if given."""
    scans = PiiScan.objects.select_related("version__dataset", "job")
    return scans.filter(version=version) if version is not None else scans


def finding_list() -> QuerySet[PiiFinding]:
    return PiiFinding.objects.select_related("version__dataset", "scan", "decided_by")


def custom_recognizer_list(*, dataset: Dataset | None = None) -> QuerySet[CustomRecognizer]:
    recognizers = CustomRecognizer.objects.all()
    return recognizers.filter(dataset=dataset) if dataset is not None else recognizers


def masking_policy_list(*, dataset: Dataset) -> QuerySet[MaskingPolicy]:
    """The dataset's saved policies, by name."""
    return MaskingPolicy.objects.filter(dataset=dataset)


def latest_scan(version: DatasetVersion, *, including: PiiScan | None = None) -> PiiScan | None:
    """The version's latest succeeded scan: the one its findings and pii_status come from.

    ``including`` counts as succeeded although its job is still running (it succeeds in the caller's transaction).
    """
    scans = version.pii_scans.succeeded()
    if including is not None:
        scans |= version.pii_scans.filter(pk=including.pk)
    return scans.order_by("-created_at", "-id").first()


def scan_in_flight(version: DatasetVersion, *, excluding: PiiScan | None = None) -> bool:
    """Whether a scan of the version (other than ``excluding``) is queued or running."""
    scans = version.pii_scans.in_flight()
    if excluding is not None:
        scans = scans.exclude(pk=excluding.pk)
    return scans.exists()


def pii_gate_reasons(dataset_version: DatasetVersion) -> list[str]:
    """Why a training job may not use this version; empty when its PII is resolved.

    A version never scanned, or whose scan is still running, counts as unresolved.
    """
    version = dataset_version
    running = scan_in_flight(version)
    scan = latest_scan(version)
    if scan is None:
        if running:
            return [f"{version} is being scanned for PII; wait for the scan to finish"]
        return [f"{version} has not been scanned for PII; start a scan and review its findings"]
    reasons = []
    if running:
        reasons.append(f"{version} is being rescanned for PII; wait for the scan to finish")
    for finding in scan.findings.order_by("column"):
        if finding.decision == PiiFinding.Decision.PENDING:
            reasons.append(f"column {finding.column!r}: {finding.entity_type} finding awaits a steward's review")
        elif finding.decision == PiiFinding.Decision.ACCEPTED:
            reasons.append(
                f"column {finding.column!r} holds {finding.entity_type} and is not masked; "
                "mask it to get a trainable version"
            )
    return reasons


def flagged_columns(version: DatasetVersion) -> set[str]:
    """Columns of the latest scan whose raw values count as personal data."""
    return _flagged(latest_scan(version))


def _flagged(scan: PiiScan | None) -> set[str]:
    if scan is None:
        return set()
    return set(
        scan.findings.exclude(decision__in=[PiiFinding.Decision.REJECTED, PiiFinding.Decision.MASKED]).values_list(
            "column", flat=True
        )
    )


def _latest_scan_and_in_flight(version: DatasetVersion) -> tuple[PiiScan | None, bool]:
    """latest_scan and whether a scan is in flight, in one query (the in-flight answer only matters once there
    is a succeeded scan: without one every text column is hidden anyway)."""
    in_flight = PiiScan.objects.in_flight().filter(version_id=version.pk)
    scan = version.pii_scans.succeeded().annotate(busy=Exists(in_flight)).order_by("-created_at", "-id").first()
    return scan, bool(scan is not None and scan.busy)


# How far up the lineage a version looks for its parents' flagged columns; a longer chain hides every column.
MAX_LINEAGE_DEPTH = 32


def is_string_typed(dtype: str) -> bool:
    """Whether a column's Arrow type (as the profile writes it) can hold text: strings, binaries, and lists,
    structs, maps or dictionaries of them; an unknown type counts as text (fail closed)."""
    return not dtype or any(word in dtype for word in ("string", "utf8", "binary"))


def _renamed(edge: LineageEdge, names: set[str]) -> set[str]:
    """A parent's column names as the child of `edge` calls them: renames followed, a join's right-hand
    collisions (suffixed `_right`) included."""
    if edge.operation == "rename" and isinstance(edge.params.get("columns"), dict):
        mapping = {k: v for k, v in edge.params["columns"].items() if isinstance(k, str) and isinstance(v, str)}
        return {mapping.get(name, name) for name in names}
    if edge.operation == "join":
        return names | {f"{name}_right" for name in names}
    return names


def pii_hidden_columns(version: DatasetVersion) -> set[str]:
    """The columns of `version` whose raw values no role without pii.manage may see: fails closed.

    Raw values show only once the version has a succeeded scan and no scan in flight, and then only for columns
    that are clean or whose finding a steward rejected (or that a policy masked). Until then every string-typed
    column is hidden, with every column flagged in the latest succeeded scan, and, while the version has no
    succeeded scan of its own, every column its lineage parents hide (followed through renames).
    """
    return _hidden(version, depth=0, memo={}, facts=_Queried())


def pii_hidden_columns_many(versions: list[DatasetVersion]) -> dict[int, set[str]]:
    """`pii_hidden_columns` of each version (by id), with the scans, findings and lineage of all of them and of
    their unscanned ancestors read a few queries per lineage level, not per version: for lists."""
    facts = _Batched(versions)
    # A walk of its own per version, as pii_hidden_columns does (where a cycle is cut depends on where it starts).
    return {v.pk: _hidden(v, depth=0, memo={}, facts=facts) for v in versions}


class _Queried:
    """What `_hidden` needs of a version, asked of the database one version at a time: its latest succeeded scan
    and whether one is in flight in one query (every labeling `next` asks), its flagged columns in another."""

    def __init__(self) -> None:
        self._scans: dict[int, tuple[PiiScan | None, bool]] = {}

    def _scan(self, version: DatasetVersion) -> tuple[PiiScan | None, bool]:
        if version.pk not in self._scans:
            self._scans[version.pk] = _latest_scan_and_in_flight(version)
        return self._scans[version.pk]

    def scanned(self, version: DatasetVersion) -> bool:
        return self._scan(version)[0] is not None

    def in_flight(self, version: DatasetVersion) -> bool:
        return self._scan(version)[1]

    def flagged(self, version: DatasetVersion) -> set[str]:
        return _flagged(self._scan(version)[0])

    def edges(self, version: DatasetVersion) -> list[LineageEdge]:
        return list(
            LineageEdge.objects.filter(target_type="dataset_version", target_id=version.pk).select_related("source")
        )


class _Batched(_Queried):
    """The same answers, read for a set of versions at once, then level by level for the parents of the unscanned
    ones (the only ones whose lineage counts), up to MAX_LINEAGE_DEPTH levels."""

    def __init__(self, versions: list[DatasetVersion]) -> None:
        super().__init__()
        self._scanned: set[int] = set()
        self._in_flight: set[int] = set()
        self._flagged: dict[int, set[str]] = {}
        self._edges: dict[int, list[LineageEdge]] = {}
        self._loaded: set[int] = set()
        level = {v.pk for v in versions}
        for _ in range(MAX_LINEAGE_DEPTH + 2):
            level -= self._loaded
            if not level:
                break
            self._load(level)
            level = {e.source_id for pk in level if pk not in self._scanned for e in self._edges.get(pk, [])}

    def _load(self, ids: set[int]) -> None:
        self._loaded |= ids
        latest: dict[int, int] = {}
        for version_id, scan_id in (
            PiiScan.objects.succeeded()
            .filter(version_id__in=ids)
            .order_by("version_id", "-created_at", "-id")
            .values_list("version_id", "id")
        ):
            latest.setdefault(version_id, scan_id)
        self._scanned |= set(latest)
        self._in_flight |= set(
            PiiScan.objects.in_flight().filter(version_id__in=ids).values_list("version_id", flat=True)
        )
        by_scan = {scan_id: version_id for version_id, scan_id in latest.items()}
        for scan_id, column in (
            PiiFinding.objects.filter(scan_id__in=list(by_scan))
            .exclude(decision__in=[PiiFinding.Decision.REJECTED, PiiFinding.Decision.MASKED])
            .values_list("scan_id", "column")
        ):
            self._flagged.setdefault(by_scan[scan_id], set()).add(column)
        unscanned = ids - self._scanned
        if unscanned:
            for edge in LineageEdge.objects.filter(
                target_type="dataset_version", target_id__in=unscanned
            ).select_related("source"):
                self._edges.setdefault(edge.target_id, []).append(edge)

    def scanned(self, version: DatasetVersion) -> bool:
        return version.pk in self._scanned if version.pk in self._loaded else super().scanned(version)

    def in_flight(self, version: DatasetVersion) -> bool:
        return version.pk in self._in_flight if version.pk in self._loaded else super().in_flight(version)

    def flagged(self, version: DatasetVersion) -> set[str]:
        return set(self._flagged.get(version.pk, ())) if version.pk in self._loaded else super().flagged(version)

    def edges(self, version: DatasetVersion) -> list[LineageEdge]:
        return self._edges.get(version.pk, []) if version.pk in self._loaded else super().edges(version)


def _hidden(version: DatasetVersion, *, depth: int, memo: dict[int, set[str] | None], facts: _Queried) -> set[str]:
    names = set(version.column_names)
    if depth > MAX_LINEAGE_DEPTH:
        return names
    if version.pk in memo:
        # Computed already (a diamond in the lineage), or being computed: a cycle (a transform whose output is
        # byte-identical to an ancestor adds an edge back to it) adds nothing the walk has not seen.
        return (memo[version.pk] or set()) & names
    memo[version.pk] = None
    scanned = facts.scanned(version)
    if scanned and not facts.in_flight(version):
        hidden = facts.flagged(version) & names
    else:
        hidden = {c["name"] for c in version.columns if is_string_typed(str(c.get("dtype", "")))}
        hidden |= facts.flagged(version)
        if not scanned:
            for edge in facts.edges(version):
                hidden |= _renamed(edge, _hidden(edge.source, depth=depth + 1, memo=memo, facts=facts))
        hidden &= names
    memo[version.pk] = hidden
    return hidden


def hidden_pii_columns(version: Any, user: Any) -> set[str]:
    """catalog hook, the one rule for who sees raw values: nothing is hidden from a role with pii.manage;
    for every other role, `pii_hidden_columns`."""
    if has_capability(user, "pii.manage"):
        return set()
    return pii_hidden_columns(version)


def hidden_pii_columns_many(versions: list[Any], user: Any) -> dict[int, set[str]]:
    """`hidden_pii_columns` of each version (by id), batched for lists."""
    if has_capability(user, "pii.manage"):
        return {v.pk: set() for v in versions}
    return pii_hidden_columns_many(versions)


def review_queue() -> QuerySet[PiiFinding]:
    """Pending findings of each version's latest scan, oldest first."""
    latest_ids = list(
        PiiScan.objects.succeeded()
        .order_by("version_id", "-created_at", "-id")
        .distinct()
        .values_list("version_id", "id")
    )
    seen: set[int] = set()
    scan_ids = []
    for version_id, scan_id in latest_ids:
        if version_id not in seen:
            seen.add(version_id)
            scan_ids.append(scan_id)
    return (
        PiiFinding.objects.filter(scan_id__in=scan_ids, decision=PiiFinding.Decision.PENDING)
        .select_related("version__dataset", "scan")
        .order_by("scan__created_at", "id")
    )


def scan_columns(scan: PiiScan) -> list[dict[str, Any]]:
    """The scan's columns in the API shape, with each flagged column's finding and decision."""
    findings = {f.column: f for f in scan.findings.all()}
    out = []
    for column in scan.columns:
        finding = findings.get(column["name"])
        out.append(
            {
                "name": column["name"],
                "dtype": column.get("dtype"),
                "entity_type": column.get("entity_type"),
                "share": column.get("share", 0.0),
                "score": column.get("score", 0.0),
                "kind": column.get("kind"),
                "recognizers": column.get("recognizers", []),
                "snippets": column.get("snippets", []),
                "reasons": column.get("reasons", []),
                "language": column.get("language", "en"),
                "skipped": column.get("skipped"),
                "entities": [
                    {k: e[k] for k in ("entity_type", "share", "score")} for e in column.get("entities", [])[:5]
                ],
                "finding": finding.pk if finding else None,
                "decision": finding.decision if finding else None,
            }
        )
    return out


def masked_columns(version: DatasetVersion) -> dict[str, str]:
    """Columns this version got masked by the policy that produced it (column -> operator)."""
    out: dict[str, str] = {}
    for edge in LineageEdge.objects.filter(target_type="dataset_version", target_id=version.pk, operation="mask"):
        for column, rule in (edge.params.get("policy", {}).get("columns") or {}).items():
            out[column] = rule.get("operator", "")
    return out


def scan_column_kinds(version: DatasetVersion) -> tuple[dict[str, str], dict[str, str | None]]:
    """Column kinds and entity types from the version's latest scan (for default scopes)."""
    scan = latest_scan(version)
    kinds: dict[str, str] = {}
    types: dict[str, str | None] = {}
    for column in scan.columns if scan else []:
        if column.get("kind"):
            kinds[column["name"]] = column["kind"]
            types[column["name"]] = column.get("entity_type")
    return kinds, types


def read_version_table(version: DatasetVersion, columns: list[str] | None = None) -> pa.Table:
    with local_path(version.parquet) as path:
        return pq.read_table(path, columns=columns, memory_map=True)


def read_row_range(version: DatasetVersion, start: int, stop: int) -> pa.Table:
    """Rows start..stop, decoding only the row groups that hold them."""
    with local_path(version.parquet) as path:
        return read_rows(path, max(0, start), max(0, stop - start))[1]


def read_sample(version: DatasetVersion, n: int, *, seed: int) -> pa.Table:
    """Up to n rows spread over the version (all of them when it is small), in file order.

    The rows are drawn as `classify.sample_values` draws them from a whole column, but the table is read one row
    group at a time and only the drawn rows are kept: memory holds one row group and the sample, whatever the
    table's size.
    """
    with local_path(version.parquet) as path:
        pfile = pq.ParquetFile(path)
        total = pfile.metadata.num_rows
        if total <= n:
            return pfile.read()
        picked = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
        parts, start = [], 0
        for group in range(pfile.num_row_groups):
            rows = pfile.metadata.row_group(group).num_rows
            lo, hi = np.searchsorted(picked, [start, start + rows])
            if hi > lo:
                table = pfile.read_row_group(group)
                parts.append(table.take(pa.array(picked[lo:hi] - start)))
            start += rows
        return pa.concat_tables(parts)


def column_values(version: DatasetVersion, column: str, *, limit: int, batch_rows: int = 4096) -> list[Any]:
    """Up to `limit` non-empty values of one column from the start of the version, read batch by batch."""
    values: list[Any] = []
    with local_path(version.parquet) as path:
        for batch in parquet_for_batches(path).iter_batches(batch_size=batch_rows, columns=[column]):
            values.extend(v for v in batch.column(0).to_pylist() if v is not None and str(v).strip())
            if len(values) >= limit:
                break
    return values[:limit]


def dataset_recognizers(dataset: Dataset) -> list[Any]:
    """The dataset's enabled custom recognizers, built from their specs, sharing one regex time budget."""
    from governance.privacy.recognizers.custom import RegexBudget, recognizer_from_spec

    budget = RegexBudget()
    return [recognizer_from_spec(r.spec, budget=budget) for r in dataset.pii_recognizers.filter(enabled=True)]


def lineage_dataset_ids(version: DatasetVersion) -> list[int]:
    """The version's dataset, then the datasets of its lineage ancestors (nearest first, each once)."""
    out = [version.dataset_id]
    frontier, seen = [version.pk], {version.pk}
    for _ in range(MAX_LINEAGE_DEPTH):
        parents = list(
            LineageEdge.objects.filter(target_type="dataset_version", target_id__in=frontier)
            .exclude(source_id__in=seen)
            .values_list("source_id", "source__dataset_id")
        )
        if not parents:
            break
        frontier = []
        for source_id, dataset_id in parents:
            if source_id not in seen:
                seen.add(source_id)
                frontier.append(source_id)
            if dataset_id not in out:
                out.append(dataset_id)
    return out


def version_recognizers(version: DatasetVersion) -> list[Any]:
    """The custom recognizers a scan of `version` runs: its dataset's and, for a version derived into another
    dataset, those of every dataset up its lineage (a derived dataset keeps its sources' recognizers)."""
    from governance.privacy.recognizers.custom import recognizer_from_spec

    ids = lineage_dataset_ids(version)
    recognizers = CustomRecognizer.objects.filter(dataset_id__in=ids, enabled=True).order_by("name", "id")
    by_name: dict[str, Any] = {}
    for recognizer in sorted(recognizers, key=lambda r: ids.index(r.dataset_id)):
        # One recognizer per name: the version's own dataset's wins over an ancestor's of the same name.
        by_name.setdefault(recognizer.name, recognizer_from_spec(recognizer.spec))
    return list(by_name.values())


def span_finder(version: DatasetVersion) -> SpanFinder:
    """find(texts, entities) -> analyzer results per text, with the custom recognizers of its lineage."""
    engine = analyzer()
    recognizers = version_recognizers(version)

    def find(texts: list[str], entities: Any) -> list[list[Any]]:
        return engine.analyze_batch(texts, entities=entities, ad_hoc_recognizers=recognizers)

    return find


def masking_rules(*, version: DatasetVersion, policy: Any) -> list[Any]:
    """Validate a policy against the version; ServiceError (400) names the problem."""
    from governance.privacy.masking import PolicyError, validate_policy

    if isinstance(policy, dict):
        for name, spec in (policy.get("columns") or {}).items() if isinstance(policy.get("columns"), dict) else []:
            if isinstance(spec, dict) and isinstance(spec.get("params"), dict) and "key" in spec["params"]:
                raise ServiceError(
                    "a policy never carries a key: the encryption key comes from STEWARD_PII_ENCRYPTION_KEY",
                    field=f"columns.{name}.params.key",
                )
    with local_path(version.parquet) as path:
        schema = pq.read_schema(path)
    kinds, types = scan_column_kinds(version)
    try:
        return validate_policy(policy, schema=schema, secrets=masking_secrets(), column_kinds=kinds, entity_types=types)
    except PolicyError as exc:
        raise ServiceError(exc.message, field=exc.field) from None


def masked_rows(*, version: DatasetVersion, policy: Any, start: int, stop: int) -> tuple[pa.Table, pa.Table]:
    """Rows start..stop of the version, before and after the policy (validated: ServiceError names a problem)."""
    from governance.privacy.masking import mask_table

    rules = masking_rules(version=version, policy=policy)
    table = read_row_range(version, start, stop)
    _, types = scan_column_kinds(version)
    masked = mask_table(table, rules, secrets=masking_secrets(), find_spans=span_finder(version), entity_types=types)
    return table, masked


def mask_preview(*, version: DatasetVersion, policy: Any, rows: int = 20) -> tuple[list[str], list[dict], list[dict]]:
    """(columns, before, after) for the first `rows` rows; for the policy editor (stewards only)."""
    table, masked = masked_rows(version=version, policy=policy, start=0, stop=rows)
    return table.column_names, _rows(table), _rows(masked)


def _rows(table: pa.Table) -> list[dict]:
    rows = table.to_pylist()
    for row in rows:
        for key, value in row.items():
            if hasattr(value, "isoformat"):
                row[key] = value.isoformat()
    return rows


def suggested_policy(version: DatasetVersion) -> dict[str, Any]:
    """What the policy editor starts from: the dataset's last saved policy (its columns this version has), else
    an operator for each flagged column of the latest scan not yet rejected or masked."""
    saved = masking_policy_list(dataset=version.dataset).order_by("-updated_at").first()
    if saved is not None:
        return {"columns": {c: r for c, r in saved.policy.get("columns", {}).items() if c in version.column_names}}
    scan = latest_scan(version)
    columns = {}
    for c in scan_columns(scan) if scan else []:
        if c["entity_type"] and c["decision"] in ("pending", "accepted"):
            if c["kind"] == "free_text":
                columns[c["name"]] = {"operator": "replace", "params": {}}
            else:
                op, params = SUGGESTED_OPERATORS.get(c["entity_type"], ("hash", {}))
                columns[c["name"]] = {"operator": op, "params": params}
    return {"columns": columns}
