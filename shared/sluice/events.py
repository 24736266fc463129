"""The CloudEvent types Sluice exchanges, their pydantic payloads, and how events are built.

Every pipeline event carries the document id as its CloudEvents `subject`, and the tenant and
document version as the `tenant` and `docversion` extension attributes, so logs, dead letters
and broker filters can see them without reading the payload (which may be a claim check).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from cloudevents.http import CloudEvent
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sluice.embedders.identity import EmbedderIdentity
from sluice.tracing import TraceContext

PREFIX = "dev.sluice."
DOCUMENT_SUBMITTED = "dev.sluice.document.submitted"
DOCUMENT_ACCEPTED = "dev.sluice.document.accepted"
DOCUMENT_EMBEDDED = "dev.sluice.document.embedded"
DOCUMENT_INDEXED = "dev.sluice.document.indexed"
DOCUMENT_DELETED = "dev.sluice.document.deleted"

DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~:@+-]{0,255}$"
MAX_METADATA_DEPTH = 16  # objects and lists inside metadata, counting metadata itself
INT64 = range(-(2**63), 2**63)
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DEFAULT_TENANT = "default"


def now_iso() -> str:
    """The current time, UTC, ISO 8601."""
    return datetime.now(UTC).isoformat()


class Payload(BaseModel):
    """Base of every event payload: strict about unknown fields."""

    model_config = ConfigDict(extra="forbid")


class DocumentFields(Payload):
    """What a client says about a document besides its content (a JSON document's fields, a
    file's query parameters or form fields)."""

    id: str | None = Field(None, pattern=DOCUMENT_ID_PATTERN)
    title: str = Field("", max_length=1024)
    metadata: dict[str, Any] = Field(default_factory=dict)
    tenant: str | None = Field(None, pattern=TENANT_PATTERN)

    @field_validator("metadata")
    @classmethod
    def _metadata_storable(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        problem = _unstorable(metadata, "metadata", 1)
        if problem:
            raise ValueError(problem)
        return metadata


class DocumentIn(DocumentFields):
    """A document as a client submits it in JSON."""

    text: str

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text is empty")
        if not _is_utf8(text):
            raise ValueError("text is not valid UTF-8 (it contains lone surrogates)")
        return text

    def content_version(self) -> str:
        """The version: a hash of everything that ends up in the index (title, text, metadata)."""
        canonical = json.dumps(
            {"title": self.title, "text": self.text, "metadata": self.metadata},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _unstorable(value: Any, path: str, depth: int) -> str | None:
    """What Milvus' JSON field (or UTF-8) cannot hold in a metadata value, naming where; None
    if it can all be stored: strings without lone surrogates, 64-bit integers, finite
    numbers, booleans, nulls, and objects and lists nested at most MAX_METADATA_DEPTH deep."""
    if isinstance(value, dict | list):
        if depth > MAX_METADATA_DEPTH:
            return f"{path}: nested deeper than {MAX_METADATA_DEPTH} levels"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and not _is_utf8(key):
                return f"{path}: a key is not valid UTF-8 (it contains lone surrogates)"
            problem = _unstorable(item, f"{path}.{key}"[:200], depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, str):
        return None if _is_utf8(value) else f"{path}: not valid UTF-8 (lone surrogates)"
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if value in INT64 else f"{path}: the integer does not fit in 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path}: NaN and infinities are not JSON"
    return f"{path}: {type(value).__name__} is not a JSON value"


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class DocumentBatch(Payload):
    """A batch of documents, as `{"documents": [...]}`."""

    documents: list[DocumentIn] = Field(min_length=1)


class DocumentVersion(Payload):
    """Base of the payloads about one version of a document."""

    id: str
    tenant: str
    version: str

    def ref(self) -> tuple[str, str, str]:
        """The version's (tenant, id, version)."""
        return (self.tenant, self.id, self.version)


class FileRef(Payload):
    """A submitted file, parked in Redis by ingest (`BlobStore.put_file`) until transform has
    read it: a claim check for its bytes."""

    key: str
    sha256: str
    size: int
    media_type: str
    charset: str | None = None
    name: str = ""  # the file name the client gave, if any


class DocumentAccepted(DocumentVersion):
    """ingest → transform: a new version of a document to chunk and embed: its text, or the
    file transform extracts the text from (`text` is then empty)."""

    title: str
    text: str
    metadata: dict[str, Any]
    accepted_at: str
    file: FileRef | None = None


def file_version(sha256: str, media_type: str, title: str, metadata: dict[str, Any]) -> str:
    """A file's version: a hash of its bytes' hash, its type, title and metadata (so an unchanged
    file is known without parsing it)."""
    canonical = json.dumps(
        {"file": sha256, "media_type": media_type, "title": title, "metadata": metadata},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


class EmbeddedChunk(Payload):
    """One chunk of a document with its character span, where it came from (the pages it is
    on, 0 for formats without pages; the heading path of its section) and its vector."""

    chunk: int
    start: int
    end: int
    text: str
    vector: list[float]
    page: int = 0
    page_end: int = 0
    section: str = ""


class DocumentEmbedded(DocumentVersion):
    """transform → index: a document version's chunks with their vectors."""

    title: str
    metadata: dict[str, Any]
    accepted_at: str
    embedder: EmbedderIdentity
    chunks: list[EmbeddedChunk]


class DocumentIndexed(DocumentVersion):
    """index → anyone: a document version is searchable."""

    chunks: int
    indexed_at: str


class DocumentDeleted(Payload):
    """ingest → index: remove a document's chunks (all but its current version, if resubmitted)."""

    id: str
    tenant: str
    deleted_at: str


class ClaimCheck(Payload):
    """Stands in for a payload too large to travel inside an event; the payload is in Redis."""

    claim_check: str


def make_event(
    event_type: str,
    source: str,
    payload: Payload,
    *,
    subject: str,
    tenant: str,
    version: str = "",
    trace: TraceContext | None = None,
) -> CloudEvent:
    """A CloudEvent with a fresh id and JSON data; the document id is its subject, the tenant
    and document version are extension attributes (`tenant`, `docversion`), and `trace` (the
    span emitting it) becomes the distributed-tracing extension (`traceparent`, `tracestate`)."""
    attributes = {
        "type": event_type,
        "source": source,
        "id": str(uuid.uuid4()),
        "subject": subject,
        "tenant": tenant,
        "datacontenttype": "application/json",
    }
    if version:
        attributes["docversion"] = version
    if trace is not None:
        attributes.update(trace.attributes())
    return CloudEvent(attributes, payload.model_dump(mode="json"))


def version_event(
    event_type: str,
    source: str,
    version: DocumentVersion,
    data: Payload | None = None,
    trace: TraceContext | None = None,
) -> CloudEvent:
    """An event about a document version (`make_event` with the version's id, tenant and
    version); its data is `data` (e.g. a claim check standing in for the version) or the
    version itself."""
    return make_event(
        event_type,
        source,
        version if data is None else data,
        subject=version.id,
        tenant=version.tenant,
        version=version.version,
        trace=trace,
    )


def is_valid_id(value: str, pattern: str = DOCUMENT_ID_PATTERN) -> bool:
    """Whether `value` is a well-formed document id (or tenant, with TENANT_PATTERN)."""
    return re.fullmatch(pattern, value) is not None
