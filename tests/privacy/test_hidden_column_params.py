"""Transform params that name a column hidden from the caller are refused (403): no oracle for its values."""

from __future__ import annotations

import pytest

from core.models import Job

CUSTOMERS = "customer,email,qty\nMaria Lopez,maria.lopez@example.com,3\nJohn Smith,john.smith@example.org,1\n"
EMAILS = "email,segment\nmaria.lopez@example.com,gold\n"


def transform(api, version, operation: str, params: dict):
    url = f"/api/v1/dataset-versions/{version.pk}/transforms/"
    return api.post(url, {"operation": operation, "params": params}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("filter", {"expression": "email == 'maria.lopez@example.com'"}),
        ("label", {"column": "hit", "expression": "col['email'] != 'x' and qty > 0"}),
        ("dedupe", {"keys": ["email"]}),
        ("select", {"columns": ["qty", "email"]}),
        ("cast", {"columns": {"customer": "string"}}),
    ],
)
def test_params_naming_a_hidden_column_are_a_403_and_start_nothing(upload, api_as, operation, params):
    version = upload(CUSTOMERS)  # not scanned yet: its string columns are hidden from an ml_engineer
    response = transform(api_as("ml_engineer"), version, operation, params)
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "pii_hidden" and ("email" in body["detail"] or "customer" in body["detail"])
    assert not Job.objects.filter(kind="transform").exists()


@pytest.mark.django_db
def test_a_join_on_a_key_hidden_on_either_side_is_refused(upload, api_as):
    left = upload("email,qty\nmaria.lopez@example.com,3\n", dataset="orders")
    right = upload(EMAILS, dataset="segments")
    response = transform(api_as("ml_engineer"), left, "join", {"right": right.pk, "on": ["email"]})
    assert response.status_code == 403 and "email" in response.json()["detail"]


@pytest.mark.django_db
def test_visible_columns_dropping_or_renaming_and_stewards_are_not_refused(upload, api_as):
    version = upload(CUSTOMERS)
    engineer = api_as("ml_engineer")
    assert transform(engineer, version, "filter", {"expression": "qty >= 2"}).status_code == 202
    assert transform(engineer, version, "drop", {"columns": ["email"]}).status_code == 202
    assert transform(engineer, version, "rename", {"columns": {"email": "contact"}}).status_code == 202
    steward = api_as("steward")
    assert transform(steward, version, "filter", {"expression": "email != ''"}).status_code == 202


@pytest.mark.django_db
def test_lineage_withholds_an_expression_over_a_hidden_column_from_roles_that_may_not_see_it(upload, api_as, steward):
    import pyarrow as pa

    from governance.catalog.services import dataset_version_derive

    version = upload(CUSTOMERS)
    expression = "email == 'zq7.lineage.marker@example.com'"
    dataset_version_derive(
        actor=steward,
        parents=[version],
        table=pa.table({"customer": ["Maria Lopez"], "email": ["zq7.lineage.marker@example.com"], "qty": [3]}),
        operation="filter",
        params={"expression": expression},
    )
    for role in ("viewer", "ml_engineer"):
        body = api_as(role).get(f"/api/v1/dataset-versions/{version.pk}/lineage/").json()
        assert "zq7.lineage.marker" not in str(body)
        assert body["edges"][0]["params"]["expression"].startswith("(withheld: it names email")
    steward_body = api_as("steward").get(f"/api/v1/dataset-versions/{version.pk}/lineage/").json()
    assert steward_body["edges"][0]["params"]["expression"] == expression
