"""Raw values reach a role without pii.manage only after a finished scan cleared their column (fail closed)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from core.jobs import job_cancel
from governance.catalog.services import dataset_create, dataset_version_derive
from governance.privacy.models import CustomRecognizer, PiiFinding, PiiScan
from governance.privacy.selectors import pii_hidden_columns, version_recognizers
from governance.privacy.services import pii_finding_decide, pii_scan_start

CUSTOMERS = """customer,email,note,qty,zip
Maria Lopez,maria.lopez@example.com,kettle,3,10115
John Smith,john.smith@example.org,teapot,1,20095
Anna Berg,anna.berg@example.net,kettle,2,80331
"""


@pytest.fixture
def scanned(scan_upload):
    return scan_upload(CUSTOMERS, name="customers.csv")


def rows(api, version) -> list[dict]:
    response = api.get(f"/api/v1/dataset-versions/{version.pk}/rows/?limit=5")
    assert response.status_code == 200
    return response.json()["results"]


@pytest.mark.django_db
def test_an_unscanned_upload_hides_every_string_column_and_its_profile_from_a_viewer(upload, api_as):
    version = upload(CUSTOMERS)  # on_commit never runs here: no scan was started
    assert not PiiScan.objects.filter(version=version).exists()
    row = rows(api_as("viewer"), version)[0]
    assert row == {"customer": "***", "email": "***", "note": "***", "qty": 3, "zip": 10115}
    columns = {c["name"]: c for c in api_as("viewer").get(f"/api/v1/dataset-versions/{version.pk}/").json()["columns"]}
    assert columns["email"] == {
        "name": "email",
        "dtype": "string",
        "null_count": 0,
        "distinct_count": 3,
        "masked": True,
    }
    assert columns["qty"]["min"] == 1 and "masked" not in columns["qty"]
    assert "maria" not in str(columns)
    assert rows(api_as("steward"), version)[0]["email"] == "maria.lopez@example.com"


@pytest.mark.django_db
def test_a_queued_or_failed_scan_keeps_string_columns_hidden(upload, steward):
    version = upload(CUSTOMERS)
    scan = pii_scan_start(version=version, actor=steward)
    assert pii_hidden_columns(version) == {"customer", "email", "note"}
    job_cancel(job=scan.job, actor=steward)
    assert PiiScan.objects.select_related("job").get(pk=scan.pk).status == "failed"
    assert pii_hidden_columns(version) == {"customer", "email", "note"}


@pytest.mark.django_db
def test_after_a_scan_only_clean_or_rejected_columns_show_raw_values(scanned, api_as, steward):
    assert PiiScan.objects.get(version=scanned).status == "succeeded"
    row = rows(api_as("ml_engineer"), scanned)[0]
    assert row["email"] == "***" and row["note"] == "kettle" and row["qty"] == 3
    pii_finding_decide(
        finding=PiiFinding.objects.get(version=scanned, column="email"), actor=steward, decision="rejected"
    )
    assert rows(api_as("viewer"), scanned)[0]["email"] == "maria.lopez@example.com"


@pytest.mark.django_db
def test_a_rescan_in_flight_hides_string_columns_again(scanned, steward):
    for finding in PiiFinding.objects.filter(version=scanned):
        pii_finding_decide(finding=finding, actor=steward, decision="rejected")
    assert pii_hidden_columns(scanned) == set()
    pii_scan_start(version=scanned, actor=steward)  # queued, not run
    assert pii_hidden_columns(scanned) == {"customer", "email", "note"}


@pytest.mark.django_db
def test_a_derived_version_inherits_its_parents_flagged_columns_through_renames_until_its_own_scan(
    scanned, steward, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    scan = PiiScan.objects.get(version=scanned)
    # A steward's own recognizer could flag an integer column; here its finding is written directly.
    PiiFinding.objects.create(
        scan=scan, version=scanned, column="qty", entity_type="LOYALTY_CARD", kind="entity", share=1.0, score=1.0
    )
    assert "qty" in pii_hidden_columns(scanned)
    table = pa.table({"amount": [3, 1], "note": ["kettle", "teapot"]})
    derived = dataset_version_derive(
        actor=steward,
        parents=[scanned],
        table=table,
        operation="rename",
        params={"columns": {"qty": "amount"}},
    )
    assert pii_hidden_columns(derived) == {"amount", "note"}
    with django_capture_on_commit_callbacks(execute=True):
        pii_scan_start(version=derived, actor=steward)
    assert PiiScan.objects.get(version=derived).status == "succeeded"
    assert pii_hidden_columns(derived) == set()  # its own finished scan decides now


@pytest.mark.django_db
def test_a_rejection_is_remembered_only_for_the_same_column_and_entity_type(
    scanned, steward, upload, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    customer = PiiFinding.objects.get(version=scanned, column="customer")
    assert customer.entity_type == "PERSON"
    pii_finding_decide(finding=customer, actor=steward, decision="rejected")
    # The e-mail column renamed onto the rejected name: an EMAIL_ADDRESS finding, reviewed again.
    renamed = "customer,qty\nmaria.lopez@example.com,3\njohn.smith@example.org,1\nanna.berg@example.net,2\n"
    with django_capture_on_commit_callbacks(execute=True):
        later = upload(renamed, name="customers.csv")
    finding = PiiFinding.objects.get(version=later, column="customer")
    assert finding.entity_type == "EMAIL_ADDRESS" and finding.decision == "pending"
    assert "customer" in pii_hidden_columns(later)
    # Both rejections are kept: one per column and entity type.
    pii_finding_decide(finding=finding, actor=steward, decision="rejected")
    with django_capture_on_commit_callbacks(execute=True):
        again = upload(CUSTOMERS + "Eva Green,eva.green@example.com,mug,1,50667\n", name="customers.csv")
    assert PiiFinding.objects.get(version=again, column="customer").decision == "rejected"


@pytest.mark.django_db
def test_a_version_derived_into_a_new_dataset_keeps_the_sources_custom_recognizers(
    upload, steward, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    source = upload("ref,qty\nLC-123456,1\nLC-654321,2\n", name="orders.csv", dataset="orders")
    spec = {"entity_type": "LOYALTY_CARD", "patterns": [{"regex": r"\bLC-\d{6}\b", "score": 0.9}], "context": []}
    CustomRecognizer.objects.create(dataset=source.dataset, name="loyalty", spec=spec, created_by=steward)
    target = dataset_create(actor=steward, name="orders-copy")
    with django_capture_on_commit_callbacks(execute=True):
        derived = dataset_version_derive(
            actor=steward,
            parents=[source],
            table=pa.table({"card": ["LC-123456", "LC-654321"], "qty": [1, 2]}),
            operation="rename",
            params={"columns": {"ref": "card"}},
            dataset=target,
        )
    assert [r.supported_entities for r in version_recognizers(derived)] == [["LOYALTY_CARD"]]
    finding = PiiFinding.objects.get(version=derived, column="card")
    assert finding.entity_type == "LOYALTY_CARD"


@pytest.mark.django_db
def test_a_lineage_cycle_from_an_identical_output_ends_the_walk(upload, steward):
    source = upload(CUSTOMERS)
    table = pa.table({"email": ["a@example.com"], "qty": [1]})
    first = dataset_version_derive(actor=steward, parents=[source], table=table, operation="select", params={})
    renamed = dataset_version_derive(
        actor=steward,
        parents=[first],
        table=table.rename_columns(["contact", "qty"]),
        operation="rename",
        params={"columns": {"email": "contact"}},
    )
    back = dataset_version_derive(
        actor=steward, parents=[renamed], table=table, operation="rename", params={"columns": {"contact": "email"}}
    )
    assert back.pk == first.pk  # identical bytes: the existing version, now also a child of its own child
    assert pii_hidden_columns(first) == {"email"} and pii_hidden_columns(renamed) == {"contact"}


def test_string_typed_covers_nested_and_unknown_types():
    from governance.privacy.selectors import is_string_typed

    for dtype in ("string", "large_string", "binary", "list<item: string>", "dictionary<values=string, indices=int32>"):
        assert is_string_typed(dtype)
    assert is_string_typed("")  # no type recorded: hidden
    for dtype in ("int64", "double", "bool", "timestamp[s]", "date32[day]", "list<item: int64>"):
        assert not is_string_typed(dtype)


@pytest.mark.django_db
def test_a_join_inherits_flagged_columns_of_both_sides_including_suffixed_collisions(scanned, upload, steward):
    scan = PiiScan.objects.get(version=scanned)
    PiiFinding.objects.create(
        scan=scan, version=scanned, column="qty", entity_type="LOYALTY_CARD", kind="entity", share=1.0, score=1.0
    )
    other = upload("qty,score\n1,5\n", dataset="scores")
    joined = dataset_version_derive(
        actor=steward,
        parents=[other, scanned],
        table=pa.table({"qty": [1], "score": [5], "qty_right": [1]}),
        operation="join",
        params={"right": scanned.pk, "on": ["score"]},
    )
    # Which side a colliding name came from is not recorded, so both names stay hidden (fail closed).
    assert pii_hidden_columns(joined) == {"qty", "qty_right"}
