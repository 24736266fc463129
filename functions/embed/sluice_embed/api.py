"""The embedding endpoint: OpenAI-compatible `POST /v1/embeddings`.

It builds the embedders from the same catalogue and code as transform, so queries are embedded by
exactly the model that embedded the chunks. `model` names the catalogue's model (default: the
settings' `embedder.model`); each is loaded on first use, so that during a model change the old
and the new one are both served. searchapi calls it for dense and hybrid queries, naming the
model of the collection it searches; any OpenAI-compatible server (e.g. Hugging Face TEI)
serving the same model can replace it.
"""

from __future__ import annotations

from typing import Any

from flask import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sluice.codec import parse_json
from sluice.embedders import Embedders, embed_in_batches
from sluice.embedders.catalogue import HASHING, MODELS, TextKind, card
from sluice.errors import PayloadTooLarge, ValidationFailed
from sluice.http import json_response, read_body, require_json

MAX_INPUTS = 256
MAX_INPUT_CHARS = 32_000
MAX_BODY_BYTES = 8 * 1024 * 1024


class EmbeddingsRequest(BaseModel):
    """The OpenAI request: one text or a list of them, and optionally the model's name."""

    model_config = ConfigDict(extra="ignore")  # OpenAI clients send encoding_format, user, ...

    input: str | list[str] = Field(min_length=1)
    model: str | None = None
    # Not OpenAI's: a model with prefixes (e5) embeds queries and passages differently.
    input_type: TextKind = "query"


class EmbeddingsApi:
    """Answers `POST /v1/embeddings` with the pipeline's embedder."""

    def __init__(self, embedders: Embedders) -> None:
        self.embedders = embedders
        self.batch_size = embedders.settings.batch_size

    def handle(self, request: Request) -> Response:
        """Embed the inputs; the answer follows OpenAI's shape."""
        require_json(request)
        body = EmbeddingsRequest.model_validate(parse_json(read_body(request, MAX_BODY_BYTES)))
        name = body.model or self.embedders.settings.model
        if name != HASHING and name not in MODELS:
            raise ValidationFailed(
                f"model {name!r} is not served here; these are: {', '.join([HASHING, *MODELS])}",
                code="model_not_found",
            )
        texts = [body.input] if isinstance(body.input, str) else body.input
        self._check(texts)
        embedder = self.embedders.get(card(name, self.embedders.settings.dim).identity)
        identity = embedder.identity
        vectors = embed_in_batches(embedder, texts, self.batch_size, body.input_type)
        tokens = sum(len(text.split()) for text in texts)
        data: list[dict[str, Any]] = [
            {"object": "embedding", "index": index, "embedding": vector}
            for index, vector in enumerate(vectors)
        ]
        return json_response(
            200,
            {
                "object": "list",
                "data": data,
                "model": identity.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                # Not OpenAI's: which build made the vectors, so that searchapi can check it
                # against the identity recorded in the collection.
                "embedder": identity.model_dump(),
            },
        )

    @staticmethod
    def _check(texts: list[str]) -> None:
        if len(texts) > MAX_INPUTS:
            raise PayloadTooLarge(
                f"{len(texts)} inputs; at most {MAX_INPUTS} per request", code="too_many_inputs"
            )
        for index, text in enumerate(texts):
            if not text.strip():
                raise ValidationFailed(f"input[{index}] is empty", code="empty_input")
            if len(text) > MAX_INPUT_CHARS:
                raise PayloadTooLarge(
                    f"input[{index}] has {len(text)} characters; at most {MAX_INPUT_CHARS}",
                    code="input_too_long",
                )
