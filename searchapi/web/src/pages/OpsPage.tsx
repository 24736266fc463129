import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, describeError } from '../api';
import { ErrorNotice } from '../components/ErrorNotice';
import { ModelStatus } from '../components/ModelStatus';
import { PageTitle } from '../components/PageTitle';
import { Time } from '../components/Time';
import { formatDuration, formatWindow, plural, sentence } from '../format';
import type { DeadLetter, DeadLetterList, OpsResponse, ReplayResponse } from '../types';

export const OPS_REFRESH_MS = 5000;

function figure(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : String(value);
}

export function OpsPage() {
  const client = useQueryClient();
  const [replayed, setReplayed] = useState<string>('');

  const ops = useQuery({
    queryKey: ['ops'],
    queryFn: ({ signal }) => api<OpsResponse>('/v1/ops', { signal }),
    refetchInterval: OPS_REFRESH_MS,
  });
  const deadLetters = useQuery({
    queryKey: ['dead-letters'],
    queryFn: ({ signal }) => api<DeadLetterList>('/v1/ingest/dead-letters', { signal }),
    refetchInterval: OPS_REFRESH_MS,
  });

  const replay = useMutation({
    mutationFn: (body: { job_ids: string[] } | { all: true }) =>
      api<ReplayResponse>('/v1/ingest/dead-letters/replay', { json: body }),
    onSuccess: (answer) => {
      setReplayed(`Replayed ${answer.replayed}`);
      void client.invalidateQueries({ queryKey: ['dead-letters'] });
      void client.invalidateQueries({ queryKey: ['ops'] });
    },
    onMutate: () => setReplayed(''),
  });

  const data = ops.data;
  const freshness = data?.freshness;
  const letters = deadLetters.data?.dead_letters ?? [];
  const firstOfJob = new Set<number>();
  {
    const seen = new Set<string>();
    letters.forEach((letter, index) => {
      if (!seen.has(letter.job_id)) firstOfJob.add(index);
      seen.add(letter.job_id);
    });
  }

  return (
    <>
      <PageTitle title="Operations">Operations</PageTitle>
      <p className="links">
        {data?.prometheus_url ? (
          <a href={data.prometheus_url} rel="noreferrer" target="_blank">
            Prometheus<span className="sr-only"> (opens in a new tab)</span>
          </a>
        ) : null}
        <a href="/metrics">searchapi metrics</a>
      </p>

      <section aria-labelledby="queues-heading">
        <h2 id="queues-heading">Queues</h2>
        {ops.isPending ? <p role="status">Loading…</p> : null}
        {ops.isError ? <ErrorNotice error={ops.error} what="Operations" /> : null}
        {data && !data.metrics_available ? (
          <div className="notice notice-warn" data-testid="metrics-unavailable">
            Figures need Prometheus: {sentence(data.error ?? 'it did not answer')}
          </div>
        ) : null}
        {data ? (
          data.queues.length === 0 ? (
            <p className="muted">No queues reported.</p>
          ) : (
            <div className="table-wrap" role="region" aria-label="Queues table" tabIndex={0}>
              <table aria-label="Queues">
                <thead>
                  <tr>
                    <th scope="col">Queue</th>
                    <th scope="col" className="num">
                      Depth
                    </th>
                    <th scope="col" className="num">
                      Oldest job
                    </th>
                    <th scope="col" className="num">
                      Scheduled
                    </th>
                    <th scope="col" className="num">
                      Failed
                    </th>
                    <th scope="col" className="num">
                      Workers busy / idle
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.queues.map((queue) => (
                    <tr key={queue.queue} data-testid="queue-row" data-queue={queue.queue}>
                      <th scope="row">
                        <code>{queue.queue}</code>
                      </th>
                      <td className="num">{figure(queue.depth)}</td>
                      <td className="num">{formatDuration(queue.oldest_job_age_seconds)}</td>
                      <td className="num">{figure(queue.scheduled)}</td>
                      <td className="num">{figure(queue.failed)}</td>
                      <td className="num">
                        {figure(queue.workers?.busy)} / {figure(queue.workers?.idle)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        ) : null}
      </section>

      {data ? (
        <section aria-labelledby="freshness-heading">
          <h2 id="freshness-heading">Freshness</h2>
          {freshness ? (
            freshness.p50_seconds === null && freshness.p95_seconds === null ? (
              <p data-testid="freshness">No documents indexed in the last {formatWindow(freshness.window_seconds)}.</p>
            ) : (
              <dl className="record" data-testid="freshness">
                <dt>Accepted to searchable, median (p50)</dt>
                <dd>{formatDuration(freshness.p50_seconds)}</dd>
                <dt>95th percentile (p95)</dt>
                <dd>{formatDuration(freshness.p95_seconds)}</dd>
                <dt>Indexed in the last {formatWindow(freshness.window_seconds)}</dt>
                <dd>{freshness.indexed === null ? '—' : plural(freshness.indexed, 'document')}</dd>
              </dl>
            )
          ) : (
            <p className="muted">No freshness figures.</p>
          )}
        </section>
      ) : null}

      {data ? (
        <section aria-labelledby="model-heading">
          <h2 id="model-heading">Model</h2>
          <ModelStatus model={data.model} />
        </section>
      ) : null}

      <section aria-labelledby="dead-heading">
        <h2 id="dead-heading">Dead letters</h2>
        <div role="status" className="replay-status" data-testid="replay-status">
          {replayed}
        </div>
        {replay.isError ? (
          <div role="alert" className="notice notice-error">
            Replay failed: {describeError(replay.error)}
          </div>
        ) : null}
        {deadLetters.isPending ? <p>Loading…</p> : null}
        {deadLetters.isError ? <ErrorNotice error={deadLetters.error} what="Dead letters" /> : null}
        {deadLetters.data && letters.length === 0 ? <p data-testid="no-dead-letters">No dead letters.</p> : null}
        {letters.length > 0 ? (
          <>
            <p>
              <button
                type="button"
                onClick={() => replay.mutate({ all: true })}
                disabled={replay.isPending}
              >
                Replay all
              </button>
            </p>
            <div className="table-wrap" role="region" aria-label="Dead letters table" tabIndex={0}>
              <table aria-label="Dead letters">
                <thead>
                  <tr>
                    <th scope="col">Job</th>
                    <th scope="col">Queue</th>
                    <th scope="col">Subscriber</th>
                    <th scope="col">Event type</th>
                    <th scope="col">Document</th>
                    <th scope="col">Failed at</th>
                    <th scope="col">Error</th>
                    <th scope="col">
                      <span className="sr-only">Action</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {letters.map((letter, index) => (
                    <DeadLetterRow
                      key={`${letter.job_id}/${letter.event_id}/${index}`}
                      letter={letter}
                      first={firstOfJob.has(index)}
                      disabled={replay.isPending}
                      onReplay={() => replay.mutate({ job_ids: [letter.job_id] })}
                    />
                  ))}
                </tbody>
              </table>
            </div>
          </>
        ) : null}
      </section>
    </>
  );
}

function DeadLetterRow({
  letter,
  first,
  disabled,
  onReplay,
}: {
  letter: DeadLetter;
  first: boolean;
  disabled: boolean;
  onReplay: () => void;
}) {
  return (
    <tr data-testid="dead-letter" data-job-id={letter.job_id}>
      <th scope="row">
        <code>{letter.job_id}</code>
      </th>
      <td>
        <code>{letter.queue}</code>
      </td>
      <td>{letter.subscriber}</td>
      <td>{letter.event_type}</td>
      <td>{letter.document_id ? <code>{letter.document_id}</code> : '—'}</td>
      <td>
        <Time iso={letter.failed_at} relative={false} />
      </td>
      <td className="error-cell">{letter.error ?? '—'}</td>
      <td>
        {first ? (
          <button type="button" aria-label={`Replay job ${letter.job_id}`} onClick={onReplay} disabled={disabled}>
            Replay
          </button>
        ) : (
          <span className="muted">same job</span>
        )}
      </td>
    </tr>
  );
}
