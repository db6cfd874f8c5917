"""Reads of the labeling app: projects, an annotator's progress, agreement and quality figures, the review queue."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet

from governance.labeling import agreement
from governance.labeling.models import Annotation, Project, Task


def visible_to(projects: QuerySet[Project], user: Any) -> QuerySet[Project]:
    """Stewards see every project; an annotator only those whose annotator list is empty or names them."""
    from core.roles import has_capability

    if has_capability(user, "labeling.manage"):
        return projects
    return projects.filter(Q(annotators=None) | Q(annotators=user.pk)).distinct()


def project_list(user: Any = None) -> QuerySet[Project]:
    projects = Project.objects.all() if user is None else visible_to(Project.objects.all(), user)
    return projects.select_related("dataset_version__dataset", "created_by").annotate(
        task_count=Count("tasks", filter=Q(tasks__kind=Task.Kind.NORMAL), distinct=True),
        done_count=Count(
            "tasks", filter=Q(tasks__kind=Task.Kind.NORMAL, tasks__status=Task.Status.DONE), distinct=True
        ),
    )


def task_counts(project: Project) -> dict[str, int]:
    rows = Task.objects.filter(project=project, kind=Task.Kind.NORMAL).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(Task.Status.values, 0) | {r["status"]: r["n"] for r in rows}
    counts["total"] = sum(counts[s] for s in Task.Status.values)
    counts["gold"] = Task.objects.filter(project=project, kind=Task.Kind.GOLD).count()
    return counts


def annotator_progress(*, project: Project, annotator: Any) -> dict[str, Any]:
    """What the annotator page shows: own count, what is left for them, own accuracy on gold tasks."""
    mine = Annotation.objects.filter(project=project, annotator=annotator)
    done = mine.filter(is_gold=False).count()
    gold = mine.filter(is_gold=True).aggregate(answered=Count("id"), correct=Count("id", filter=Q(gold_correct=True)))
    total = Task.objects.filter(project=project, kind=Task.Kind.NORMAL).count()
    remaining = (
        Task.objects.filter(project=project, kind=Task.Kind.NORMAL, status=Task.Status.OPEN)
        .exclude(assignments__annotator=annotator)
        .count()
    )
    return {
        "annotated": done,
        "tasks": total,
        "remaining_for_you": remaining,
        "gold": {
            "answered": gold["answered"],
            "correct": gold["correct"],
            "accuracy": gold["correct"] / gold["answered"] if gold["answered"] else None,
        },
    }


def _codes(project: Project, label: Any) -> list[tuple[str, int]]:
    """(unit suffix, code) per label: one unit per task for single-label templates, one binary decision per
    (task, tag) for tags."""
    names = project.label_names
    if project.multi:
        chosen = set(label or [])
        return [(f":{name}", int(name in chosen)) for name in names]
    return [("", names.index(label))]


def project_agreement(project: Project) -> dict[str, Any]:
    """Agreement per project and per annotator pair, annotator quality and throughput, the confusion matrix.

    Annotations that accepted a pre-label unchanged are counted apart: the headline figures leave them out, so a
    suggestion many annotators click through never inflates agreement; `with_accepted_suggestions` has the
    figures with them, for comparison.
    """
    users = dict(
        get_user_model()
        .objects.filter(pk__in=Annotation.objects.filter(project=project).values("annotator_id"))
        .values_list("pk", "username")
    )
    rows = list(
        Annotation.objects.filter(project=project, is_gold=False).values_list(
            "task_id", "annotator_id", "label", "accepted_suggestion", "seconds", "created_at"
        )
    )
    n_categories = 2 if project.multi else len(project.label_names)
    strict: dict[str, dict[str, int]] = defaultdict(dict)
    loose: dict[str, dict[str, int]] = defaultdict(dict)
    for task_id, annotator_id, label, accepted, *_ in rows:
        name = users.get(annotator_id, str(annotator_id))
        for suffix, code in _codes(project, label):
            loose[name][f"{task_id}{suffix}"] = code
            if not accepted:
                strict[name][f"{task_id}{suffix}"] = code

    def figures(ratings: dict[str, dict[str, int]]) -> dict[str, Any]:
        out = {
            "fleiss_kappa": agreement.fleiss_kappa(agreement.category_counts(ratings, n_categories)),
            "krippendorff_alpha": agreement.krippendorff_alpha(ratings, n_categories, "nominal"),
        }
        if project.ordinal:
            out["krippendorff_alpha_ordinal"] = agreement.krippendorff_alpha(ratings, n_categories, "ordinal")
        return out

    finals = dict(
        Task.objects.filter(project=project, kind=Task.Kind.NORMAL, status=Task.Status.DONE).values_list(
            "pk", "final_label"
        )
    )
    pairs: list[tuple[int, int]] = []
    per: dict[int, dict[str, Any]] = defaultdict(lambda: {"annotations": 0, "accepted_suggestions": 0, "seconds": []})
    agree: dict[int, list[int]] = defaultdict(list)
    for task_id, annotator_id, label, accepted, seconds, _created in rows:
        stats = per[annotator_id]
        stats["annotations"] += 1
        stats["accepted_suggestions"] += int(accepted)
        if seconds is not None:
            stats["seconds"].append(seconds)
        if task_id in finals:
            agree[annotator_id].append(int(label == finals[task_id]))
            given = dict(_codes(project, label))
            for suffix, code in _codes(project, finals[task_id]):
                pairs.append((code, given[suffix]))
    gold = dict.fromkeys(per, (0, 0))
    for annotator_id, answered, correct in (
        Annotation.objects.filter(project=project, is_gold=True)
        .values("annotator_id")
        .annotate(answered=Count("id"), correct=Count("id", filter=Q(gold_correct=True)))
        .values_list("annotator_id", "answered", "correct")
    ):
        gold[annotator_id] = (answered, correct)
    annotators = []
    for annotator_id in sorted(set(per) | set(gold), key=lambda a: users.get(a, "")):
        stats = per.get(annotator_id, {"annotations": 0, "accepted_suggestions": 0, "seconds": []})
        answered, correct = gold.get(annotator_id, (0, 0))
        busy = sum(stats["seconds"])
        annotators.append(
            {
                "annotator": users.get(annotator_id, str(annotator_id)),
                "annotations": stats["annotations"],
                "accepted_suggestions": stats["accepted_suggestions"],
                "agreement_with_final": (sum(agree[annotator_id]) / len(agree[annotator_id]))
                if agree[annotator_id]
                else None,
                "gold_answered": answered,
                "gold_accuracy": correct / answered if answered else None,
                "median_seconds": statistics.median(stats["seconds"]) if stats["seconds"] else None,
                "per_hour": round(3600 * stats["annotations"] / busy, 1) if busy > 0 else None,
            }
        )
    accepted = sum(1 for r in rows if r[3])
    shown = Annotation.objects.filter(project=project, is_gold=False).exclude(suggested=None).count()
    body: dict[str, Any] = {
        "template": project.template,
        "annotations": len(rows),
        "tasks": task_counts(project),
        "cohen_kappa": agreement.cohen_pairs(strict, n_categories),
        **figures(strict),
        "suggestions": {"shown": shown, "accepted_unchanged": accepted, "changed": shown - accepted},
        "with_accepted_suggestions": figures(loose) | {"cohen_kappa": agreement.cohen_pairs(loose, n_categories)},
        "annotators": annotators,
        "confusion": {
            "labels": ["no", "yes"] if project.multi else project.label_names,
            "reference": "final label",
            "matrix": agreement.confusion(pairs, n_categories),
        },
    }
    if project.ordinal:
        body["cohen_kappa_quadratic"] = agreement.cohen_pairs(strict, n_categories, weights="quadratic")
    return body


def review_queue(project: Project) -> QuerySet[Task]:
    return Task.objects.filter(project=project, kind=Task.Kind.NORMAL, status=Task.Status.REVIEW).order_by(
        "agreement", "id"
    )


def task_annotations(task: Task) -> list[dict[str, Any]]:
    return [
        {
            "annotator": a.annotator.username,
            "label": a.label,
            "accepted_suggestion": a.accepted_suggestion,
            "created_at": a.created_at.isoformat(),
        }
        for a in Annotation.objects.filter(task=task).select_related("annotator").order_by("id")
    ]


def openlineage_project_dataset(project_id: Any) -> tuple[str, list[tuple[str, str]]] | None:
    """The dataset version a labeling project reads, as OpenLineage names it."""
    from governance.catalog.selectors import openlineage_dataset

    version_id = Project.objects.filter(pk=project_id).values_list("dataset_version_id", flat=True).first()
    return openlineage_dataset(version_id) if version_id is not None else None


def openlineage_project_hidden_columns(project_id: Any) -> set[str] | None:
    """The hidden columns (for a reader without pii.manage) of the dataset version a labeling project reads."""
    from governance.catalog.selectors import openlineage_hidden_columns

    version_id = Project.objects.filter(pk=project_id).values_list("dataset_version_id", flat=True).first()
    return openlineage_hidden_columns(version_id) if version_id is not None else None


def gold_summary(project: Project) -> dict[str, Any]:
    """The project page's gold card: each gold task (row, known answer, answered, correct) and each annotator's
    accuracy on gold."""
    tasks = list(
        Task.objects.filter(project=project, kind=Task.Kind.GOLD)
        .annotate(
            answered=Count("annotations", filter=Q(annotations__is_gold=True)),
            correct=Count("annotations", filter=Q(annotations__is_gold=True, annotations__gold_correct=True)),
        )
        .order_by("row")
    )
    users = dict(get_user_model().objects.values_list("id", "username"))
    annotators = [
        {
            "annotator": users.get(annotator_id, str(annotator_id)),
            "answered": answered,
            "correct": correct,
            "accuracy": correct / answered if answered else None,
        }
        for annotator_id, answered, correct in Annotation.objects.filter(project=project, is_gold=True)
        .values("annotator_id")
        .annotate(answered=Count("id"), correct=Count("id", filter=Q(gold_correct=True)))
        .values_list("annotator_id", "answered", "correct")
    ]
    annotators.sort(key=lambda a: a["annotator"])
    return {"tasks": tasks, "annotators": annotators}


def annotator_candidates() -> QuerySet[Any]:
    """Users who may annotate (their role has labeling.annotate): the choices of a project's annotator list."""
    from core.roles import CAPABILITIES

    roles = sorted(CAPABILITIES["labeling.annotate"])
    return (
        get_user_model()
        .objects.filter(Q(groups__name__in=roles) | Q(is_superuser=True), is_active=True)
        .distinct()
        .order_by("username")
    )
