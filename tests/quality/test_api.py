"""The quality API: rules of a dataset, a rule, checks of a version (a Job), its latest report, suggestions; the
endpoints are in the OpenAPI schema and answer each role by the quality.* capabilities."""

from __future__ import annotations

import pytest

from core.roles import CAPABILITIES
from governance.quality.models import QualityReport, QualityRule

pytestmark = pytest.mark.django_db

CSV = "user_id,item_id,rating\n1,10,5\n2,11,3\n3,10,9\n"


@pytest.fixture
def version(upload):
    return upload(CSV, dataset="clicks")


def test_rules_are_created_listed_changed_and_deleted(version, api_as, django_capture_on_commit_callbacks):
    api = api_as("steward")
    url = f"/api/v1/datasets/{version.dataset_id}/quality-rules/"
    with django_capture_on_commit_callbacks(execute=False):
        created = api.post(url, {"kind": "range", "column": "rating", "params": {"min": 1, "max": 5}}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["columns"] == ["rating"] and body["status"] == "active" and body["severity"] == "blocking"
    listed = api_as("viewer").get(url).json()
    assert [r["id"] for r in listed["results"]] == [body["id"]]
    with django_capture_on_commit_callbacks(execute=False):
        changed = api.patch(
            f"/api/v1/quality-rules/{body['id']}/", {"severity": "warning", "params": {"max": 9}}, format="json"
        )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["severity"] == "warning" and changed.json()["params"]["max"] == 9
    with django_capture_on_commit_callbacks(execute=False):
        assert api.delete(f"/api/v1/quality-rules/{body['id']}/").status_code == 204
    assert not QualityRule.objects.exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"kind": "not_null", "column": "nope"}, "Unknown column 'nope'"),
        ({"kind": "regex", "column": "user_id", "params": {"pattern": "x"}}, "needs a text column"),
        ({"kind": "range", "column": "rating", "params": {"min": 9, "max": 1}}, "`min` (9) is above `max` (1)"),
        ({"kind": "sometimes", "column": "rating"}, "kind"),
        ({"kind": "not_null", "column": "rating", "columns": ["rating"]}, "not both"),
        ({"kind": "not_null", "column": "rating", "severity": "fatal"}, "severity"),
    ],
)
def test_bad_rule_is_a_400_naming_the_problem_and_stores_nothing(version, api_as, body, fragment):
    response = api_as("steward").post(f"/api/v1/datasets/{version.dataset_id}/quality-rules/", body, format="json")
    assert response.status_code == 400, response.json()
    assert fragment in response.json()["detail"]
    assert not QualityRule.objects.exists()


def test_a_bad_change_is_a_400_and_leaves_the_rule_as_it_was(version, api_as):
    rule = QualityRule.objects.create(
        dataset=version.dataset, kind="range", columns=["rating"], params={"min": 1, "max": 5}
    )
    response = api_as("steward").patch(
        f"/api/v1/quality-rules/{rule.pk}/", {"params": {"min": 7, "max": 2}}, format="json"
    )
    assert response.status_code == 400 and "above `max`" in response.json()["detail"]
    rule.refresh_from_db()
    assert rule.params == {"min": 1, "max": 5}


