"""Agreement figures against worked examples from the literature and independent computations
(scikit-learn's cohen_kappa_score, the krippendorff package on the raw matrix, Fleiss' formula by hand)."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from governance.labeling import agreement
from governance.labeling.models import Task
from governance.labeling.services import annotation_submit, task_next
from tests.factories import add_tasks, search_csv

NAN = np.nan


def test_cohen_kappa_matches_the_textbook_example():
    # Wikipedia, "Cohen's kappa": 50 grant proposals, both yes 20, both no 15, A yes / B no 5, A no / B yes 10.
    a = [1] * 20 + [0] * 15 + [1] * 5 + [0] * 10
    b = [1] * 20 + [0] * 15 + [0] * 5 + [1] * 10
    ratings = {"A": dict(enumerate(a)), "B": dict(enumerate(b))}
    assert agreement.cohen_pairs(ratings, 2)["A|B"] == {"kappa": pytest.approx(0.4), "n": 50}


def test_fleiss_kappa_matches_the_worked_example():
    # Wikipedia, "Fleiss' kappa": 10 subjects, 14 raters, 5 categories; P-bar 0.378, P_e 0.213, kappa 0.210.
    counts = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    assert agreement.fleiss_kappa(counts) == pytest.approx(0.210, abs=5e-4)


def test_krippendorff_alpha_matches_krippendorffs_own_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 observers, 12 units,
    # values 1-5, missing data. Published: nominal 0.743, ordinal 0.815.
    table = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    ratings = {
        obs: {u: v - 1 for u, v in enumerate(row) if v is not None} for obs, row in zip("ABCD", table, strict=True)
    }
    assert agreement.krippendorff_alpha(ratings, 5, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert agreement.krippendorff_alpha(ratings, 5, "ordinal") == pytest.approx(0.815, abs=5e-4)


def test_undefined_agreement_is_none_not_a_number():
    same = {"A": {1: 0, 2: 0}, "B": {1: 0, 2: 0}}
    assert agreement.cohen_pairs(same, 2)["A|B"]["kappa"] is None
    assert agreement.fleiss_kappa(np.array([[2, 0]])) is None
    assert agreement.krippendorff_alpha({"A": {1: 0}}, 2) is None


# Three annotators grade eight query-item pairs 0-3 (graded relevance, overlap 3).
GRADES = {
    "ann0": [3, 2, 0, 1, 3, 2, 0, 1],
    "ann1": [3, 2, 1, 1, 2, 2, 0, 0],
    "ann2": [2, 2, 0, 1, 3, 3, 0, 1],
}
NAMES = ["irrelevant", "marginal", "relevant", "perfect"]


@pytest.mark.django_db
def test_project_agreement_equals_independent_computations(upload, make_project, annotators, steward_api):
    version = upload(search_csv(8), name="search.csv", dataset="search")
    project = make_project(
        version, template="graded_relevance", labels=None, overlap=3, display_columns=["query", "title"]
    )
    add_tasks(project, list(range(8)))
    users = {u.username: u for u in annotators}
    for name, grades in GRADES.items():
        for _ in grades:
            served = task_next(project=project, annotator=users[name])
            annotation_submit(
                task=Task.objects.select_related("project").get(pk=served["id"]),
                annotator=users[name],
                label=NAMES[grades[served["row"]]],
            )
    body = steward_api.get(f"/api/v1/labeling/projects/{project.pk}/agreement/").json()

    for a, b in itertools.combinations(GRADES, 2):
        expected = cohen_kappa_score(GRADES[a], GRADES[b], labels=[0, 1, 2, 3])
        assert body["cohen_kappa"][f"{a}|{b}"] == {"kappa": pytest.approx(expected), "n": 8}
        quadratic = cohen_kappa_score(GRADES[a], GRADES[b], labels=[0, 1, 2, 3], weights="quadratic")
        assert body["cohen_kappa_quadratic"][f"{a}|{b}"]["kappa"] == pytest.approx(quadratic)
    matrix = np.array(list(GRADES.values()), dtype=float)
    assert body["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal", value_domain=[0, 1, 2, 3])
    )
    assert body["krippendorff_alpha_ordinal"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal", value_domain=[0, 1, 2, 3])
    )
    # Fleiss by hand: n = 3 raters per item.
    counts = np.array([[list(col).count(k) for k in range(4)] for col in matrix.T.astype(int)])
    p_i = ((counts * (counts - 1)).sum(1) / 6).mean()
    p_j = counts.sum(0) / counts.sum()
    assert body["fleiss_kappa"] == pytest.approx((p_i - (p_j**2).sum()) / (1 - (p_j**2).sum()))
    # Every annotation is either pooled in the confusion matrix (tasks with a final label) or waits for review.
    assert sum(map(sum, body["confusion"]["matrix"])) == 3 * body["tasks"]["done"]
    assert body["tasks"]["done"] + body["tasks"]["review"] == 8
    assert {a["annotator"]: a["annotations"] for a in body["annotators"]} == dict.fromkeys(GRADES, 8)


@pytest.mark.django_db
def test_accepted_pre_labels_are_counted_apart_and_never_inflate_agreement(
    upload, make_project, annotators, steward_api
):
    version = upload(search_csv(6), name="search.csv", dataset="search")
    project = make_project(version, template="relevance", labels=None, overlap=2, display_columns=["query"])
    # Rows 0-2 suggest "relevant" and both annotators click it through; rows 3-5 have no suggestion.
    add_tasks(project, [0, 1, 2], suggestion={"label": "relevant", "scores": {}, "source": "base_model"})
    add_tasks(project, [3, 4, 5])
    plan = {"ann0": [1, 1, 1, 1, 0, 1], "ann1": [1, 1, 1, 0, 1, 1]}
    names = ["not_relevant", "relevant"]
    users = {u.username: u for u in annotators}
    for name, labels in plan.items():
        for _ in labels:
            served = task_next(project=project, annotator=users[name])
            task = Task.objects.select_related("project").get(pk=served["id"])
            annotation_submit(task=task, annotator=users[name], label=names[labels[served["row"]]])
    body = steward_api.get(f"/api/v1/labeling/projects/{project.pk}/agreement/").json()
    assert body["suggestions"] == {"shown": 6, "accepted_unchanged": 6, "changed": 0}
    # The headline figures see rows 3-5 only ...
    strict = cohen_kappa_score(plan["ann0"][3:], plan["ann1"][3:])
    assert body["cohen_kappa"]["ann0|ann1"] == {"kappa": pytest.approx(strict), "n": 3}
    assert body["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=[plan["ann0"][3:], plan["ann1"][3:]], level_of_measurement="nominal")
    )
    # ... while the six clicked-through agreements would have lifted alpha.
    loose = krippendorff.alpha(reliability_data=[plan["ann0"], plan["ann1"]], level_of_measurement="nominal")
    assert body["with_accepted_suggestions"]["krippendorff_alpha"] == pytest.approx(loose)
    assert loose > body["krippendorff_alpha"]
