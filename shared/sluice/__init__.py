"""Sluice's shared library: everything the ingest, transform and index functions have in common."""

import os

# gRPC's C core (under pymilvus) writes its own plain-text lines to stderr (keepalive GOAWAYs
# from milvus-lite, epoll errors after RQ forks its scheduler), which would break the rule that
# every line a process writes is JSON. It reads GRPC_VERBOSITY once, when grpc is imported, so
# it is set here, before any Sluice module can import grpc. Failures still surface as Python
# exceptions, logged as JSON; set GRPC_VERBOSITY=ERROR (or DEBUG) to see gRPC's own lines.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
