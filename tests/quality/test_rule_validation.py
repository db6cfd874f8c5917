"""Writing a rule: bad input is refused with a message naming the problem, and nothing is stored."""

from __future__ import annotations

import pytest

from core.errors import ServiceError
from governance.quality.models import QualityRule
from governance.quality.services import quality_rule_create

pytestmark = pytest.mark.django_db

CSV = "user_id,item_id,rating,title\n1,10,5,red mug\n2,11,3,blue cup\n3,10,4,green bowl\n"


@pytest.fixture
def dataset(upload):
    return upload(CSV, dataset="clicks").dataset


@pytest.mark.parametrize(
    ("kind", "columns", "params", "message"),
    [
        ("not_null", ["nope"], {}, "Unknown column 'nope'"),
        ("range", ["rating"], {"min": 5, "max": 1}, "`min` (5) is above `max` (1)"),
        ("range", ["rating"], {"min": 3, "max": 3, "max_inclusive": False}, "no value could pass"),
        ("range", ["title"], {"min": 1}, "needs a numeric column"),
        ("range", ["rating"], {}, "needs `min`, `max` or both"),
        ("regex", ["title"], {"pattern": "(unclosed"}, "does not compile"),
        ("regex", ["title"], {"pattern": r"(a)\1"}, "linear-time (RE2) engine cannot run"),
        ("regex", ["title"], {"pattern": r"(?=mug)"}, "look-around"),
        ("allowed_values", ["rating"], {"values": []}, "non-empty list"),
        ("row_count_between", [], {"min": 10, "max": 2}, "`min` (10) is above `max` (2)"),
        ("max_null_fraction", ["rating"], {"max_fraction": 1.5}, "from 0 to 1"),
        ("freshness", ["rating"], {"max_age_days": 0}, "above 0"),
        ("distribution_shift", ["rating"], {"bins": 1}, "from 2 to 100"),
        ("references", ["item_id"], {"dataset_version": 999999, "column": "item_id"}, "does not exist"),
        ("unique", [], {}, "takes 1 to 16 columns"),
        ("sometimes", ["rating"], {}, "Unknown rule kind 'sometimes'"),
        ("not_null", ["rating"], {"extra": 1}, "Unknown parameter(s) for not_null: extra"),
    ],
)
def test_bad_rule_is_refused_naming_the_problem_and_nothing_is_stored(dataset, steward, kind, columns, params, message):
    with pytest.raises(ServiceError) as caught:
        quality_rule_create(actor=steward, dataset=dataset, kind=kind, columns=columns, params=params)
    assert message in caught.value.message
    assert caught.value.status_code == 400
    assert not QualityRule.objects.exists()


def test_references_to_a_column_the_writer_may_not_read_is_refused(upload, personas, monkeypatch):
    from governance.catalog import hooks

    items = upload("item_id,email\n10,a@example.com\n", dataset="items")
    clicks = upload(CSV, dataset="clicks").dataset
    engineer = personas["ml_engineer"]
    monkeypatch.setattr(hooks, "_hidden_columns", [lambda version, user: {"email"} if user == engineer else set()])
    with pytest.raises(ServiceError) as caught:
        quality_rule_create(
            actor=engineer,
            dataset=clicks,
            kind="references",
            columns=["item_id"],
            params={"dataset_version": items.pk, "column": "email"},
        )
    assert "personal data you may not read" in caught.value.message
    outsider = personas["outsider"]
    with pytest.raises(ServiceError) as caught:
        quality_rule_create(
            actor=outsider,
            dataset=clicks,
            kind="references",
            columns=["item_id"],
            params={"dataset_version": items.pk, "column": "item_id"},
        )
    assert "You may not read dataset version" in caught.value.message
    assert not QualityRule.objects.exists()


def test_a_rule_on_a_dataset_without_versions_is_refused(steward):
    from governance.catalog.services import dataset_create

    empty = dataset_create(actor=steward, name="empty")
    with pytest.raises(ServiceError, match="has no version yet"):
        quality_rule_create(actor=steward, dataset=empty, kind="row_count_between", params={"min": 1})


def test_a_valid_rule_is_stored_with_clean_params_and_a_readable_name(dataset, steward):
    rule = quality_rule_create(
        actor=steward, dataset=dataset, kind="range", columns=["rating"], params={"min": 1, "max": 5}
    )
    assert rule.params == {"min": 1, "max": 5, "min_inclusive": True, "max_inclusive": True}
    assert rule.name == "range(rating in [1, 5])" and rule.status == "active" and rule.severity == "blocking"
