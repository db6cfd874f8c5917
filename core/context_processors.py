from __future__ import annotations

from typing import Any

from core.roles import CAPABILITIES, has_capability


def roles(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can": {}}
    return {"can": {name.replace(".", "_"): has_capability(user, name) for name in CAPABILITIES}}
