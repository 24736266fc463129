"""Entry point of the ingest function (functions-framework, HTTP signature).

Run locally: functions-framework --source functions/ingest/main.py --target ingest --port 8081
"""

import functions_framework
from flask import Request, Response

from sluice.http import serve
from sluice_ingest.app import create_app
from sluice_ingest.container import IngestContainer

app = serve(IngestContainer(), create_app)


@functions_framework.http
def ingest(request: Request) -> Response:
    """Submit, inspect and delete documents."""
    return app(request)