def test_a_check_is_a_job_and_the_latest_report_is_served(
    version, api_as, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    api = api_as("steward")
    assert api.get(f"/api/v1/dataset-versions/{version.pk}/quality/").json() == {
        "version": version.pk,
        "status": "not_checked",
        "rules": [],
    }
    with django_capture_on_commit_callbacks(execute=False):
        api.post(
            f"/api/v1/datasets/{version.dataset_id}/quality-rules/",
            {"kind": "range", "column": "rating", "params": {"max": 5}},
            format="json",
        )
    with django_capture_on_commit_callbacks(execute=True):
        started = api_as("ml_engineer").post(f"/api/v1/dataset-versions/{version.pk}/quality-checks/")
    assert started.status_code == 202 and started.json()["kind"] == "quality_check"
    job = api.get(f"/api/v1/jobs/{started.json()['id']}/").json()
    assert job["status"] == "succeeded", job["error"]
    report = api_as("viewer").get(f"/api/v1/dataset-versions/{version.pk}/quality/").json()
    assert report["status"] == "failed" and report["id"] == QualityReport.objects.get().pk
    (rule,) = report["rules"]
    assert rule["passed"] is False and rule["failing_count"] == 1 and rule["failing_rows"] == [2]
    assert api.get(f"/api/v1/dataset-versions/{version.pk}/").json()["quality_status"] == "failed"


def test_suggestions_are_accepted_or_rejected_through_patch(version, api_as, django_capture_on_commit_callbacks):
    api = api_as("steward")
    made = api.post(f"/api/v1/dataset-versions/{version.pk}/quality-suggestions/")
    assert made.status_code == 201
    rules = {(r["kind"], r["columns"][0]): r for r in made.json()}
    assert ("not_null", "rating") in rules and all(r["status"] == "suggested" for r in made.json())
    with django_capture_on_commit_callbacks(execute=False):
        accepted = api.patch(
            f"/api/v1/quality-rules/{rules[('not_null', 'rating')]['id']}/", {"status": "active"}, format="json"
        )
    assert accepted.json()["status"] == "active"
    pending = api.get(f"/api/v1/datasets/{version.dataset_id}/quality-rules/?status=suggested").json()["results"]
    assert rules[("not_null", "rating")]["id"] not in [r["id"] for r in pending]


def test_the_endpoints_are_in_the_openapi_schema(api_as):
    paths = api_as("viewer").get("/api/v1/schema/?format=json").json()["paths"]
    for path, methods in {
        "/api/v1/datasets/{id}/quality-rules/": {"get", "post"},
        "/api/v1/quality-rules/{id}/": {"patch", "delete"},
        "/api/v1/dataset-versions/{id}/quality-checks/": {"post"},
        "/api/v1/dataset-versions/{id}/quality/": {"get"},
    }.items():
        assert methods <= set(paths[path]), path


ROUTES = [
    ("get", "datasets/{dataset}/quality-rules/", "quality.read", 200),
    ("post", "datasets/{dataset}/quality-rules/", "quality.manage", 201),
    ("get", "quality-rules/{rule}/", "quality.read", 200),
    ("patch", "quality-rules/{rule}/", "quality.manage", 200),
    ("delete", "quality-rules/{rule}/", "quality.manage", 204),
    ("post", "dataset-versions/{version}/quality-checks/", "quality.check", 202),
    ("get", "dataset-versions/{version}/quality/", "quality.read", 200),
    ("post", "dataset-versions/{version}/quality-suggestions/", "quality.manage", 201),
]


def test_the_role_table_covers_every_quality_endpoint():
    from governance.quality import urls

    routes = {
        (m, str(p.pattern).replace("<int:pk>", "{}"))
        for p in urls.api_urlpatterns
        for m in ("get", "post", "patch", "delete")
        if hasattr(p.callback.view_class, m)
    }
    covered = {(m, r.split("{")[0] + "{}" + r.split("}")[1]) for m, r, _, _ in ROUTES}
    assert routes == covered


@pytest.mark.parametrize("caller", ["steward", "annotator", "ml_engineer", "viewer", "outsider", None])
@pytest.mark.parametrize(("method", "route", "capability", "ok"), ROUTES, ids=lambda v: str(v))
def test_quality_endpoint_answers_by_role(
    version, api_as, caller, method, route, capability, ok, django_capture_on_commit_callbacks
):
    rule = QualityRule.objects.create(dataset=version.dataset, kind="not_null", columns=["rating"])
    url = "/api/v1/" + route.format(dataset=version.dataset_id, rule=rule.pk, version=version.pk)
    body = {"kind": "not_null", "column": "user_id"} if method == "post" else {"severity": "warning"}
    with django_capture_on_commit_callbacks(execute=False):
        response = getattr(api_as(caller), method)(url, body, format="json")
    if caller is None:
        expected = 401
    else:
        expected = ok if caller in CAPABILITIES[capability] else 403
    assert response.status_code == expected, response.content[:300]


def test_values_in_rules_on_personal_data_columns_are_hidden_from_roles_that_may_not_see_them(
    version, api_as, steward, committing, monkeypatch
):
    from core.roles import has_capability
    from governance.catalog import hooks
    from governance.quality.services import quality_check_start, quality_rule_create

    monkeypatch.setattr(
        hooks, "_hidden_columns", [lambda v, user: set() if has_capability(user, "pii.manage") else {"rating"}]
    )
    quality_rule_create(
        actor=steward,
        dataset=version.dataset,
        kind="allowed_values",
        columns=["rating"],
        params={"values": [3, 5]},
        check=False,
    )
    quality_rule_create(
        actor=steward,
        dataset=version.dataset,
        kind="range",
        columns=["rating"],
        params={"min": 3, "max": 5},
        check=False,
    )
    committing(quality_check_start, version=version, actor=steward)
    url = f"/api/v1/datasets/{version.dataset_id}/quality-rules/"
    viewer_rules = api_as("viewer").get(url).json()["results"]
    assert [r["params"] for r in viewer_rules] == [{"values_hidden": True}] * 2
    assert all(r["name"].endswith("[values hidden]") for r in viewer_rules)
    assert api_as("steward").get(url).json()["results"][0]["params"] == {"values": [3, 5]}
    report = api_as("viewer").get(f"/api/v1/dataset-versions/{version.pk}/quality/").json()
    assert {r["name"] for r in report["rules"]} == {
        "allowed_values(rating) [values hidden]",
        "range(rating) [values hidden]",
    }
    page = api_as("viewer").get(f"/api/v1/quality-rules/{viewer_rules[1]['id']}/").json()
    assert page["params"] == {"values_hidden": True}
