from __future__ import annotations

from typing import Any

from django.db import models

from core.models import AuditEvent


def user_or_none(actor: Any) -> Any:
    """The user to record on a row: the actor when it is a signed-in user, else None (system, anonymous)."""
    return actor if getattr(actor, "is_authenticated", False) else None


def audit_log(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    summary: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record a write. Call inside the writing transaction so the event and the change commit together."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    return AuditEvent.objects.create(
        actor=user_or_none(actor),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary or {},
    )
