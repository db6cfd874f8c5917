"""Tests that start a real celery worker carry the `worker` marker, so `make test-quick` leaves them all out."""

from __future__ import annotations

import pytest

from tests.worker import start_worker


@pytest.mark.django_db(transaction=True)
def test_a_test_without_the_worker_marker_may_not_start_a_worker() -> None:
    with pytest.raises(RuntimeError, match=r"pytest\.mark\.worker"), start_worker():
        pass
