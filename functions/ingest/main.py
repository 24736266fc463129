"""Entry points of the ingest function and of the broker's dead-letter sink (functions-framework,
HTTP signature): one image, two targets.

Run locally:
    functions-framework --source functions/ingest/main.py --target ingest --port 8081
    functions-framework --source functions/ingest/main.py --target dead_letter --port 8085
"""

import os

import functions_framework
from flask import Request, Response

from sluice_ingest.app import create_app
from sluice_ingest.dead_letter import create_dead_letter_app

# Build only what the target being served needs (functions-framework passes it in FUNCTION_TARGET
# when started with --target; both are built when imported otherwise, e.g. by tests).
TARGET = os.environ.get("FUNCTION_TARGET", "")
ingest_app = create_app() if TARGET in ("", "ingest") else None
dead_letter_app = create_dead_letter_app() if TARGET in ("", "dead_letter") else None


@functions_framework.http
def ingest(request: Request) -> Response:
    """Submit, inspect and delete documents."""
    assert ingest_app is not None, "started with another target"
    return ingest_app(request)


@functions_framework.http
def dead_letter(request: Request) -> Response:
    """Keep events the Knative broker failed to deliver in the failed-job registry."""
    assert dead_letter_app is not None, "started with another target"
    return dead_letter_app(request)
