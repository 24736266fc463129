"""Entry points of the transform function and of the embedding endpoint (functions-framework,
HTTP signature): one image, two targets.

Run locally:
    functions-framework --source functions/transform/main.py --target transform --port 8082
    functions-framework --source functions/transform/main.py --target embed --port 8084
"""

import os

import functions_framework
from flask import Request, Response

from sluice_transform.app import create_app, create_embed_app

# Build only what the target being served needs (functions-framework passes it in FUNCTION_TARGET
# when started with --target; both are built when imported otherwise, e.g. by tests).
TARGET = os.environ.get("FUNCTION_TARGET", "")
transform_app = create_app() if TARGET in ("", "transform") else None
embed_app = create_embed_app() if TARGET in ("", "embed") else None


@functions_framework.http
def transform(request: Request) -> Response:
    """Chunk and embed a `dev.sluice.document.accepted` event; reply `document.embedded`."""
    assert transform_app is not None, "started with another target"
    return transform_app(request)


@functions_framework.http
def embed(request: Request) -> Response:
    """OpenAI-compatible `POST /v1/embeddings` with the pipeline's embedder."""
    assert embed_app is not None, "started with another target"
    return embed_app(request)
