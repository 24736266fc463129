"""Entry point of the embedding endpoint (functions-framework, HTTP signature).

Run locally: functions-framework --source functions/embed/main.py --target embed --port 8084
"""

import functions_framework
from flask import Request, Response

from sluice.http import serve
from sluice_embed.app import create_app
from sluice_embed.container import EmbedContainer

app = serve(EmbedContainer(), create_app)


@functions_framework.http
def embed(request: Request) -> Response:
    """OpenAI-compatible `POST /v1/embeddings` with the pipeline's embedder."""
    return app(request)
