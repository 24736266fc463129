"""Entry point of the broker's dead-letter sink (functions-framework, HTTP signature).

Run locally:
    functions-framework --source functions/dead_letter/main.py --target dead_letter --port 8085
"""

import atexit

import functions_framework
from flask import Request, Response

from sluice_dead_letter.app import create_app
from sluice_dead_letter.container import DeadLetterContainer

container = DeadLetterContainer()
app = create_app(container)
atexit.register(container.shutdown_resources)


@functions_framework.http
def dead_letter(request: Request) -> Response:
    """Keep events the Knative broker failed to deliver in the dead letter."""
    return app(request)
