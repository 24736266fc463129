"""Files as documents: a file sent as the request body with its media type, or the files of a
`multipart/form-data` submission (what a browser form sends), one document per file.

Ingest only checks what a file is (its media type, or for `application/octet-stream` the
suffix of its name: `sluice.extract.formats`) and how large; transform reads it. What the
client says about it:

- a raw body: query parameters `id`, `title`, `tenant`, `metadata` (a JSON object) and
  `filename`, or the headers `Sluice-Document-Id`, `Sluice-Title` (percent-encoded UTF-8),
  `Sluice-Tenant`, `Sluice-Metadata` and `Content-Disposition: attachment; filename=…`;
- a form: `file` parts, and the text fields `id` (a single file's), `metadata` (for every
  file) and `tenant`.

A file's id, unless named, is its file name with every character a document id may not hold
replaced by `-` (without a name: a hash of its bytes); its title, unless named, is the one the
document gives itself (transform finds it), else the file name without its extension.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

from flask import Request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header

from sluice.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from sluice.events import DocumentFields
from sluice.extract.formats import accepted_types, media_type_of
from sluice.http import shorten

MULTIPART = "multipart/form-data"
FORM_FIELDS = frozenset({"file", "id", "metadata", "tenant"})
# A raw file's query parameters, and the header that may say the same instead.
RAW_FIELDS = {
    "id": "Sluice-Document-Id",
    "title": "Sluice-Title",
    "tenant": "Sluice-Tenant",
    "metadata": "Sluice-Metadata",
    "filename": None,
}
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._~:@+-]")


@dataclass(frozen=True)
class FileIn:
    """A submitted file: its bytes, what it is, and what the client said about it."""

    fields: DocumentFields
    data: bytes
    media_type: str
    charset: str | None
    name: str


def is_file(request: Request) -> bool:
    """Whether the request's body is a file (a media type Sluice reads, not JSON)."""
    return media_type_of(request.mimetype, _raw_filename(request)) is not None


def file_from_request(request: Request, body: bytes) -> FileIn:
    """The file a request carries as its body."""
    unknown = sorted(set(request.args) - set(RAW_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"unknown query parameters {unknown}; a file takes {sorted(RAW_FIELDS)}",
            code="invalid_parameter",
        )
    name = _file_name(_raw_filename(request))
    media_type = media_type_of(request.mimetype, name)
    assert media_type is not None  # is_file said so
    fields: dict[str, Any] = {}
    for field, header in RAW_FIELDS.items():
        value = _raw_field(request, field, header)
        if value is not None and field != "filename":
            fields[field] = value
    if "metadata" in fields:
        fields["metadata"] = _json_object(fields["metadata"], "invalid_parameter")
    fields.setdefault("id", _id_of(name) if name else None)
    return FileIn(
        DocumentFields.model_validate(fields),
        body,
        media_type,
        request.mimetype_params.get("charset"),
        name,
    )


def files_from_form(
    body: bytes, content_type: str, options: dict[str, str], max_files: int
) -> list[FileIn]:
    """The files of a multipart body (already read within the body limit)."""
    if "boundary" not in options:
        raise ValidationFailed("the multipart body has no boundary parameter", code="invalid_form")
    parser = FormDataParser(
        max_form_memory_size=1 << 16, silent=False, max_form_parts=max_files + len(FORM_FIELDS)
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
    unknown = sorted(set(form) - FORM_FIELDS | set(files) - {"file"})
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
    shared = _form_fields(form)
    return [_form_file(upload, doc_id, shared) for upload in uploads]


def _form_file(upload: FileStorage, doc_id: str | None, shared: dict[str, Any]) -> FileIn:
    name = _file_name(upload.filename or "")
    if not name:
        raise ValidationFailed("a 'file' part has no file name", code="invalid_form")
    media_type = media_type_of(upload.mimetype, name)
    if media_type is None:
        raise UnsupportedMediaType(
            f"{shorten(name)!r} is {upload.mimetype or 'of no type'}; Sluice reads "
            f"{accepted_types()}",
            code="unsupported_media_type",
        )
    fields = {**shared, "id": doc_id or _id_of(name)}
    return FileIn(
        DocumentFields.model_validate(fields),
        upload.read(),
        media_type,
        upload.mimetype_params.get("charset"),
        name,
    )


def _raw_filename(request: Request) -> str:
    if "filename" in request.args:
        return request.args["filename"]
    _, options = parse_options_header(request.headers.get("Content-Disposition", ""))
    return options.get("filename", "")


def _raw_field(request: Request, field: str, header: str | None) -> str | None:
    """A raw file's field, from the query or its header (not both)."""
    query = request.args.get(field)
    sent = request.headers.get(header) if header else None
    if query is not None and sent is not None:
        raise ValidationFailed(
            f"{field} is both a query parameter and the {header} header: send one",
            code="invalid_parameter",
        )
    if sent is not None and field in ("title", "metadata"):
        try:
            return unquote(sent, errors="strict")
        except UnicodeDecodeError:
            raise ValidationFailed(
                f"the {header} header is not percent-encoded UTF-8", code="invalid_parameter"
            ) from None
    return query if query is not None else sent


def _file_name(name: str) -> str:
    """The last part of a client's file name (browsers may send a path)."""
    return PurePosixPath(name.replace("\\", "/")).name[:1024]


def _id_of(name: str) -> str:
    """A document id from a file name: what an id may not hold becomes `-`."""
    cleaned = _NOT_IN_ID.sub("-", name)[:256]
    return cleaned if cleaned[:1].isalnum() and cleaned[:1].isascii() else f"f{cleaned[:255]}"


def _form_fields(form: MultiDict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    raw = form.get("metadata")
    if raw is not None and raw.strip():
        fields["metadata"] = _json_object(raw, "invalid_form")
    if form.get("tenant") is not None:
        fields["tenant"] = form["tenant"]
    return fields


def _json_object(raw: str, code: str) -> dict[str, Any]:
    """The `metadata` field: a JSON object (`code` names the error: a form's or a query's)."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"metadata is not JSON: {exc.msg} at {exc.pos}", code=code) from exc
    except (ValueError, RecursionError) as exc:  # an integer of 4300+ digits; deep nesting
        raise ValidationFailed(f"metadata is not acceptable JSON: {exc}"[:300], code=code) from exc
    if not isinstance(value, dict):
        raise ValidationFailed("metadata must be a JSON object", code=code)
    return value
