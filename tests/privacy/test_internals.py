"""The one module that uses library internals checks the installed versions before anything else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from governance.privacy.internals import SUPPORTED_VERSIONS, UnsupportedLibraryVersion, check_library_versions

ROOT = Path(__file__).resolve().parents[2]
TESTED = {package: oldest for package, (oldest, _) in SUPPORTED_VERSIONS.items()}


def test_the_installed_libraries_are_versions_the_privacy_code_was_written_for():
    check_library_versions()


@pytest.mark.parametrize(
    "package, version, expected",
    [
        ("presidio-analyzer", "2.3.0", "presidio-analyzer 2.3.0 is installed; Steward's privacy code was written for"),
        ("presidio-analyzer", "2.2.300", ">=2.2.366,<2.3"),
        ("phonenumbers", "10.0.0", "phonenumbers 10.0.0 is installed"),
        ("phonenumbers", "8.13.55", "phonenumbers 8.13.55 is installed"),
        ("phonenumbers", None, "phonenumbers is not installed"),
    ],
)
def test_a_library_outside_the_supported_versions_is_refused_naming_it_and_what_to_do(package, version, expected):
    with pytest.raises(UnsupportedLibraryVersion, match=expected) as refused:
        check_library_versions(TESTED | {package: version})
    assert "governance/privacy/internals.py" in str(refused.value)


def test_later_patch_releases_within_the_range_are_accepted():
    check_library_versions(TESTED | {"presidio-analyzer": "2.2.370", "phonenumbers": "9.0.50"})


def test_importing_the_module_refuses_an_unsupported_release_before_touching_its_internals():
    # A fresh interpreter that reports phonenumbers 10.0.0 installed. The recognizers and the analyzer
    # import this module, so a process loading the PII engine stops here.
    code = (
        "import importlib.metadata as m; real = m.version; "
        "m.version = lambda name: '10.0.0' if name == 'phonenumbers' else real(name); "
        "import governance.privacy.internals"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "UnsupportedLibraryVersion: phonenumbers 10.0.0 is installed" in done.stderr
    assert "presidio_analyzer" not in done.stderr  # refused before any internal name was looked up
