"""Entry point of the index function (functions-framework, HTTP signature).

Run locally: functions-framework --source functions/index/main.py --target index --port 8083
"""

import functions_framework
from flask import Request, Response

from sluice.http import serve
from sluice_index.app import create_app
from sluice_index.container import IndexContainer

app = serve(IndexContainer(), create_app)


@functions_framework.http
def index(request: Request) -> Response:
    """Index `document.embedded` events and remove the chunks of `document.deleted` ones."""
    return app(request)
