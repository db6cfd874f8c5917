"""Every foundation endpoint and page against every persona: anonymous 401 (pages: login redirect), wrong role 403,
allowed role 2xx. Who is allowed comes from core.roles.CAPABILITIES, so the table stays true when roles change."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from core import urls as core_urls
from core.jobs import job_create
from core.roles import CAPABILITIES
from governance.catalog import urls as catalog_urls
from governance.catalog.models import Dataset, DatasetVersion
from governance.catalog.services import dataset_create, dataset_version_upload

pytestmark = pytest.mark.django_db

CALLERS: tuple[str | None, ...] = ("steward", "annotator", "ml_engineer", "viewer", "outsider", "admin", None)
PUBLIC = "public"  # no authentication at all
ADMIN = "admin"  # Django superusers only (IsAdminUser)
AUTHENTICATED = "authenticated"  # any user with a token, whatever the role

# The passwords tests/conftest.py gives each persona.
PASSWORDS = {caller: f"pw-{caller}-123" for caller in CALLERS if caller}


@dataclass(frozen=True)
class World:
    dataset: Dataset
    version: DatasetVersion
    job_id: int  # a job owned by the caller (cancel is for the owner or a steward)


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str  # the URL pattern, as written in the app's urls.py
    rule: str  # a capability from core.roles, PUBLIC or ADMIN
    ok: int
    body: Callable[[str | None], dict[str, Any]] = field(default=lambda caller: {})
    format: str = "json"

    def url(self, world: World) -> str:
        path = self.route.replace("<int:pk>", str(self._pk(world)))
        return f"/api/v1/{path}"

    def _pk(self, world: World) -> int:
        if self.route.startswith("jobs/"):
            return world.job_id
        return world.dataset.pk if self.route.startswith("datasets/") else world.version.pk


def _csv(_: str | None) -> dict[str, Any]:
    buf = io.BytesIO(b"user_id,item_id\n1,2\n3,4\n")
    buf.name = "more.csv"
    return {"file": buf}


def _token_body(caller: str | None) -> dict[str, Any]:
    username = caller or "steward"
    return {"username": f"{username}-user", "password": PASSWORDS[username]}


ENDPOINTS = [
    Endpoint("get", "health/", PUBLIC, 200),
    Endpoint("post", "auth/token/", PUBLIC, 200, body=_token_body),
    Endpoint("post", "auth/logout/", AUTHENTICATED, 204),
    Endpoint("post", "auth/logout-all/", AUTHENTICATED, 204),
    Endpoint(
        "post",
        "users/",
        ADMIN,
        201,
        body=lambda caller: {"username": f"new-by-{caller}", "password": "long-enough-pw", "role": "viewer"},
    ),
    Endpoint("get", "jobs/", "jobs.read", 200),
    Endpoint("get", "jobs/<int:pk>/", "jobs.read", 200),
    Endpoint("post", "jobs/<int:pk>/cancel/", "jobs.read", 200),
    Endpoint("get", "audit-events/", "audit.read", 200),
    Endpoint("get", "audit-events/export/", "audit.read", 200),
    Endpoint("get", "datasets/", "catalog.read", 200),
    Endpoint("post", "datasets/", "catalog.write", 201, body=lambda caller: {"name": f"made-by-{caller}"}),
    Endpoint("get", "datasets/<int:pk>/", "catalog.read", 200),
    Endpoint("get", "datasets/<int:pk>/versions/", "catalog.read", 200),
    Endpoint("post", "datasets/<int:pk>/versions/", "catalog.write", 201, body=_csv, format="multipart"),
    Endpoint("get", "dataset-versions/<int:pk>/", "catalog.read", 200),
    Endpoint("get", "dataset-versions/<int:pk>/rows/", "catalog.read", 200),
    Endpoint("get", "dataset-versions/<int:pk>/lineage/", "catalog.read", 200),
    Endpoint("get", "dataset-versions/<int:pk>/download/", "catalog.read", 200),
    Endpoint(
        "post",
        "dataset-versions/<int:pk>/transforms/",
        "catalog.write",
        202,
        body=lambda caller: {"operation": "select", "params": {"columns": ["user_id"]}},
    ),
]


def allowed(rule: str, caller: str | None) -> bool:
    if rule == PUBLIC:
        return True
    if caller is None:
        return False
    if caller == "admin" or rule == AUTHENTICATED:
        return True
    if rule == ADMIN:
        return False
    return caller in CAPABILITIES[rule]


def expected_status(endpoint: Endpoint, caller: str | None) -> int:
    if allowed(endpoint.rule, caller):
        return endpoint.ok
    return 401 if caller is None else 403


def _world(personas: dict[str, User], caller: str | None) -> World:
    steward = personas["steward"]
    dataset = dataset_create(actor=steward, name="clicks")
    buf = io.BytesIO(b"user_id,item_id,rating\n1,10,5\n2,11,3\n")
    version, _ = dataset_version_upload(actor=steward, dataset=dataset, source=buf, filename="clicks.csv")
    owner = personas[caller] if caller else steward
    job = job_create(kind="transform", actor=owner, subject_type="dataset_version", subject_id=version.pk)
    return World(dataset=dataset, version=version, job_id=job.pk)


def test_the_table_covers_every_foundation_api_endpoint_and_method() -> None:
    routes = {}
    for pattern in core_urls.api_urlpatterns + catalog_urls.api_urlpatterns:
        view = pattern.callback.view_class
        routes[str(pattern.pattern)] = {m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
    covered: dict[str, set[str]] = {}
    for endpoint in ENDPOINTS:
        covered.setdefault(endpoint.route, set()).add(endpoint.method)
    assert covered == routes


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "anonymous")
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method.upper()} {e.route}")
def test_api_endpoint_answers_by_role(
    endpoint: Endpoint, caller: str | None, personas: dict[str, User], api_as: Callable[[str | None], APIClient]
) -> None:
    world = _world(personas, caller)
    client = api_as(caller)
    response = (
        getattr(client, endpoint.method)(endpoint.url(world), endpoint.body(caller), format=endpoint.format)
        if endpoint.method == "post"
        else client.get(endpoint.url(world))
    )
    expected = expected_status(endpoint, caller)
    assert response.status_code == expected, response.content[:300]
    if expected in (401, 403):
        # The one error shape: a message saying why.
        assert response.json()["detail"]


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if e.rule not in (PUBLIC,)], ids=lambda e: f"{e.method.upper()} {e.route}"
)
def test_a_wrong_token_is_refused_with_401(endpoint: Endpoint, personas: dict[str, User]) -> None:
    world = _world(personas, "steward")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = getattr(client, endpoint.method)(endpoint.url(world))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_a_job_may_be_cancelled_by_its_owner_or_a_steward_only(
    personas: dict[str, User], api_as: Callable[[str | None], APIClient]
) -> None:
    job = job_create(kind="transform", actor=personas["ml_engineer"])
    refused = api_as("viewer").post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert refused.status_code == 403
    assert "owner" in refused.json()["detail"]
    assert api_as("steward").post(f"/api/v1/jobs/{job.pk}/cancel/").json()["status"] == "cancelled"


def test_the_users_endpoint_puts_the_new_user_in_the_role_group(api_as: Callable[[str | None], APIClient]) -> None:
    response = api_as("admin").post(
        "/api/v1/users/", {"username": "ann", "password": "long-enough-pw", "role": "annotator"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["role"] == "annotator"
    assert list(User.objects.get(username="ann").groups.values_list("name", flat=True)) == ["annotator"]


# --- pages ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    method: str
    path: str  # {dataset}, {version}, {job} are filled in
    capability: str
    ok: int
    data: dict[str, Any] = field(default_factory=dict)

    def url(self, world: World) -> str:
        return self.path.format(dataset=world.dataset.pk, version=world.version.pk, job=world.job_id)


PAGES = [
    Page("get", "/", "catalog.read", 200),
    Page("get", "/datasets/", "catalog.read", 200),
    Page("post", "/datasets/", "catalog.write", 302, {"name": "from-the-page", "kind": "other"}),
    Page("get", "/datasets/{dataset}/", "catalog.read", 200),
    Page("post", "/datasets/{dataset}/upload/", "catalog.write", 302),
    Page("get", "/dataset-versions/{version}/", "catalog.read", 200),
    Page("get", "/dataset-versions/{version}/lineage/", "catalog.read", 200),
    Page(
        "post",
        "/dataset-versions/{version}/transform/",
        "catalog.write",
        302,
        {"operation": "select", "select-columns": ["user_id"]},
    ),
    Page("get", "/jobs/", "jobs.read", 200),
    Page("get", "/jobs/{job}/", "jobs.read", 200),
    Page("get", "/audit/", "audit.read", 200),
]


def test_the_page_table_covers_every_foundation_page() -> None:
    routes = {str(p.pattern) for p in core_urls.page_urlpatterns + catalog_urls.page_urlpatterns}
    covered = {
        p.path.replace("{dataset}", "<int:pk>")
        .replace("{version}", "<int:pk>")
        .replace("{job}", "<int:pk>")
        .lstrip("/")
        for p in PAGES
    }
    # login and logout are open to everyone by design.
    assert routes - covered == {"login/", "logout/"}


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "anonymous")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.method.upper()} {p.path}")
def test_page_answers_by_role(page: Page, caller: str | None, personas: dict[str, User]) -> None:
    world = _world(personas, caller)
    client = Client()
    if caller:
        client.force_login(personas[caller])
    data = dict(page.data)
    if page.path.endswith("/upload/"):
        data["file"] = _csv(caller)["file"]
    response = client.post(page.url(world), data) if page.method == "post" else client.get(page.url(world))
    if caller is None:
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    elif allowed(page.capability, caller):
        assert response.status_code == page.ok, response.content[:300]
    elif page.path == "/" and caller == "annotator":
        # The start page sends annotators to their labeling work instead of refusing them.
        assert response.status_code == 302 and response["Location"] == "/labeling/"
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("path", ["/", "/datasets/"])
def test_outsider_sees_403_and_anonymous_is_sent_to_login(path: str, personas: dict[str, User]) -> None:
    anonymous = Client().get(path)
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/login/?next={path}"
    outsider = Client()
    outsider.force_login(personas["outsider"])
    assert outsider.get(path).status_code == 403


def test_login_page_logs_a_steward_in(personas: dict[str, User]) -> None:
    client = Client()
    response = client.post("/login/", {"username": "steward-user", "password": PASSWORDS["steward"]})
    assert response.status_code == 302
    assert client.get("/datasets/").status_code == 200


# --- labeling ------------------------------------------------------------------------------------------------------
# Annotators reach only labeling; stewards manage it. Each endpoint acts on the object its `target` names in a small
# project: a task leased to the caller, one the caller annotated (undo), one in review, one done (export).


@dataclass(frozen=True)
class LabelingWorld:
    project: int
    leased: int
    review: int


@dataclass(frozen=True)
class LabelingEndpoint:
    method: str
    route: str
    rule: str
    ok: int
    body: Callable[[str | None, LabelingWorld], dict[str, Any]] = field(default=lambda caller, world: {})
    target: str = "project"

    def url(self, world: LabelingWorld) -> str:
        return "/api/v1/" + self.route.replace("<int:pk>", str(getattr(world, self.target)))


def _labeling_world(personas: dict[str, User], caller: str | None) -> LabelingWorld:
    import datetime as dt

    from django.utils import timezone

    from governance.labeling.models import Annotation, Assignment, Task, Webhook
    from governance.labeling.services import project_create

    steward = personas["steward"]
    dataset = dataset_create(actor=steward, name="items")
    buf = io.BytesIO(b"item_id,title\n" + b"".join(b"%d,mug %d\n" % (i, i) for i in range(10)))
    version, _ = dataset_version_upload(actor=steward, dataset=dataset, source=buf, filename="items.csv")
    project = project_create(
        actor=steward,
        name="world",
        dataset_version=version,
        template="category",
        labels=["a", "b"],
        display_columns=["title"],
        overlap=2,
    )
    user = personas[caller] if caller else steward
    done, review, leased, annotated = Task.objects.bulk_create([Task(project=project, row=i) for i in range(4)])
    Task.objects.filter(pk=done.pk).update(status="done", final_label="a", final_source="majority")
    Task.objects.filter(pk=review.pk).update(status="review", annotation_count=2)
    now = timezone.now()
    later = now + dt.timedelta(hours=1)
    Assignment.objects.create(task=leased, project=project, annotator=user, leased_at=now, expires_at=later)
    Task.objects.filter(pk=leased.pk).update(slots_taken=1)
    Assignment.objects.create(
        task=annotated, project=project, annotator=user, leased_at=now, expires_at=later, status="submitted"
    )
    Annotation.objects.create(task=annotated, project=project, annotator=user, label="a")
    Task.objects.filter(pk=annotated.pk).update(slots_taken=1, annotation_count=1)
    Webhook.objects.create(project=project, url="http://127.0.0.1:9/", secret="s", events=["task.completed"])
    return LabelingWorld(project=project.pk, leased=leased.pk, review=review.pk)


LABELING_ENDPOINTS = [
    LabelingEndpoint("get", "labeling/projects/", "labeling.annotate", 200),
    LabelingEndpoint(
        "post",
        "labeling/projects/",
        "labeling.manage",
        201,
        body=lambda caller, world: {
            "name": f"by-{caller}",
            "dataset_version": DatasetVersion.objects.get(dataset__name="items").pk,
            "template": "category",
            "labels": ["x", "y"],
            "display_columns": ["title"],
        },
    ),
    LabelingEndpoint("get", "labeling/projects/<int:pk>/", "labeling.annotate", 200),
    LabelingEndpoint(
        "patch", "labeling/projects/<int:pk>/", "labeling.manage", 200, body=lambda c, w: {"gold_rate": 0.1}
    ),
    LabelingEndpoint("get", "labeling/projects/<int:pk>/tasks/", "labeling.manage", 200),
    LabelingEndpoint(
        "post",
        "labeling/projects/<int:pk>/tasks/",
        "labeling.manage",
        202,
        body=lambda c, w: {"strategy": "random", "count": 2},
    ),
    LabelingEndpoint("get", "labeling/projects/<int:pk>/next/", "labeling.annotate", 200),
    LabelingEndpoint("post", "labeling/projects/<int:pk>/undo/", "labeling.annotate", 200),
    LabelingEndpoint("get", "labeling/projects/<int:pk>/progress/", "labeling.annotate", 200),
    LabelingEndpoint("get", "labeling/projects/<int:pk>/agreement/", "labeling.manage", 200),
    LabelingEndpoint("get", "labeling/projects/<int:pk>/review/", "labeling.manage", 200),
    LabelingEndpoint(
        "post",
        "labeling/projects/<int:pk>/gold/",
        "labeling.manage",
        201,
        body=lambda c, w: {"tasks": [{"row": 8, "label": "b"}]},
    ),
    LabelingEndpoint("post", "labeling/projects/<int:pk>/export/", "labeling.manage", 202),
    LabelingEndpoint("get", "labeling/projects/<int:pk>/webhook/", "labeling.manage", 200),
    LabelingEndpoint(
        "put",
        "labeling/projects/<int:pk>/webhook/",
        "labeling.manage",
        200,
        body=lambda c, w: {"url": "http://93.184.216.34/hook"},  # a public address: loopback is refused
    ),
    LabelingEndpoint("delete", "labeling/projects/<int:pk>/webhook/", "labeling.manage", 204),
    LabelingEndpoint("get", "labeling/projects/<int:pk>/webhook/deliveries/", "labeling.manage", 200),
    LabelingEndpoint(
        "post",
        "labeling/tasks/<int:pk>/annotations/",
        "labeling.annotate",
        201,
        body=lambda c, w: {"label": "b"},
        target="leased",
    ),
    LabelingEndpoint("post", "labeling/tasks/<int:pk>/skip/", "labeling.annotate", 204, target="leased"),
    LabelingEndpoint(
        "post",
        "labeling/tasks/<int:pk>/review/",
        "labeling.manage",
        200,
        body=lambda c, w: {"label": "a"},
        target="review",
    ),
]


def test_the_labeling_table_covers_every_labeling_api_endpoint_and_method() -> None:
    from governance.labeling import urls as labeling_urls

    routes = {}
    for pattern in labeling_urls.api_urlpatterns:
        view = pattern.callback.view_class
        routes[str(pattern.pattern)] = {m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
    covered: dict[str, set[str]] = {}
    for endpoint in LABELING_ENDPOINTS:
        covered.setdefault(endpoint.route, set()).add(endpoint.method)
    assert covered == routes


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "anonymous")
@pytest.mark.parametrize("endpoint", LABELING_ENDPOINTS, ids=lambda e: f"{e.method.upper()} {e.route}")
def test_labeling_endpoint_answers_by_role(
    endpoint: LabelingEndpoint,
    caller: str | None,
    personas: dict[str, User],
    api_as: Callable[[str | None], APIClient],
    django_capture_on_commit_callbacks: Any,
) -> None:
    world = _labeling_world(personas, caller)
    client = api_as(caller)
    # Jobs are queued on commit; the broker is not needed to answer (nothing is executed here).
    with django_capture_on_commit_callbacks(execute=False):
        response = getattr(client, endpoint.method)(endpoint.url(world), endpoint.body(caller, world), format="json")
    expected = expected_status(endpoint, caller)  # type: ignore[arg-type]
    assert response.status_code == expected, response.content[:300]
    if expected in (401, 403):
        assert response.json()["detail"]


LABELING_PAGES = [
    ("get", "/labeling/", "labeling.annotate", 200, {}),
    (
        "post",
        "/labeling/",
        "labeling.manage",
        302,
        {"name": "page-made", "template": "category", "labels": "x\ny", "display_columns": "title", "overlap": 1},
    ),
    ("get", "/labeling/projects/{project}/", "labeling.manage", 200, {}),
    ("post", "/labeling/projects/{project}/", "labeling.manage", 302, {"action": "export"}),
    ("get", "/labeling/projects/{project}/annotate/", "labeling.annotate", 200, {}),
    ("get", "/labeling/projects/{project}/quality/", "labeling.manage", 200, {}),
    ("get", "/labeling/projects/{project}/review/", "labeling.manage", 200, {}),
    ("post", "/labeling/tasks/{review}/review/", "labeling.manage", 302, {"label": "a"}),
]


def test_the_labeling_page_table_covers_every_labeling_page() -> None:
    from governance.labeling import urls as labeling_urls

    routes = {str(p.pattern) for p in labeling_urls.page_urlpatterns}
    covered = {
        p[1].replace("{project}", "<int:pk>").replace("{review}", "<int:pk>").lstrip("/") for p in LABELING_PAGES
    }
    assert routes == covered


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "anonymous")
@pytest.mark.parametrize("page", LABELING_PAGES, ids=lambda p: f"{p[0].upper()} {p[1]}")
def test_labeling_page_answers_by_role(
    page: tuple, caller: str | None, personas: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    method, path, rule, ok, data = page
    world = _labeling_world(personas, caller)
    client = Client()
    if caller:
        client.force_login(personas[caller])
    url = path.format(project=world.project, review=world.review)
    data = dict(data)
    if path == "/labeling/" and method == "post":
        data["dataset_version"] = DatasetVersion.objects.get(dataset__name="items").pk
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, data) if method == "post" else client.get(url)
    if caller is None:
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    elif allowed(rule, caller):
        assert response.status_code == ok, response.content[:300]
    else:
        assert response.status_code == 403
