"""The chunk collection in Milvus: schema, upserts and deletes (pymilvus).

One physical collection per embedder (`<alias>__<embedder>_<dim>`) reached through an alias,
so a model change can be built beside the live collection and switched atomically. The
embedder that fills a collection is recorded in its properties; opening it with another one
fails loudly instead of mixing vectors from different spaces.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from pymilvus import DataType, Function, FunctionType, MilvusClient
from pymilvus.exceptions import (
    DataNotMatchException,
    DataTypeNotMatchException,
    FieldsTypeException,
    MilvusException,
    ParamError,
    PrimaryKeyException,
)

from sluice.analysis import Analyzer, analyzer
from sluice.chunker import search_text
from sluice.embedders.identity import EmbedderIdentity
from sluice.errors import ConfigError, Unavailable, ValidationFailed
from sluice.events import DocumentEmbedded
from sluice.extract.result import MAX_SECTION
from sluice.logs import adopt_library_loggers
from sluice.metrics import MILVUS_ROWS, MILVUS_WRITE_DURATION
from sluice.settings import MilvusSettings
from sluice.stores.models import Served

# pymilvus gives its loggers plain-text handlers of their own when it is imported (just above):
# they go through Sluice's JSON log instead.
adopt_library_loggers("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer")

MAX_TEXT = 65_535
MAX_TITLE = 1024  # characters, as DocumentIn allows
# What pymilvus raises for rows it will not send: a permanent failure of that request (a 422,
# so a batch is split and only the bad document fails), unlike Milvus being unreachable.
REJECTIONS = (
    ParamError,
    DataNotMatchException,
    DataTypeNotMatchException,
    FieldsTypeException,
    PrimaryKeyException,
)
# v3: page, page_end, section; titles of 1024 characters of any kind. v4: search_text holds
# analysed terms (stems without stop words), not the raw text
SCHEMA_VERSION = "v4"
# gRPC keepalive as a default gRPC server allows it. pymilvus pings every 10 s even with no call
# in flight; a server with gRPC's defaults (milvus-lite's) counts that as abuse and drops the
# connection with GOAWAY `too_many_pings`, after which pymilvus 3.0.2's shared connection fails
# to recover ("Too many pings") for the next client of the process. So: no pings while idle,
# and at most every 5 minutes (the servers' default minimum) during a call.
GRPC_OPTIONS = {
    "grpc.keepalive_time_ms": 300_000,
    "grpc.keepalive_permit_without_calls": 0,
}
EMBEDDER_PROPERTY = "sluice.embedder"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ANALYZER_PROPERTY = "sluice.analyzer"
# Every field a row stores but the vectors (Milvus computes `sparse`; `dense` is the model's).
STORED_FIELDS = [
    "chunk_id", "doc_id", "tenant", "chunk", "page", "page_end", "section", "title", "text",
    "search_text", "metadata", "version", "embedder", "created_at", "indexed_at",
]  # fmt: skip


class ChunkRow(TypedDict):
    """One row of the chunk collection, as written (Milvus computes `sparse` from
    `search_text`, the analysed title, section and text, with the BM25 function)."""

    chunk_id: str
    doc_id: str
    tenant: str
    chunk: int
    page: int  # the first page the chunk is on (1-based; 0: its document has no pages)
    page_end: int  # the last
    section: str  # the heading path of its section ("" if none)
    title: str
    text: str
    search_text: str
    dense: list[float]
    metadata: dict[str, Any]
    version: str
    embedder: str  # the identity key of the embedder that made `dense`
    created_at: int  # epoch milliseconds: when ingest accepted the version
    indexed_at: int  # epoch milliseconds: when the row was written


def chunk_rows(doc: DocumentEmbedded, analyzer: Analyzer) -> list[ChunkRow]:
    """The rows of an embedded document version, one per chunk; `analyzer` makes the terms
    full-text search matches (the collection's: `ChunkStore.analyzer`)."""
    # integer arithmetic: a float timestamp could land 1 ms before `accepted_at`, and a filter
    # `updated_at >= accepted_at` would miss the document itself
    accepted = datetime.fromisoformat(doc.accepted_at)
    if accepted.tzinfo is None:
        accepted = accepted.replace(tzinfo=UTC)
    created = (accepted - EPOCH) // timedelta(milliseconds=1)
    indexed = int(time.time() * 1000)
    metadata = _json_only(doc.metadata)
    return [
        ChunkRow(
            chunk_id=chunk_id(doc.tenant, doc.id, doc.version, c.chunk),
            doc_id=doc.id,
            tenant=doc.tenant,
            chunk=c.chunk,
            page=c.page,
            page_end=c.page_end,
            section=c.section,
            title=doc.title,
            text=c.text,
            search_text=analyzer.analyze(search_text(doc.title, c.text, c.section)),
            dense=c.vector,
            metadata=metadata,
            version=doc.version,
            embedder=doc.embedder.key,
            created_at=created,
            indexed_at=indexed,
        )
        for c in doc.chunks
    ]


def collection_name(alias: str, identity: EmbedderIdentity) -> str:
    """The physical collection behind the alias for an embedder (and this schema version)."""
    slug = re.sub(r"[^a-z0-9_]", "_", identity.name.lower())
    return f"{alias}__{SCHEMA_VERSION}_{slug}_{identity.dim}"


def chunk_id(tenant: str, doc_id: str, version: str, number: int) -> str:
    """The deterministic primary key of a chunk: a hash of tenant, document, version, number."""
    key = f"{tenant}\x1f{doc_id}\x1f{version}\x1f{number}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression (which has no bound parameters)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ChunkStore:
    """Writes and removes chunks; writes are serialised per process (milvus-lite requires it)."""

    def __init__(
        self, settings: MilvusSettings, identity: EmbedderIdentity, collection: str = ""
    ) -> None:
        self.settings = settings
        self.identity = identity
        self.analyzer = analyzer(settings.language)
        self.alias = settings.collection
        self.collection = collection or collection_name(settings.collection, identity)
        self.client = MilvusClient(
            uri=settings.uri,
            token=settings.token,
            timeout=settings.timeout_seconds,
            grpc_options=GRPC_OPTIONS,
        )
        self._write_lock = threading.Lock()

    def close(self) -> None:
        """Close the client's connection."""
        self.client.close()

    def ensure_collection(self, point_alias: bool = False, create: bool = True) -> None:
        """Create the collection and its indexes if missing (unless not `create`: then
        `Unavailable`), else check the embedder and the analyser it records; create the alias
        if there is none, and point it here if `point_alias` (otherwise only a model switch
        moves it: `point_alias()`)."""
        if self.client.has_collection(self.collection):
            self._check_recorded()
        elif create:
            self._create()
        else:
            raise Unavailable(
                f"collection {self.collection} does not exist (dropped by a model change?)",
                code="collection_missing",
            )
        if self.alias not in self.client.list_aliases().get("aliases", []):
            self.client.create_alias(self.collection, self.alias)
        elif point_alias:
            self.point_alias()
        self.client.load_collection(self.collection)

    def point_alias(self) -> None:
        """Make the alias name this collection (one atomic change in Milvus)."""
        aliases = self.client.list_aliases(self.collection).get("aliases", [])
        if self.alias not in aliases:
            self._call(lambda: self.client.alter_alias(self.collection, self.alias))

    def is_aliased(self) -> bool:
        """Whether the alias names this collection."""
        aliases = self.client.list_aliases(self.collection).get("aliases", [])
        return self.alias in aliases

    def drop(self) -> None:
        """Drop the collection and its rows (never the one the alias names)."""
        aliases = self.client.list_aliases(self.collection).get("aliases", [])
        if self.alias in aliases:
            raise ConfigError(f"{self.collection} is the alias {self.alias}'s: not dropped")
        self._call(lambda: self.client.drop_collection(self.collection))

    def _create(self) -> None:
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=256)
        schema.add_field("tenant", DataType.VARCHAR, max_length=64, is_partition_key=True)
        schema.add_field("chunk", DataType.INT32)
        schema.add_field("page", DataType.INT32)
        schema.add_field("page_end", DataType.INT32)
        # VARCHAR lengths are bytes: titles and sections are bounded in characters (up to four
        # bytes of UTF-8 each)
        schema.add_field("section", DataType.VARCHAR, max_length=4 * MAX_SECTION)
        schema.add_field("title", DataType.VARCHAR, max_length=4 * MAX_TITLE)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field(
            "search_text",
            DataType.VARCHAR,
            max_length=MAX_TEXT,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard", "filter": ["lowercase"]},
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.identity.dim)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("version", DataType.VARCHAR, max_length=64)
        schema.add_field("embedder", DataType.VARCHAR, max_length=128)
        schema.add_field("created_at", DataType.INT64)
        schema.add_field("indexed_at", DataType.INT64)
        schema.add_function(
            Function(
                name="text_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["search_text"],
                output_field_names=["sparse"],
            )
        )
        index_params = self.client.prepare_index_params()
        index_params.add_index(
            "dense",
            index_type="HNSW",
            metric_type="COSINE",
            params={
                "M": self.settings.hnsw_m,
                "efConstruction": self.settings.hnsw_ef_construction,
            },
        )
        index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.client.create_collection(
            self.collection,
            schema=schema,
            index_params=index_params,
            num_partitions=self.settings.num_partitions,
            properties={
                EMBEDDER_PROPERTY: self.identity.model_dump_json(),
                ANALYZER_PROPERTY: json.dumps(self.analyzer.identity, separators=(",", ":")),
            },
        )

    def _check_recorded(self) -> None:
        properties = self.client.describe_collection(self.collection).get("properties", {})
        self._check_embedder(properties)
        try:
            analysed = json.loads(properties.get(ANALYZER_PROPERTY, ""))
        except ValueError:
            analysed = None
        if analysed != self.analyzer.identity:
            raise ConfigError(
                f"collection {self.collection} holds text analysed as {analysed} but this "
                f"process analyses it as {self.analyzer.identity} (milvus.language): rebuild "
                "the collection or change the setting back"
            )

    def _check_embedder(self, properties: dict[str, Any]) -> None:
        try:
            recorded = EmbedderIdentity.model_validate_json(properties.get(EMBEDDER_PROPERTY, ""))
        except ValueError:
            raise ConfigError(
                f"collection {self.collection} does not record its embedder "
                f"(property {EMBEDDER_PROPERTY})"
            ) from None
        if recorded != self.identity:
            raise ConfigError(
                f"collection {self.collection} was built with embedder {recorded.key} but this "
                f"process uses {self.identity.key}: rebuild it or change the embedder"
            )

    def upsert(self, rows: Sequence[ChunkRow]) -> None:
        """Insert or replace chunk rows."""
        if rows:
            self._write(
                "upsert", len(rows), lambda: self.client.upsert(self.collection, list(rows))
            )

    def delete_ids(self, ids: Sequence[str]) -> None:
        """Delete chunks by primary key."""
        if ids:
            self._write(
                "delete", len(ids), lambda: self.client.delete(self.collection, ids=list(ids))
            )

    def delete_document(self, tenant: str, doc_id: str, keep_version: str | None = None) -> None:
        """Delete every chunk of a document, except those of `keep_version` if given."""
        expr = f"tenant == {quote(tenant)} and doc_id == {quote(doc_id)}"
        if keep_version:
            expr += f" and version != {quote(keep_version)}"
        self._write("delete", 0, lambda: self.client.delete(self.collection, filter=expr))

    def rows_of(self, refs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every row of the documents, without the vectors."""
        return self._query_documents(refs, STORED_FIELDS)

    def versions_of(self, refs: Sequence[tuple[str, str]]) -> dict[str, tuple[str, str, str]]:
        """The chunk ids of the documents: `{chunk_id: (tenant, doc_id, version)}`."""
        rows = self._query_documents(refs, ["chunk_id", "tenant", "doc_id", "version"])
        return {r["chunk_id"]: (r["tenant"], r["doc_id"], r["version"]) for r in rows}

    def _query_documents(
        self, refs: Sequence[tuple[str, str]], fields: list[str]
    ) -> list[dict[str, Any]]:
        by_tenant: dict[str, list[str]] = {}
        for tenant, doc_id in refs:
            by_tenant.setdefault(tenant, []).append(doc_id)
        rows: list[dict[str, Any]] = []
        for tenant, ids in by_tenant.items():
            expr = f"tenant == {quote(tenant)} and doc_id in [{', '.join(map(quote, ids))}]"
            rows.extend(
                self._call(
                    lambda expr=expr: self.client.query(
                        self.collection, filter=expr, output_fields=fields, limit=16_384
                    )
                )
            )
        return rows

    def documents(self, batch: int = 1000) -> Iterator[tuple[str, str]]:
        """Every document with rows here, as (tenant, id) (one per version present)."""
        iterator = self._call(
            lambda: self.client.query_iterator(
                self.collection,
                batch_size=batch,
                filter="chunk == 0",
                output_fields=["tenant", "doc_id"],
            )
        )
        try:
            while rows := self._call(iterator.next):
                for row in rows:
                    yield row["tenant"], row["doc_id"]
        finally:
            iterator.close()

    def nearest_documents(self, tenant: str, vector: list[float], k: int) -> list[str]:
        """The ids of the documents whose chunks are nearest the vector, best first."""
        hits = self._call(
            lambda: self.client.search(
                self.collection,
                data=[vector],
                anns_field="dense",
                filter=f"tenant == {quote(tenant)}",
                limit=4 * k,
                output_fields=["doc_id"],
            )
        )
        ranked: list[str] = []
        for hit in hits[0]:
            doc_id = hit["entity"]["doc_id"]
            if doc_id not in ranked:
                ranked.append(doc_id)
        return ranked[:k]

    def count(self, tenant: str, doc_id: str | None = None) -> int:
        """How many chunks a tenant (or one of its documents) has."""
        expr = f"tenant == {quote(tenant)}"
        if doc_id is not None:
            expr += f" and doc_id == {quote(doc_id)}"
        result = self._call(
            lambda: self.client.query(self.collection, filter=expr, output_fields=["count(*)"])
        )
        return int(result[0]["count(*)"])

    def ping(self) -> None:
        """Raise `Unavailable` unless Milvus answers."""
        self._call(lambda: self.client.has_collection(self.collection))

    def _write(self, operation: str, rows: int, call: Any) -> None:
        with self._write_lock:
            started = time.perf_counter()
            self._call(call, rows=True)
            MILVUS_WRITE_DURATION.labels(operation).observe(time.perf_counter() - started)
            MILVUS_ROWS.labels(operation).inc(rows)

    def _call(self, call: Any, *, rows: bool = False) -> Any:
        """Run a client call; a refused request is a 422 (`ValidationFailed`), anything else a
        503. Rows (`rows`) pymilvus cannot even encode (TypeError, ValueError) are refused."""
        refused = (*REJECTIONS, TypeError, ValueError) if rows else REJECTIONS
        try:
            try:
                return call()
            except MilvusException as exc:
                if not _released(exc):
                    raise
                # A restarted milvus-lite (or an operator) left the collection released: load
                # it again (idempotent) and retry once, as searchapi does.
                self.client.load_collection(self.collection)
                return call()
        except refused as exc:
            raise ValidationFailed(f"Milvus refused: {exc}", code="milvus_rejected") from exc
        except MilvusException as exc:
            if exc.is_input_error:
                raise ValidationFailed(f"Milvus refused: {exc}", code="milvus_rejected") from exc
            raise Unavailable(f"Milvus: {exc}", code="milvus_unavailable") from exc


def _released(exc: MilvusException) -> bool:
    message = str(exc).lower()
    return "released" in message or "not loaded" in message or "call load()" in message


def _json_only(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata as stored: JSON round-tripped so only JSON types reach Milvus."""
    copy: dict[str, Any] = json.loads(json.dumps(metadata))
    return copy


class ChunkStores:
    """A process's chunk stores, one per collection the model state keeps, each made (and its
    collection created if missing) on first use."""

    def __init__(self, settings: MilvusSettings) -> None:
        self.settings = settings
        self._stores: dict[str, ChunkStore] = {}
        self._lock = threading.Lock()

    def default(self, identity: EmbedderIdentity) -> Served:
        """The collection of the settings' embedder (active until the first model change)."""
        return Served(
            collection=collection_name(self.settings.collection, identity), embedder=identity
        )

    def of(self, served: Served, point_alias: bool = False, create: bool = False) -> ChunkStore:
        """The store of a collection, which must exist unless `create` (see
        `ChunkStore.ensure_collection`): only the first start and `migrate` create one, so
        that a writer with an old model state never brings a dropped collection back."""
        with self._lock:
            store = self._stores.get(served.collection)
            if store is None:
                store = ChunkStore(self.settings, served.embedder, served.collection)
                store.ensure_collection(point_alias, create)
                self._stores[served.collection] = store
            return store

    def forget(self, collection: str) -> None:
        """Close a collection's store (it was dropped)."""
        with self._lock:
            store = self._stores.pop(collection, None)
        if store is not None:
            store.close()

    def close(self) -> None:
        """Close every store."""
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()
