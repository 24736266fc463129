"""Everything RQ: the only package that imports rq.

- `publisher`: the RQ transport (`RqPublisher`) and the one job builder, `delivery_job`;
- `jobs`: what a worker runs: `deliver`, the broker's `dead_lettered`, the failure callback;
- `dlq`: the dead letter (list, replay, and filing the broker's failures);
- `worker`: the delivery worker and its container (`sluice worker`);
- `exporter`: the queue gauges (`sluice exporter`).
"""
