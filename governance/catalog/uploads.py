"""The upload size limit, enforced while the request body streams in (not after Django has spooled all of it).

`LimitedUploadHandler` runs first among Django's upload handlers for every multipart request, API and pages
alike: a request that declares a body over the limit is refused before a byte of it is read, and one that sends
more than it declared (or declares nothing) is refused as soon as the file data passes the limit.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework import status
from rest_framework.exceptions import APIException

# Room for the multipart envelope and the form's other fields (format, sep, encoding, a CSRF token).
ENVELOPE_BYTES = 64 * 1024


def limit_bytes() -> int:
    return settings.STEWARD_MAX_UPLOAD_MB * 1024 * 1024


class UploadTooLarge(APIException, RequestDataTooBig):
    """An API error (400, code too_large) for DRF views; for Django's own handling, a RequestDataTooBig (400)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "too_large"

    def __init__(self) -> None:
        super().__init__(
            f"The file is larger than the limit of {settings.STEWARD_MAX_UPLOAD_MB} MB (STEWARD_MAX_UPLOAD_MB).",
            code="too_large",
        )


class LimitedUploadHandler(FileUploadHandler):
    """Counts the file bytes of one request and stops the upload once they pass STEWARD_MAX_UPLOAD_MB."""

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: str | None = None
    ) -> None:
        self.received = 0
        if content_length and content_length > limit_bytes() + ENVELOPE_BYTES:
            raise UploadTooLarge()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received = getattr(self, "received", 0) + len(raw_data)
        if self.received > limit_bytes():
            raise UploadTooLarge()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
