"""A version list resolves every version's hidden columns (and parents) for the whole page at once: its query
count does not grow with the number of versions, and each version shows what its own page shows."""

from __future__ import annotations

import pyarrow as pa
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.catalog.services import dataset_version_derive
from governance.privacy.models import PiiFinding
from governance.privacy.selectors import pii_hidden_columns, pii_hidden_columns_many
from governance.privacy.services import pii_finding_decide

CUSTOMERS = """customer,email,note,qty,zip
Maria Lopez,maria.lopez@example.com,kettle,3,10115
John Smith,john.smith@example.org,teapot,1,20095
"""


def _chain(source, steward, length: int, tag: str = "a") -> list:
    """`length` derived versions, each a child of the one before: renames, selects and a join's second parent."""
    versions, parent = [], source
    for i in range(length):
        table = pa.table({"email": [f"{tag}{i}@example.com"], "qty": [i], f"c{i}": ["x"]})
        if i % 2:
            table = table.rename_columns(["contact", "qty", f"c{i}"])
            params = {"columns": {"email": "contact"}}
            operation = "rename"
        else:
            params, operation = {}, "select"
        parents = [parent, source] if i == 3 else [parent]
        parent = dataset_version_derive(actor=steward, parents=parents, table=table, operation=operation, params=params)
        versions.append(parent)
    return versions


def _list_queries(api, dataset_id: int) -> tuple[int, list[dict]]:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/api/v1/datasets/{dataset_id}/versions/")
    assert response.status_code == 200
    body = response.json()
    return len(queries), body["results"] if isinstance(body, dict) else body


@pytest.mark.django_db
def test_listing_versions_takes_as_many_queries_for_eight_versions_as_for_two(scan_upload, steward, api_as):
    source = scan_upload(CUSTOMERS, name="customers.csv")
    finding = PiiFinding.objects.filter(version=source, column="email").first()
    if finding is not None:  # a steward's decision the batched walk must read as the single one does
        pii_finding_decide(finding=finding, decision=PiiFinding.Decision.ACCEPTED, actor=steward)
    viewer = api_as("viewer")
    _chain(source, steward, 1)
    few, _ = _list_queries(viewer, source.dataset_id)
    _chain(source, steward, 6, tag="b")  # a second chain beside the first: 8 versions in all
    many, listed = _list_queries(viewer, source.dataset_id)
    assert len(listed) == 8
    assert many == few, f"{few} queries for 2 versions, {many} for 8"


@pytest.mark.django_db
def test_each_listed_version_hides_what_its_own_page_hides(scan_upload, steward, api_as):
    source = scan_upload(CUSTOMERS, name="customers.csv")
    versions = [source, *_chain(source, steward, 5)]
    viewer = api_as("viewer")
    _, listed = _list_queries(viewer, source.dataset_id)
    by_id = {v["id"]: v for v in listed}
    for version in versions:
        single = viewer.get(f"/api/v1/dataset-versions/{version.pk}/").json()
        assert by_id[version.pk]["columns"] == single["columns"]
        assert by_id[version.pk]["parents"] == single["parents"]
    assert pii_hidden_columns_many(versions) == {v.pk: pii_hidden_columns(v) for v in versions}
    assert any(c.get("masked") for v in listed for c in v["columns"])
