"""Files as documents: a `multipart/form-data` submission (what a browser form sends) becomes a
batch of documents, one per `file` part.

Each file's id is its file name with every character a document id may not hold replaced by
`-` (an `id` field names it instead, for a single file); its title is the file name without its
extension. Optional text fields: `metadata` (a JSON object, for every file), `tenant`. Text
formats are read as UTF-8: `text/plain` and `text/markdown`, and a file named `.txt`, `.md` or
`.markdown` whatever type the browser gave it (browsers send `application/octet-stream` for
types they do not know). Any other type is refused with 415 naming the file and the type.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import PurePosixPath
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from sluice.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from sluice.events import DocumentIn
from sluice.http import shorten

MULTIPART = "multipart/form-data"
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/x-markdown"})
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
FIELDS = frozenset({"file", "id", "metadata", "tenant"})
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._~:@+-]")


def documents_from_form(
    body: bytes, content_type: str, options: dict[str, str], max_files: int
) -> list[DocumentIn]:
    """The documents of a multipart body (already read within the body limit)."""
    if "boundary" not in options:
        raise ValidationFailed("the multipart body has no boundary parameter", code="invalid_form")
    parser = FormDataParser(
        max_form_memory_size=1 << 16, silent=False, max_form_parts=max_files + len(FIELDS)
    )
    try:
        _, form, files = parser.parse(io.BytesIO(body), content_type, len(body), options)
    except RequestEntityTooLarge as exc:
        raise PayloadTooLarge(
            f"the form has more than {max_files} files or a field over 64 KiB",
            code="form_too_large",
        ) from exc
    except ValueError as exc:  # a malformed multipart body
        raise ValidationFailed(
            f"the multipart body is malformed: {exc}", code="invalid_form"
        ) from exc
    unknown = sorted(set(form) - FIELDS | set(files) - {"file"})
    if unknown:
        raise ValidationFailed(
            f"unknown form fields {unknown}; send files as 'file' parts, and optionally "
            "'id', 'metadata' (a JSON object) and 'tenant'",
            code="invalid_form",
        )
    uploads = files.getlist("file")
    if not uploads:
        raise ValidationFailed("the form has no 'file' part", code="invalid_form")
    if len(uploads) > max_files:
        raise PayloadTooLarge(
            f"{len(uploads)} files in one request; the limit is {max_files}", code="batch_too_large"
        )
    doc_id = form.get("id")
    if doc_id is not None and len(uploads) > 1:
        raise ValidationFailed("'id' names a single file's document", code="invalid_form")
    metadata, tenant = _metadata(form), form.get("tenant")
    return [_document(upload, doc_id, metadata, tenant) for upload in uploads]


def _document(
    upload: FileStorage, doc_id: str | None, metadata: dict[str, Any], tenant: str | None
) -> DocumentIn:
    name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
    if not name:
        raise ValidationFailed("a 'file' part has no file name", code="invalid_form")
    media_type = upload.mimetype
    if media_type not in TEXT_TYPES and PurePosixPath(name).suffix.lower() not in TEXT_SUFFIXES:
        raise UnsupportedMediaType(
            f"{shorten(name)!r} is {media_type or 'of no type'}; files of type "
            f"{', '.join(sorted(TEXT_TYPES))} (or named {', '.join(sorted(TEXT_SUFFIXES))}) "
            "are accepted",
            code="unsupported_media_type",
        )
    try:
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"{shorten(name)!r} is not UTF-8 text (byte {exc.start})", code="invalid_encoding"
        ) from exc
    fields = {
        "id": doc_id or _id_of(name),
        "title": PurePosixPath(name).stem[:1024],
        "text": text,
        "metadata": metadata,
        "tenant": tenant,
    }
    return DocumentIn.model_validate(fields)


def _id_of(name: str) -> str:
    """A document id from a file name: what an id may not hold becomes `-`."""
    cleaned = _NOT_IN_ID.sub("-", name)[:256]
    return cleaned if cleaned[:1].isalnum() and cleaned[:1].isascii() else f"f{cleaned[:255]}"


def _metadata(form: MultiDict[str, str]) -> dict[str, Any]:
    raw = form.get("metadata")
    if raw is None or not raw.strip():
        return {}
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"the 'metadata' field is not JSON: {exc.msg} at {exc.pos}", code="invalid_form"
        ) from exc
    if not isinstance(metadata, dict):
        raise ValidationFailed("the 'metadata' field must be a JSON object", code="invalid_form")
    return metadata
