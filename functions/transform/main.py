"""Entry point of the transform function (functions-framework, HTTP signature).

Run locally:
    functions-framework --source functions/transform/main.py --target transform --port 8082
"""

import functions_framework
from flask import Request, Response

from sluice.http import serve
from sluice_transform.app import create_app
from sluice_transform.container import TransformContainer

app = serve(TransformContainer(), create_app)


@functions_framework.http
def transform(request: Request) -> Response:
    """Chunk and embed a `dev.sluice.document.accepted` event; reply `document.embedded`."""
    return app(request)
