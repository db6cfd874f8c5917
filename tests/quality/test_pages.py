"""Quality pages: a dataset's rules (a form per kind, edit, suggestions with accept / reject) and a version's report
with pass / fail badges and a picture per column, linked from the dataset and version pages."""

from __future__ import annotations

import pytest
from django.test import Client

from governance.quality.models import QualityRule
from governance.quality.services import quality_check_start, quality_rule_create

pytestmark = pytest.mark.django_db

CSV = (
    "user_id,item_id,rating,genre\n1,10,5,drama\n2,11,3,comedy\n3,10,9,drama\n4,12,4,drama\n"
    "5,10,1,comedy\n6,11,2,drama\n7,12,3,comedy\n8,10,4,drama\n"
)


@pytest.fixture
def version(scan_upload):
    # Scanned: until a finished scan clears them, string columns' values (top values, allowed values) stay hidden.
    return scan_upload(CSV, dataset="clicks")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_rules_page_has_a_form_per_rule_kind(version, steward):
    html = _client(steward).get(f"/datasets/{version.dataset_id}/quality/").content.decode()
    for kind in [k for k, _ in QualityRule.Kind.choices]:
        assert f'data-kind="{kind}"' in html
    assert 'name="pattern"' in html and 'name="max_fraction"' in html and 'name="ref_column"' in html


def test_adding_a_rule_through_its_form_stores_it_and_a_bad_one_shows_the_reason(
    version, steward, django_capture_on_commit_callbacks
):
    client = _client(steward)
    url = f"/datasets/{version.dataset_id}/quality/rules/"
    with django_capture_on_commit_callbacks(execute=False):
        added = client.post(
            url,
            {
                "kind": "range",
                "column": "rating",
                "min": "1",
                "max": "5",
                "min_inclusive": "on",
                "max_inclusive": "on",
                "severity": "blocking",
            },
        )
    assert added.status_code == 302
    rule = QualityRule.objects.get()
    assert rule.params == {"min": 1, "max": 5, "min_inclusive": True, "max_inclusive": True}
    refused = client.post(url, {"kind": "range", "column": "rating", "min": "9", "max": "2", "severity": "blocking"})
    assert refused.status_code == 400
    assert "is above" in refused.content.decode()
    refused = client.post(url, {"kind": "regex", "column": "genre", "pattern": "(oops", "severity": "warning"})
    assert refused.status_code == 400 and "does not compile" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        values = client.post(
            url, {"kind": "allowed_values", "column": "rating", "values": "3\n4\n5\n", "severity": "warning"}
        )
    assert values.status_code == 302
    assert QualityRule.objects.get(kind="allowed_values").params == {"values": [3, 4, 5]}
    assert QualityRule.objects.count() == 2


def test_editing_a_rule_through_its_form(version, steward, django_capture_on_commit_callbacks):
    rule = QualityRule.objects.create(dataset=version.dataset, kind="range", columns=["rating"], params={"max": 5})
    client = _client(steward)
    page = client.get(f"/quality-rules/{rule.pk}/edit/").content.decode()
    assert 'name="max"' in page and 'value="5"' in page
    with django_capture_on_commit_callbacks(execute=False):
        saved = client.post(
            f"/quality-rules/{rule.pk}/edit/",
            {"column": "rating", "max": "10", "max_inclusive": "on", "severity": "warning"},
        )
    assert saved.status_code == 302
    rule.refresh_from_db()
    assert rule.params["max"] == 10 and rule.severity == "warning"


