"""The demo story: the whole governed chain on the demo shop data, through the services a user's clicks call.

raw uploads (users, items, interactions) -> join items -> join users -> label -> PII scan -> a steward's review and
masking policy -> split by time -> a small CTR model -> `production` -> a little rank traffic; beside it a demo
labeling project on the search log with a few annotations.

Each step records its outcome in the job's `details["steps"]` before the next begins, so the dashboard shows the
story as it goes and a job taken over after a lost worker resumes where it stopped. Work that is a job of its own
(transforms, scans, masking, training, task creation) is started through its app's service and waited for here.
"""

from __future__ import annotations

import random
import time
from typing import Any

from core.audit import audit_log
from core.errors import ServiceError
from core.jobs import Reporter
from core.models import Job
from governance.catalog.models import DatasetVersion
from governance.catalog.selectors import dataset_list, dataset_version_list, version_rows
from governance.catalog.transform_service import transform_start
from governance.labeling.services import annotation_submit, project_create, task_next, tasks_create_start
from governance.privacy.models import PiiFinding
from governance.privacy.selectors import latest_scan, scan_list
from governance.privacy.services import mask_start, pii_finding_decide, pii_scan_start
from serving import handlers
from serving.stats import recorder
from training.ml.features import FeatureSpec
from training.selectors import model_get
from training.services.jobs import TrainingRequest, training_job_start
from training.services.registry import BelowBaseline, model_alias_set

KIND = "demo_story"
MODEL = "demo-ctr"
RAW = {"users": "demo-users", "items": "demo-items", "interactions": "demo-interactions"}
SEARCH_LOG = "demo-search-log"
JOINED, TRAINING_DATA = "demo-shop-joined", "demo-shop-training"

# The steward's decision for the demo shop, written down once: the columns that identify a customer are personal
# data (accepted) and masked as listed; a finding on any other column (product titles that read like a name,
# catalogue text) is rejected as not personal data.
DEMO_POLICY: dict[str, dict[str, Any]] = {
    "name": {"operator": "drop"},
    "email": {"operator": "drop"},
    "phone": {"operator": "drop"},
    "street_address": {"operator": "drop"},
    "review_text": {"operator": "drop"},
    "birth_date": {"operator": "drop"},
    "zip_code": {"operator": "generalize", "params": {"kind": "zip", "digits": 3}},
    "city": {"operator": "drop"},
}
# A small model that trains in well under three minutes on two CPU cores: item titles through the frozen base
# encoder (short sequences), ids and categories as embeddings. Five epochs with early stopping, the best
# validation state kept: after one epoch the model lost to its baseline (test AUC 0.6058 vs 0.6109), after five it
# beats it (0.6538), and the head on cached title embeddings takes seconds an epoch.
TRAIN_PARAMS: dict[str, Any] = {
    "epochs": 5,
    "batch_size": 128,
    "max_seq_len": 16,
    "lr": 0.01,
    "embedding_dim": 16,
    "freeze_encoder_steps": 1_000_000,
    "patience": 2,
    "checkpoint_every_steps": 0,
    "seed": 0,
}
FEATURES = {
    "label_column": "label",
    "text_columns": ["title"],
    "categorical_columns": ["user_id", "item_id", "category", "brand"],
    "numeric_columns": ["price"],
    "user_column": "user_id",
    "item_column": "item_id",
}
FILLER_WORDS = {"cheap", "best", "gift", "for", "the", "a"}
RANK_REQUESTS = 40
LABELING_TASKS = 20
ANNOTATIONS = 8

STEPS: list[tuple[str, str]] = [
    ("raw", "find the three raw demo uploads"),
    ("join_items", "join interactions with items"),
    ("join_users", "join with users"),
    ("label", "label: clicked == 1"),
    ("scan", "scan for personal data"),
    ("review", "steward's review of the findings"),
    ("mask", "mask with the demo policy"),
    ("split", "split by time 80/10/10"),
    ("train", "train a small CTR model on CPU"),
    ("production", "point production at it"),
    ("traffic", "send rank traffic"),
    ("labeling", "demo labeling project with annotations"),
]
STEP_TITLES = dict(STEPS)


class StoryError(ServiceError):
    """A step could not go on; the job fails with this message."""


