from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import AccessMixin
from rest_framework.permissions import BasePermission

from core.roles import has_capability


def capability(name: str) -> type[BasePermission]:
    """A DRF permission class requiring one capability from core.roles."""

    class HasCapability(BasePermission):
        message = f"Your role does not allow this ({name})."

        def has_permission(self, request: Any, view: Any) -> bool:
            return has_capability(request.user, name)

    HasCapability.__name__ = f"Has_{name.replace('.', '_')}"
    return HasCapability


def capability_by_method(read: str, write: str) -> type[BasePermission]:
    class ByMethod(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request: Any, view: Any) -> bool:
            needed = read if request.method in ("GET", "HEAD", "OPTIONS") else write
            return has_capability(request.user, needed)

    ByMethod.__name__ = f"Has_{read.replace('.', '_')}_or_{write.replace('.', '_')}"
    return ByMethod


class CapabilityRequiredMixin(AccessMixin):
    """For server-rendered pages: log in first, then the role must hold `required_capability`."""

    required_capability: str = ""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_capability(request.user, self.required_capability):
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)
