"""The privacy matrix: every endpoint and page that returns row values, profiles or previews, for every role
without pii.manage, over a freshly uploaded (scan queued), an unscanned, a failed-scan, a derived and a scanned
version. Unique marker values sit in the columns a role may not see; no response body may contain one.

One test per (state, role) walks all the endpoints, so each version is built once per test and the table stays
three rows long.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from django.test import Client

from core.jobs import job_cancel
from governance.catalog.services import dataset_version_derive
from governance.labeling.services import project_create
from governance.privacy.models import PiiScan
from governance.privacy.services import pii_scan_start
from tests.factories import add_tasks

# E-mail addresses (flagged by a scan) and SKUs (clean to a scan, so hidden only until one finishes).
EMAILS = ["zq7.marker.one@example.com", "zq7.marker.two@example.org", "zq7.marker.three@example.net"]
SKUS = ["SKUQ7MARKERA", "SKUQ7MARKERB", "SKUQ7MARKERC"]
CSV = "email,sku,qty\n" + "".join(f"{e},{s},{i}\n" for i, (e, s) in enumerate(zip(EMAILS, SKUS, strict=True)))

STATES = ["fresh", "unscanned", "failed_scan", "derived", "scanned"]
ROLES = ["viewer", "ml_engineer", "annotator", "outsider", None]


def build(state: str, *, upload, steward, run_eagerly) -> tuple[Any, list[str]]:
    """(version, markers that no role without pii.manage may read) for a state."""
    if state == "scanned":
        with run_eagerly():
            version = upload(CSV)
        assert PiiScan.objects.get(version=version).status == "succeeded"
        return version, EMAILS  # a finished scan cleared the SKU column
    version = upload(CSV)  # on_commit does not run: no automatic scan
    if state == "fresh":
        pii_scan_start(version=version, actor=steward, trigger="auto")  # queued, as right after an upload
    elif state == "failed_scan":
        scan = pii_scan_start(version=version, actor=steward)
        job_cancel(job=scan.job, actor=steward)
        assert PiiScan.objects.select_related("job").get(pk=scan.pk).status == "failed"
    elif state == "derived":
        table = pa.table({"contact": EMAILS, "sku": SKUS, "qty": [0, 1, 2]})
        version = dataset_version_derive(
            actor=steward, parents=[version], table=table, operation="rename", params={"columns": {"email": "contact"}}
        )
    return version, EMAILS + SKUS


def bodies(version: Any, api: Any, page: Client, project: Any) -> dict[str, bytes]:
    """Every response that can carry row values, profiles or previews of `version`."""
    scan = PiiScan.objects.filter(version=version).order_by("-id").first()
    urls_api = [
        f"/api/v1/dataset-versions/{version.pk}/rows/?limit=10",
        f"/api/v1/dataset-versions/{version.pk}/",
        f"/api/v1/datasets/{version.dataset_id}/versions/",
        f"/api/v1/dataset-versions/{version.pk}/lineage/",
        f"/api/v1/labeling/projects/{project.pk}/next/",
        f"/api/v1/labeling/projects/{project.pk}/",
    ]
    urls_page = [
        f"/dataset-versions/{version.pk}/",
        f"/datasets/{version.dataset_id}/",
        f"/dataset-versions/{version.pk}/pii/",
        f"/dataset-versions/{version.pk}/lineage/",
        f"/dataset-versions/{version.pk}/mask/",
        f"/labeling/projects/{project.pk}/annotate/",
        f"/labeling/projects/{project.pk}/",
    ]
    if scan is not None:
        urls_api.append(f"/api/v1/pii-scans/{scan.pk}/")
        urls_api += [f"/api/v1/pii-findings/{f.pk}/" for f in scan.findings.all()]
        urls_api += [f"/api/v1/pii-findings/{f.pk}/raw-examples/" for f in scan.findings.all()]
        urls_page.append(f"/privacy/scans/{scan.pk}/")
        urls_page += [f"/privacy/findings/{f.pk}/raw/" for f in scan.findings.all()]
    out = {url: api.get(url).content for url in urls_api}
    out |= {url: page.get(url, follow=True).content for url in urls_page}
    return out


@pytest.fixture
def run_eagerly(run_tasks_eagerly, django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def matrix(upload, steward, run_eagerly, personas):
    def make(state: str) -> tuple[Any, list[str], Any]:
        version, markers = build(state, upload=upload, steward=steward, run_eagerly=run_eagerly)
        project = project_create(
            actor=steward,
            dataset_version=version,
            name=f"matrix-{state}",
            template="relevance",
            display_columns=version.column_names,
        )
        add_tasks(project)
        return version, markers, project

    return make


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_no_marker_value_reaches_a_role_without_pii_manage(matrix, personas, api_as, state, role):
    version, markers, project = matrix(state)
    page = Client()
    if role is not None:
        page.force_login(personas[role])
    leaks = {
        url: [m for m in markers if m.encode() in body]
        for url, body in bodies(version, api_as(role), page, project).items()
    }
    assert {url: found for url, found in leaks.items() if found} == {}


@pytest.mark.django_db
@pytest.mark.parametrize("state", STATES)
def test_a_steward_reads_the_markers_so_the_matrix_searches_real_values(matrix, personas, api_as, state):
    version, markers, project = matrix(state)
    page = Client()
    page.force_login(personas["steward"])
    found = b"".join(bodies(version, api_as("steward"), page, project).values())
    assert all(m.encode() in found for m in markers)
