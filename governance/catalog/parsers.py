from __future__ import annotations

import html
from typing import Any

from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser


class _StrictNames(DjangoMultiPartParser):
    """Django quietly strips directories from upload names; Steward refuses them instead."""

    def sanitize_file_name(self, file_name: str) -> str | None:
        # Django unescapes HTML entities before it strips directories, so `a&#x2f;b.csv` has path parts too.
        unescaped = html.unescape(file_name)
        if "/" in unescaped or "\\" in unescaped or unescaped.strip() in {".", ".."}:
            raise MultiPartParserError("The file name must not contain path parts (/, \\ or ..).")
        return super().sanitize_file_name(file_name)


class StrictMultiPartParser(MultiPartParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            parser = _StrictNames(meta, stream, request.upload_handlers, parser_context.get("encoding", "utf-8"))
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(str(exc)) from None
        from rest_framework.parsers import DataAndFiles

        return DataAndFiles(data, files)
