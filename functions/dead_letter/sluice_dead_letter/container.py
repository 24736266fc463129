"""The dead-letter sink's wiring: the queues' settings and gateways, the dead letter, the sink."""

from __future__ import annotations

from dependency_injector import containers, providers

from sluice.containers import Gateways, dead_letters
from sluice.settings import QueuesConfig, load_settings
from sluice_dead_letter.sink import DeadLetterSink


class DeadLetterContainer(containers.DeclarativeContainer):
    """Everything the sink builds once per process. It runs the failure callback of the jobs
    it files itself (`sluice.rq.jobs.on_failure`), which takes the document store from here."""

    wiring_config = containers.WiringConfiguration(modules=["sluice.rq.jobs"], auto_wire=False)

    config = providers.Singleton(load_settings, QueuesConfig)
    gateways = providers.Container(Gateways, config=config)
    documents = gateways.documents
    dead_letters = providers.Singleton(
        dead_letters, config.provided.routing, gateways.redis, gateways.router
    )
    sink = providers.Singleton(DeadLetterSink, config.provided.routing, dead_letters)
