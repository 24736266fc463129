import { cleanup, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { DeadLetter, ModelState, OpsResponse } from '../src/types';
import { fakeServer, json, type Route } from './fakeServer';
import { renderApp } from './render';

function ops(change: Partial<OpsResponse> = {}): OpsResponse {
  return {
    queues: [
      { queue: 'sluice-transform', depth: 3, oldest_job_age_seconds: 75, scheduled: 1, failed: 0, workers: { busy: 1, idle: 2 } },
      { queue: 'sluice-embed', depth: 0, oldest_job_age_seconds: 0, scheduled: 0, failed: 2, workers: { busy: 0, idle: 1 } },
    ],
    freshness: { window_seconds: 300, p50_seconds: 1.2, p95_seconds: 3.4, indexed: 12 },
    model: { active: 'all-MiniLM-L6-v2', other: null, phase: null, progress: null },
    prometheus_url: 'http://127.0.0.1:9090',
    metrics_available: true,
    error: null,
    ...change,
  };
}

const BUILDING: ModelState = {
  active: 'all-MiniLM-L6-v2',
  other: 'e5-small-v2',
  phase: 'building',
  progress: { done: 1234, pending: 3766, total: 5000, rate_per_second: 31, eta_seconds: 121.5 },
};

async function modelSection(model: ModelState | null | undefined) {
  fakeServer(opsRoutes(ops({ model }), () => []));
  renderApp('/ops');
  const heading = await screen.findByRole('heading', { level: 2, name: 'Model' });
  return within(heading.closest('section')!);
}

function letter(job: string, change: Partial<DeadLetter> = {}): DeadLetter {
  return {
    job_id: job,
    queue: 'sluice-embed',
    subscriber: 'embed',
    event_type: 'document.transformed',
    event_id: `ev-${job}`,
    document_id: 'doc-1',
    document_version: 'v1',
    tenant: 'default',
    trace_id: null,
    failed_at: '2025-01-01T10:00:00Z',
    error: 'RuntimeError: model unavailable',
    ...change,
  };
}

function opsRoutes(answer: OpsResponse, letters: () => DeadLetter[], replay?: Route['reply']): Route[] {
  return [
    { path: '/v1/ops', reply: () => json(200, answer) },
    { path: '/v1/ingest/dead-letters', reply: () => json(200, { dead_letters: letters() }) },
    ...(replay ? [{ method: 'POST', path: '/v1/ingest/dead-letters/replay', reply: replay }] : []),
  ];
}

describe('the operations page', () => {
  it('shows the queues, the freshness and the links', async () => {
    fakeServer(opsRoutes(ops(), () => []));
    renderApp('/ops');
    const table = await screen.findByRole('table', { name: 'Queues' });
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(within(rows[0]!).getAllByRole('columnheader').map((cell) => cell.textContent)).toEqual([
      'Queue', 'Depth', 'Oldest job', 'Scheduled', 'Failed', 'Workers busy / idle',
    ]);
    expect(within(rows[1]!).getAllByRole('cell').map((cell) => cell.textContent)).toEqual(['3', '1 min 15 s', '1', '0', '1 / 2']);
    expect(rows[1]).toHaveTextContent('sluice-transform');
    const freshness = screen.getByTestId('freshness');
    expect(freshness).toHaveTextContent('1.2 s');
    expect(freshness).toHaveTextContent('3.4 s');
    expect(freshness).toHaveTextContent('Indexed in the last 5 minutes12 documents');
    expect(screen.getByRole('link', { name: /Prometheus/ })).toHaveAttribute('href', 'http://127.0.0.1:9090');
    expect(screen.getByRole('link', { name: 'searchapi metrics' })).toHaveAttribute('href', '/metrics');
    expect(await screen.findByTestId('no-dead-letters')).toHaveTextContent('No dead letters.');
    expect(screen.queryByTestId('metrics-unavailable')).not.toBeInTheDocument();
  });

  it('says the figures need Prometheus when it is not there', async () => {
    fakeServer(
      opsRoutes(
        ops({
          metrics_available: false,
          error: 'dial tcp 127.0.0.1:9090: connection refused',
          prometheus_url: null,
          freshness: { window_seconds: 300, p50_seconds: null, p95_seconds: null, indexed: 0 },
        }),
        () => [],
      ),
    );
    renderApp('/ops');
    expect(await screen.findByTestId('metrics-unavailable')).toHaveTextContent(
      'Figures need Prometheus: dial tcp 127.0.0.1:9090: connection refused.',
    );
    expect(screen.getByTestId('freshness')).toHaveTextContent('No documents indexed in the last 5 minutes.');
    expect(screen.queryByRole('link', { name: /Prometheus/ })).not.toBeInTheDocument();
  });

  it('replays one job by id, says how many and refetches the dead letters', async () => {
    let letters = [letter('job-1'), letter('job-1', { event_id: 'ev-b', document_id: 'doc-2' }), letter('job-2')];
    const server = fakeServer(
      opsRoutes(ops(), () => letters, (call) => {
        const ids = (call.json as { job_ids: string[] }).job_ids;
        letters = letters.filter((item) => !ids.includes(item.job_id));
        return json(200, { replayed: ids.length });
      }),
    );
    const { user } = renderApp('/ops');
    const table = await screen.findByRole('table', { name: 'Dead letters' });
    expect(within(table).getAllByTestId('dead-letter')).toHaveLength(3);
    expect(table).toHaveTextContent('RuntimeError: model unavailable');
    expect(table).toHaveTextContent('document.transformed');
    // One button per job, even when the job has several events.
    expect(within(table).getAllByRole('button', { name: 'Replay job job-1' })).toHaveLength(1);

    await user.click(within(table).getByRole('button', { name: 'Replay job job-1' }));
    expect(server.to('/v1/ingest/dead-letters/replay', 'POST')[0]?.json).toEqual({ job_ids: ['job-1'] });
    expect(await screen.findByText('Replayed 1')).toHaveAttribute('role', 'status');
    await waitFor(() => expect(screen.getAllByTestId('dead-letter')).toHaveLength(1));
    expect(screen.getAllByTestId('dead-letter')[0]).toHaveAttribute('data-job-id', 'job-2');
  });

  it('replays all', async () => {
    const server = fakeServer(opsRoutes(ops(), () => [letter('a'), letter('b')], () => json(200, { replayed: 2 })));
    const { user } = renderApp('/ops');
    await user.click(await screen.findByRole('button', { name: 'Replay all' }));
    expect(server.to('/v1/ingest/dead-letters/replay', 'POST')[0]?.json).toEqual({ all: true });
    expect(await screen.findByTestId('replay-status')).toHaveTextContent('Replayed 2');
  });

  it('shows a failed replay', async () => {
    fakeServer(
      opsRoutes(ops(), () => [letter('a')], () => json(502, { error: { code: 'ingest_unavailable', message: 'ingest is down' } })),
    );
    const { user } = renderApp('/ops');
    await user.click(await screen.findByRole('button', { name: 'Replay job a' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Replay failed: ingest is down (ingest_unavailable)');
  });

  describe('the model section', () => {
    it('shows the active model alone when no change is under way', async () => {
      const section = await modelSection(ops().model);
      expect(section.getByTestId('model-active')).toHaveTextContent(/^Active model: all-MiniLM-L6-v2$/);
      expect(section.queryByRole('progressbar')).not.toBeInTheDocument();
      expect(section.queryByTestId('model-change')).not.toBeInTheDocument();
      expect(section.queryByTestId('model-phase')).not.toBeInTheDocument();
    });

    it('shows a change building the new collection, with its progress bar', async () => {
      const section = await modelSection(BUILDING);
      expect(section.getByTestId('model-active')).toHaveTextContent('Active model: all-MiniLM-L6-v2');
      expect(section.getByTestId('model-change')).toHaveTextContent(
        /^Changing to e5-small-v2: 1,234 \/ 5,000 documents \(25 %\), 31 docs\/s, about 2 min left$/,
      );
      const bar = section.getByRole('progressbar', { name: 'Documents copied for e5-small-v2' });
      expect(bar.tagName).toBe('PROGRESS');
      expect(bar).toHaveAttribute('max', '5000');
      expect(bar).toHaveAttribute('value', '1234');
      expect(bar).toHaveAttribute('aria-valuemin', '0');
      expect(bar).toHaveAttribute('aria-valuemax', '5000');
      expect(bar).toHaveAttribute('aria-valuenow', '1234');
      expect(bar).toHaveAttribute('aria-valuetext', '1,234 of 5,000 documents (25 %)');
      expect(bar).not.toHaveAttribute('style');
      expect(section.getByTestId('model-phase')).toHaveTextContent('Phase: building the new collection.');
    });

    it('says nothing of the time left when nothing was copied in the last minute', async () => {
      const section = await modelSection({
        ...BUILDING,
        progress: { done: 0, pending: 500, total: 500, rate_per_second: 0, eta_seconds: null },
      });
      expect(section.getByTestId('model-change')).toHaveTextContent(
        /^Changing to e5-small-v2: 0 \/ 500 documents \(0 %\), 0 docs\/s$/,
      );
    });

    it('shows an indeterminate bar while the documents are listed', async () => {
      const section = await modelSection({
        ...BUILDING,
        progress: { done: 0, pending: 0, total: 0, rate_per_second: null, eta_seconds: null },
      });
      const bar = section.getByRole('progressbar', { name: 'Documents copied for e5-small-v2' });
      expect(bar).not.toHaveAttribute('value');
      expect(bar).not.toHaveAttribute('aria-valuenow');
    });

    it('shows a filled collection waiting for the switch', async () => {
      const section = await modelSection({
        ...BUILDING,
        phase: 'ready',
        progress: { done: 5000, pending: 0, total: 5000, rate_per_second: 0, eta_seconds: null },
      });
      expect(section.getByTestId('model-change')).toHaveTextContent('5,000 / 5,000 documents (100 %)');
      expect(section.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '5000');
      expect(section.getByTestId('model-phase')).toHaveTextContent('Phase: ready, waiting for the switch.');
    });

    it('shows the previous model kept for rollback after the switch', async () => {
      const section = await modelSection({
        active: 'e5-small-v2',
        other: 'all-MiniLM-L6-v2',
        phase: 'previous',
        progress: { done: 12, pending: 2, total: 14, rate_per_second: 1.5, eta_seconds: 1.3 },
      });
      expect(section.getByTestId('model-active')).toHaveTextContent('Active model: e5-small-v2');
      expect(section.getByTestId('model-previous')).toHaveTextContent(
        /^Previous model: all-MiniLM-L6-v2, 2 documents to copy into it$/,
      );
      expect(section.getByTestId('model-phase')).toHaveTextContent(
        'Phase: switched: the previous model is kept for rollback until drop-old.',
      );
      expect(section.queryByRole('progressbar')).not.toBeInTheDocument();
      expect(section.queryByTestId('model-change')).not.toBeInTheDocument();
    });

    it('says no model is reported when Prometheus has none (or an older searchapi sends none)', async () => {
      const section = await modelSection(null);
      expect(section.getByTestId('model')).toHaveTextContent('No model reported.');
      cleanup();
      const older = await modelSection(undefined);
      expect(older.getByTestId('model')).toHaveTextContent('No model reported.');
    });
  });
});
