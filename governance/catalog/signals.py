from __future__ import annotations

from django.dispatch import Signal

# Sent after the creating transaction commits, with `version_id` and `actor_id`. The privacy app listens
# to scan every new version.
dataset_version_created = Signal()
