from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def analyzer():
    from governance.privacy.analyzer import get_analyzer

    return get_analyzer()
