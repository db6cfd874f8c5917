"""First-run set-up for `make run`: roles, the admin user, and the demo datasets. Safe to run again."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core.services import roles_ensure
from governance.catalog.services import dataset_get_or_create, dataset_version_upload
from home.demo_data import write_demo_data, write_search_log

DEMO = [
    ("demo-users", "users", "users", "Demo shop customers: names, e-mails, phones, addresses (personal data)."),
    ("demo-items", "items", "items", "Demo shop catalogue: titles, categories, brands, prices."),
    (
        "demo-interactions",
        "interactions",
        "interactions",
        "Demo shop behaviour log: views, clicks, purchases, ratings and short reviews (some mention personal data).",
    ),
    ("demo-search-log", "search_log", "interactions", "Demo shop search log: queries, items shown, positions, clicks."),
]


class Command(BaseCommand):
    help = "Create roles, the admin user and the demo datasets (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-demo", action="store_true", help="skip the demo datasets")

    def handle(self, *args: Any, **options: Any) -> None:
        roles_ensure()
        admin, password = self._admin()
        if not options["no_demo"]:
            self._demo(admin)
        self.stdout.write(f"login: admin / {password}")

    def _admin(self) -> tuple[User, str]:
        password_file = Path(settings.DATA_DIR) / "admin_password"
        configured = settings.STEWARD_ADMIN_PASSWORD
        admin = User.objects.filter(username="admin").first()
        if configured:
            try:
                validate_password(configured, user=admin or User(username="admin", email="admin@localhost"))
            except ValidationError as exc:
                raise CommandError("STEWARD_ADMIN_PASSWORD is too weak: " + " ".join(exc.messages)) from None
        if admin is None:
            password = configured or secrets.token_urlsafe(12)
            admin = User.objects.create_superuser("admin", "admin@localhost", password)
            if not configured:
                password_file.write_text(password)
                password_file.chmod(0o600)
            return admin, password
        if configured:
            if not admin.check_password(configured):
                admin.set_password(configured)
                admin.save(update_fields=["password"])
            return admin, configured
        if password_file.exists():
            return admin, password_file.read_text().strip()
        return admin, "(unchanged: set STEWARD_ADMIN_PASSWORD to reset it)"

    def _demo(self, admin: User) -> None:
        out = Path(settings.DATA_DIR) / "demo"
        files = write_demo_data(out)
        files["search_log"] = write_search_log(out)
        for name, key, kind, description in DEMO:
            dataset = dataset_get_or_create(actor=admin, name=name, description=description, kind=kind, tags=["demo"])
            with files[key].open("rb") as fh:
                version, created = dataset_version_upload(
                    actor=admin, dataset=dataset, source=fh, filename=files[key].name
                )
            state = "registered" if created else "already registered"
            self.stdout.write(f"demo dataset {name}: version {version.number} {state} ({version.row_count} rows)")
