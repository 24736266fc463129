"""Entry point of the broker's dead-letter sink (functions-framework, HTTP signature).

Run locally:
    functions-framework --source functions/dead_letter/main.py --target dead_letter --port 8085
"""

import functions_framework
from flask import Request, Response

from sluice.http import serve
from sluice_dead_letter.app import create_app
from sluice_dead_letter.container import DeadLetterContainer

app = serve(DeadLetterContainer(), create_app)


@functions_framework.http
def dead_letter(request: Request) -> Response:
    """Keep events the Knative broker failed to deliver in the dead letter."""
    return app(request)
