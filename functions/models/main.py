"""Entry point of the models function (functions-framework, HTTP signature): the admin API of
model changes, and the copier thread that does their work.

Run locally: sluice serve --source functions/models/main.py --target models --port 8086
"""

import functions_framework
from flask import Request, Response
from sluice_models.app import create_app
from sluice_models.container import ModelsContainer

from sluice.http import serve

app = serve(ModelsContainer(), create_app)


@functions_framework.http
def models(request: Request) -> Response:
    """`/v1/models`: the model state; migrate, switch, rollback and drop-old (admin key)."""
    return app(request)
