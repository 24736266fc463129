"""The Knative broker transport: POST each event, binary mode, to the broker (`K_SINK`)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from cloudevents.http import CloudEvent

from sluice import codec
from sluice.errors import Unavailable
from sluice.settings import RouteSettings


class BrokerPublisher:
    """Posts events to a Knative Eventing broker; its Triggers do the routing and retries."""

    def __init__(self, sink: str, client: httpx.Client) -> None:
        self.sink = sink
        self.client = client

    def publish(self, routes: Sequence[RouteSettings], events: Sequence[CloudEvent]) -> None:
        """Post each event once, whatever the number of routes (the broker fans out)."""
        for event in events:
            headers, body = codec.binary(event)
            try:
                response = self.client.post(self.sink, headers=headers, content=body, timeout=10.0)
            except httpx.HTTPError as exc:
                raise Unavailable(f"broker {self.sink}: {exc}", code="broker_unavailable") from exc
            if response.status_code >= 300:
                raise Unavailable(
                    f"broker {self.sink} answered {response.status_code}: {response.text[:200]}",
                    code="broker_rejected",
                )

    def depth(self, route: RouteSettings) -> int | None:
        """A broker's backlog is not visible from here."""
        return None
