"""What Knative says about an event it gave up on, turned into Sluice's dead letter.

A Knative Trigger whose delivery finally fails posts the event to its `deadLetterSink`, with
the extension attributes `knativeerrordest` (the subscriber that failed), `knativeerrorcode`
(its last HTTP status) and `knativeerrordata` (its answer, base64). The sink files the event,
as it was published, as a dead letter of that subscriber (`sluice.rq.dlq.DeadLetters.file`), so
`sluice dlq list` shows broker and RQ dead letters alike and `sluice dlq replay` publishes it
again, and its document ends `failed` with Knative's reason.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlparse

from cloudevents.http import CloudEvent

from sluice.rq.dlq import DeadLetters
from sluice.settings import RoutingSettings

KNATIVE_ERROR_ATTRIBUTES = ("knativeerrordest", "knativeerrorcode", "knativeerrordata")


class DeadLetterSink:
    """Files dead-lettered broker events."""

    def __init__(self, routing: RoutingSettings, dead_letters: DeadLetters) -> None:
        self.routing = routing
        self.dead_letters = dead_letters

    def event_types(self) -> list[str]:
        """The event types the routing table delivers (what can be dead-lettered)."""
        return sorted({route.event for route in self.routing.routes})

    def record(self, events: list[CloudEvent]) -> list[CloudEvent]:
        """File each event as a dead letter of the subscriber that failed; no reply."""
        for event in events:
            self.dead_letters.file(
                _without_knative_errors(event), self._failed_subscribers(event), _reason(event)
            )
        return []

    def _failed_subscribers(self, event: CloudEvent) -> list[str]:
        """The subscriber at `knativeerrordest`, else (the sink cannot tell) every subscriber
        of the type: a second delivery is harmless."""
        subscribers = [route.to for route in self.routing.routes_for(event["type"])]
        failed = _address(str(event.get("knativeerrordest") or ""))
        matching = [s for s in subscribers if _address(self.routing.subscribers[s].url) == failed]
        return matching or subscribers


def _address(url: str) -> tuple[str, int] | None:
    """A URL's host and port (the scheme's default if none), or None."""
    parsed = urlparse(url)
    if not parsed.hostname:
        return None
    return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)


def _reason(event: CloudEvent) -> str:
    """What Knative says went wrong, as one line."""
    destination = event.get("knativeerrordest") or "the subscriber"
    code = event.get("knativeerrorcode") or "no answer"
    reason = f"broker delivery to {destination} failed for good (last answer: {code})"
    data = event.get("knativeerrordata")
    if data:
        try:
            text = base64.b64decode(str(data), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            text = str(data)
        reason += ": " + " ".join(text.split())[:500]
    return reason


def _without_knative_errors(event: CloudEvent) -> CloudEvent:
    """The event as it was published, for a replay."""
    attributes = event.get_attributes()
    return CloudEvent(
        {k: v for k, v in attributes.items() if k not in KNATIVE_ERROR_ATTRIBUTES}, event.data
    )
