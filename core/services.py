from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from core.audit import audit_log
from core.errors import ServiceError
from core.roles import ROLES


def roles_ensure() -> None:
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def user_create(*, actor: Any, username: str, password: str, role: str, email: str = "") -> User:
    if role not in ROLES:
        raise ServiceError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.", field="role")
    try:
        # AUTH_PASSWORD_VALIDATORS: length, not common, not all digits, not like the username or e-mail.
        validate_password(password, user=User(username=username, email=email))
    except ValidationError as exc:
        raise ServiceError("password: " + " ".join(exc.messages), field="password") from None
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise ServiceError(f"User {username!r} already exists.", field="username", status_code=409, code="exists")
        user = User.objects.create_user(username=username, password=password, email=email)
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
        audit_log(actor=actor, action="user.create", obj=user, summary={"username": username, "role": role})
    return user
