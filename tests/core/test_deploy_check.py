"""Production settings: `manage.py check --deploy` is clean, and production refuses to start without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "PYTEST", "DJANGO_SETTINGS"))}
    base.update({"STEWARD_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "STEWARD_PRODUCTION": "1",
    "STEWARD_SECRET_KEY": "x7!kQ9#pL2$vN8@wR4^tY6&uI0*oP3(aS5)dF1-gH7=jK9+lZ2~xC4",
    "STEWARD_PII_SALT": "a-separate-salt-of-32-characters",
}


def test_check_deploy_reports_no_issue_with_production_settings(tmp_path: Path) -> None:
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "W0" not in result.stderr  # not a single warning, drf-spectacular's W002 included


def test_production_refuses_to_start_without_a_pii_salt(tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "STEWARD_PII_SALT"}
    result = _manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert "STEWARD_PII_SALT must be set" in result.stderr


def test_the_embedded_pii_salt_is_its_own_secret_not_a_slice_of_the_secret_key(tmp_path: Path) -> None:
    code = "from django.conf import settings as s; print(s.SECRET_KEY); print(s.STEWARD_PII_HASH_SALT)"
    result = _manage(tmp_path, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    secret_key, salt = result.stdout.split()[-2:]
    assert len(salt) >= 32
    assert salt not in secret_key
    assert (tmp_path / "pii_salt").read_text().strip() == salt
