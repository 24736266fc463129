"""Transports that move events between functions: RQ queues and the Knative broker."""
