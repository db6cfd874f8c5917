from __future__ import annotations

import json
from typing import Any

from core.models import Job


def test_json_with_nul_characters_is_a_400_and_starts_no_job(steward_api: Any, upload: Any) -> None:
    version = upload("a,b\n1,2\n")
    body = json.dumps({"operation": "split", "params": {"\x00": "\x00"}})
    resp = steward_api.post(f"/api/v1/dataset-versions/{version.pk}/transforms/", body, content_type="application/json")
    assert resp.status_code == 400
    assert "NUL" in resp.json()["detail"]
    assert not Job.objects.filter(kind="transform").exists()