def test_suggestions_are_listed_and_accepted_or_rejected_on_the_page(
    version, steward, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    client = _client(steward)
    client.post(f"/datasets/{version.dataset_id}/quality/suggest/")
    html = client.get(f"/datasets/{version.dataset_id}/quality/").content.decode()
    suggested = QualityRule.objects.filter(status="suggested")
    assert suggested.exists()
    for rule in suggested:
        assert f'data-rule-id="{rule.pk}"' in html
    by_key = {(r.kind, r.columns[0]): r for r in suggested}
    not_null, allowed = by_key[("not_null", "rating")], by_key[("allowed_values", "genre")]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/quality-rules/{not_null.pk}/decide/", {"action": "accept"})
    client.post(f"/quality-rules/{allowed.pk}/decide/", {"action": "reject"})
    not_null.refresh_from_db()
    allowed.refresh_from_db()
    version.refresh_from_db()
    assert not_null.status == "active" and allowed.status == "rejected"
    assert version.quality_status == "passed"  # the accepted rule checked the current version at once


def test_report_page_shows_badges_the_failing_rows_and_a_picture_per_column(version, steward, personas, committing):
    quality_rule_create(
        actor=steward, dataset=version.dataset, kind="range", columns=["rating"], params={"max": 5}, check=False
    )
    quality_rule_create(actor=steward, dataset=version.dataset, kind="not_null", columns=["genre"], check=False)
    committing(quality_check_start, version=version, actor=steward)
    html = _client(personas["viewer"]).get(f"/dataset-versions/{version.pk}/quality/").content.decode()
    assert 'data-quality-status="failed"' in html
    assert html.count('class="badge q-passed">pass<') == 1 and html.count(">fail<") == 1
    assert "range(rating in (-inf, 5])" in html and "<td>2</td>" in html  # the failing row's position
    assert "fails its blocking quality rules" in html
    assert 'aria-label="Histogram of rating"' in html and 'aria-label="Top values of genre"' in html


def test_pii_columns_get_no_picture_of_their_values(version, personas, monkeypatch):
    from governance.catalog import hooks

    monkeypatch.setattr(hooks, "_hidden_columns", [lambda v, user: {"genre"}])
    html = _client(personas["viewer"]).get(f"/dataset-versions/{version.pk}/quality/").content.decode()
    assert "Top values of genre" not in html and "drama" not in html
    assert "values hidden from your role" in html


def test_dataset_and_version_pages_link_to_quality(version, steward):
    client = _client(steward)
    assert f"/datasets/{version.dataset_id}/quality/" in client.get(f"/datasets/{version.dataset_id}/").content.decode()
    assert f"/dataset-versions/{version.pk}/quality/" in client.get(f"/dataset-versions/{version.pk}/").content.decode()


@pytest.mark.parametrize(
    ("method", "path", "capability", "ok"),
    [
        ("get", "/datasets/{dataset}/quality/", "quality.read", 200),
        ("post", "/datasets/{dataset}/quality/rules/", "quality.manage", 302),
        ("post", "/datasets/{dataset}/quality/suggest/", "quality.manage", 302),
        ("get", "/quality-rules/{rule}/edit/", "quality.manage", 200),
        ("post", "/quality-rules/{rule}/decide/", "quality.manage", 302),
        ("get", "/dataset-versions/{version}/quality/", "quality.read", 200),
        ("post", "/dataset-versions/{version}/quality/", "quality.check", 302),
    ],
)
@pytest.mark.parametrize("caller", ["steward", "annotator", "ml_engineer", "viewer", "outsider", None])
def test_quality_page_answers_by_role(
    version, personas, caller, method, path, capability, ok, django_capture_on_commit_callbacks
):
    from core.roles import CAPABILITIES

    rule = QualityRule.objects.create(dataset=version.dataset, kind="not_null", columns=["rating"], status="suggested")
    url = path.format(dataset=version.dataset_id, rule=rule.pk, version=version.pk)
    client = Client()
    if caller:
        client.force_login(personas[caller])
    data = {"kind": "not_null", "column": "user_id", "severity": "blocking", "action": "reject"}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, data) if method == "post" else client.get(url)
    if caller is None:
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    elif caller in CAPABILITIES[capability]:
        assert response.status_code == ok, response.content[:300]
    else:
        assert response.status_code == 403


def test_a_finished_check_job_links_to_the_report(version, steward, committing):
    quality_rule_create(actor=steward, dataset=version.dataset, kind="not_null", columns=["genre"], check=False)
    job = committing(quality_check_start, version=version, actor=steward)
    html = _client(steward).get(f"/jobs/{job.pk}/").content.decode()
    assert f'href="/dataset-versions/{version.pk}/quality/"' in html and "Open the new version" not in html


def test_rules_and_reports_are_listed_read_only_in_the_django_admin(version, personas):
    QualityRule.objects.create(dataset=version.dataset, kind="not_null", columns=["rating"])
    client = _client(personas["admin"])
    listing = client.get("/admin/quality/qualityrule/")
    assert listing.status_code == 200 and "not_null(rating)" in listing.content.decode()
    assert client.get("/admin/quality/qualityrule/add/").status_code == 403
    assert client.get("/admin/quality/qualityreport/").status_code == 200


def test_the_rules_page_hides_values_of_rules_on_personal_data_columns_from_a_viewer(version, personas, monkeypatch):
    from core.roles import has_capability
    from governance.catalog import hooks

    monkeypatch.setattr(
        hooks, "_hidden_columns", [lambda v, user: set() if has_capability(user, "pii.manage") else {"genre"}]
    )
    QualityRule.objects.create(
        dataset=version.dataset, kind="allowed_values", columns=["genre"], params={"values": ["drama", "comedy"]}
    )
    QualityRule.objects.create(
        dataset=version.dataset,
        kind="allowed_values",
        columns=["genre"],
        params={"values": ["drama", "comedy"]},
        status="suggested",
    )
    viewer = _client(personas["viewer"]).get(f"/datasets/{version.dataset_id}/quality/").content.decode()
    assert "drama" not in viewer and "allowed_values(genre) [values hidden]" in viewer
    steward = _client(personas["steward"]).get(f"/datasets/{version.dataset_id}/quality/").content.decode()
    assert "drama, comedy" in steward