class Story:
    def __init__(self, job: Job, reporter: Reporter, *, poll: float = 0.5) -> None:
        self.job = job
        self.reporter = reporter
        self.actor = job.actor
        self.poll = poll
        self.steps: dict[str, dict[str, Any]] = dict((job.details or {}).get("steps", {}))

    # -- bookkeeping -----------------------------------------------------------------------------------------

    def _save(self, name: str, status: str, **fields: Any) -> None:
        self.steps[name] = {"status": status, **fields}
        done = sum(1 for s in self.steps.values() if s["status"] == "done")
        self.reporter.progress(done / len(STEPS), STEP_TITLES[name], steps=self.steps)

    def run(self) -> dict[str, Any]:
        for name, _title in STEPS:
            if self.steps.get(name, {}).get("status") == "done":
                continue  # resumed after a lost worker: this step's outcome is already recorded
            self.reporter.check_cancelled()
            started = time.monotonic()
            self._save(name, "running")
            try:
                result = getattr(self, f"step_{name}")()
            except ServiceError as exc:
                self._save(name, "failed", error=exc.message)
                raise StoryError(f"{STEP_TITLES[name]}: {exc.message}") from exc
            except Exception as exc:
                self._save(name, "failed", error=f"{type(exc).__name__}: {exc}")
                raise
            self._save(name, "done", result=result, seconds=round(time.monotonic() - started, 1))
        return {key: self.steps[key]["result"] for key, _ in STEPS} | {
            "seconds": round(sum(s.get("seconds", 0) for s in self.steps.values()), 1)
        }

    def result(self, step: str) -> Any:
        return self.steps[step]["result"]

    def wait(self, job: Job, what: str) -> Job:
        """Wait for a job started by a service; its failure is this step's failure, with its reason."""
        while True:
            job.refresh_from_db()
            if job.is_finished:
                break
            self.reporter.check_cancelled()
            time.sleep(self.poll)
        if job.status != Job.Status.SUCCEEDED:
            reason = (job.error or job.message or job.status).strip().splitlines()[0]
            raise StoryError(f"{what} (job {job.pk}) {job.status}: {reason}")
        return job

    def transform(self, version_id: int, operation: str, params: dict[str, Any]) -> Any:
        version = dataset_version_list().get(pk=version_id)
        job = transform_start(actor=self.actor, version=version, operation=operation, params=params)
        return self.wait(job, operation).result

    # -- the steps ---------------------------------------------------------------------------------------------

    def step_raw(self) -> dict[str, int]:
        found = {}
        for key, name in RAW.items():
            dataset = dataset_list().filter(name=name).first()
            version = dataset_version_list(dataset=dataset).first() if dataset else None
            if version is None:
                raise StoryError(f"the demo dataset {name!r} has no version: run `manage.py steward_setup` first")
            found[key] = version.pk
        return found

    def step_join_items(self) -> int:
        raw = self.result("raw")
        params = {"right": raw["items"], "on": ["item_id"], "how": "inner", "output_dataset": JOINED}
        return self.transform(raw["interactions"], "join", params)["dataset_version"]

    def step_join_users(self) -> int:
        params = {"right": self.result("raw")["users"], "on": ["user_id"], "how": "inner", "output_dataset": JOINED}
        return self.transform(self.result("join_items"), "join", params)["dataset_version"]

    def step_label(self) -> int:
        params = {"column": "label", "expression": "clicked == 1", "output_dataset": TRAINING_DATA}
        return self.transform(self.result("join_users"), "label", params)["dataset_version"]

    def scanned(self, version_id: int) -> DatasetVersion:
        """The version once its automatic scan has finished (started here when there is none)."""
        version = dataset_version_list().get(pk=version_id)
        scan = scan_list(version=version).first()
        if scan is None:
            scan = pii_scan_start(version=version, actor=self.actor)
        self.wait(scan.job, f"PII scan of version {version_id}")
        version.refresh_from_db()
        return version

    def step_scan(self) -> dict[str, Any]:
        version = self.scanned(self.result("label"))
        findings = latest_scan(version).findings.order_by("column")
        return {"dataset_version": version.pk, "flagged": [f.column for f in findings]}

    def decide(self, version: DatasetVersion, *, masked: bool) -> dict[str, str]:
        """The steward's decision on each pending finding of the version's latest scan, by DEMO_POLICY. After
        masking, what is left in a policy column is the generalized value, which the steward accepts as masked."""
        decisions = {}
        scan = latest_scan(version)
        pending = scan.findings.filter(decision=PiiFinding.Decision.PENDING) if scan else []
        for finding in pending:
            personal = finding.column in DEMO_POLICY and not masked
            decision = PiiFinding.Decision.ACCEPTED if personal else PiiFinding.Decision.REJECTED
            pii_finding_decide(finding=finding, actor=self.actor, decision=decision)
            decisions[finding.column] = str(decision)
        return decisions

    def step_review(self) -> dict[str, str]:
        version = dataset_version_list().get(pk=self.result("label"))
        decisions = self.decide(version, masked=False)
        # Each decision is audited by the privacy service under the admin's name; this event says why they were
        # taken together: the demo shop's written policy, applied by the demo story on the admin's behalf.
        audit_log(
            actor=self.actor,
            action="demo_story.pii_policy",
            obj=version,
            summary={
                "decided_by": "the demo story, as the demo shop's steward",
                "accepted": sorted(c for c, d in decisions.items() if d == PiiFinding.Decision.ACCEPTED),
                "rejected": sorted(c for c, d in decisions.items() if d == PiiFinding.Decision.REJECTED),
                "policy": {name: rule["operator"] for name, rule in DEMO_POLICY.items()},
            },
        )
        return decisions

    def step_mask(self) -> int:
        version = dataset_version_list().get(pk=self.result("label"))
        present = set(version.column_names)
        policy = {"columns": {name: rule for name, rule in DEMO_POLICY.items() if name in present}}
        job = mask_start(version=version, actor=self.actor, policy=policy, save_as="demo shop policy")
        masked_id = self.wait(job, "masking").result["dataset_version"]
        self.decide(self.scanned(masked_id), masked=True)
        return masked_id

    def step_split(self) -> list[int]:
        params = {"strategy": "time", "time_column": "timestamp", "fractions": [0.8, 0.1, 0.1], "seed": 0}
        ids = self.transform(self.result("mask"), "split", params)["dataset_versions"]
        for ident in ids:
            self.decide(self.scanned(ident), masked=True)
        return ids

    def step_train(self) -> dict[str, Any]:
        train, valid, test = self.result("split")
        request = TrainingRequest(
            model_name=MODEL,
            dataset_version=train,
            valid_version=valid,
            test_version=test,
            spec=FeatureSpec.from_dict(FEATURES),
            params=dict(TRAIN_PARAMS),
        )
        job = self.wait(training_job_start(actor=self.actor, request=request), "training")
        return job.result["model_version"]

    def step_production(self) -> dict[str, Any]:
        trained = self.result("train")
        model = model_get(trained["model"])
        try:
            alias = model_alias_set(actor=self.actor, model=model, alias="production", version=trained["version"])
            forced = False
        except BelowBaseline:
            # The demo trains for a minute on CPU and may not beat its baseline: it still goes to production so the
            # monitoring page has traffic, the move is marked forced in the audit log, and the version page shows
            # the (negative) lift, as a steward forcing it would see it.
            alias = model_alias_set(
                actor=self.actor, model=model, alias="production", version=trained["version"], force=True
            )
            forced = True
        return {"model": trained["model"], "alias": alias.name, "version": trained["version"], "forced": forced}

    def step_traffic(self) -> dict[str, int]:
        """Rank requests through serving's handler, as POST /rank runs them, so the monitoring page has data."""
        test = dataset_version_list().get(pk=self.result("split")[2])
        rows = version_rows(version=test, offset=0, limit=500, user=self.actor)["results"]
        users = sorted({row["user_id"] for row in rows})
        items = sorted({row["item_id"] for row in rows})
        if not users or not items:
            raise StoryError("the test split is empty: no users or items to rank")
        rng = random.Random(0)
        answered = 0
        for _ in range(RANK_REQUESTS):
            outcome = handlers.Outcome(MODEL, "rank")
            body = {"user": rng.choice(users), "candidates": rng.sample(items, min(20, len(items))), "k": 10}
            handlers.rank(
                model=MODEL,
                selector=handlers.Selector(alias=None, version=None),
                data=body,
                actor_id=getattr(self.actor, "pk", None),
                outcome=outcome,
            )
            outcome.done(status=200)
            answered += 1
        recorder.flush()
        return {"requests": answered}

    def step_labeling(self) -> dict[str, Any]:
        dataset = dataset_list().filter(name=SEARCH_LOG).first()
        version = dataset_version_list(dataset=dataset).first() if dataset else None
        if version is None:
            return {"skipped": f"no {SEARCH_LOG} dataset"}
        project = project_create(
            actor=self.actor,
            name="Demo: search relevance",
            dataset_version=version,
            template="relevance",
            display_columns=["query", "title"],
            overlap=1,
            description="Is the item shown a good answer to the query? Seeded by the demo story.",
        )
        count = min(LABELING_TASKS, version.row_count)
        self.wait(tasks_create_start(actor=self.actor, project=project, strategy="random", count=count), "tasks")
        annotated = 0
        for _ in range(ANNOTATIONS):
            task = task_next(project=project, annotator=self.actor)
            if task is None:
                break
            # The demo annotator calls an item relevant when its title shares a word with the query.
            query = {w for w in str(task["data"].get("query", "")).lower().split() if w not in FILLER_WORDS}
            title = set(str(task["data"].get("title", "")).lower().split())
            label = "relevant" if query & title else "not_relevant"
            annotation_submit(task=project.tasks.get(pk=task["id"]), annotator=self.actor, label=label)
            annotated += 1
        return {"project": project.pk, "tasks": count, "annotations": annotated}


def story_run(*, job: Job, reporter: Reporter, poll: float = 0.5) -> dict[str, Any]:
    return Story(job, reporter, poll=poll).run()
