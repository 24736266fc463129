import { formatCount, formatRate, percent, timeLeft } from '../format';
import type { ModelPhase, ModelProgress, ModelState } from '../types';

const PHASE_WORDS: Record<ModelPhase, string> = {
  building: 'building the new collection',
  ready: 'ready, waiting for the switch',
  previous: 'switched: the previous model is kept for rollback until drop-old',
};

/** "1,234 / 5,000 documents (25 %), 31 docs/s, about 2 min left". */
export function progressText(progress: ModelProgress): string {
  const parts = [
    `${formatCount(progress.done)} / ${formatCount(progress.total)} documents (${percent(progress.done, progress.total)} %)`,
  ];
  if (progress.rate_per_second !== null) parts.push(`${formatRate(progress.rate_per_second)} docs/s`);
  if (progress.pending > 0 && progress.eta_seconds !== null) parts.push(timeLeft(progress.eta_seconds));
  return parts.join(', ');
}

/** The embedding model and a model change's progress (the operations page's Model section). */
export function ModelStatus({ model }: { model: ModelState | null | undefined }) {
  if (!model) {
    return (
      <p className="muted" data-testid="model">
        No model reported.
      </p>
    );
  }
  const { other, phase, progress } = model;
  const changing = other !== null && (phase === 'building' || phase === 'ready');
  return (
    <div data-testid="model" data-phase={phase ?? ''}>
      <p data-testid="model-active">
        Active model: <code>{model.active}</code>
      </p>
      {changing && progress ? <ChangeProgress to={other} progress={progress} /> : null}
      {other !== null && phase === 'previous' ? (
        <p data-testid="model-previous">
          Previous model: <code>{other}</code>
          {progress && progress.pending > 0 ? `, ${formatCount(progress.pending)} ${progress.pending === 1 ? 'document' : 'documents'} to copy into it` : null}
        </p>
      ) : null}
      {phase ? <p data-testid="model-phase">Phase: {PHASE_WORDS[phase]}.</p> : null}
    </div>
  );
}

function ChangeProgress({ to, progress }: { to: string; progress: ModelProgress }) {
  const text = progressText(progress);
  const label = `Documents copied for ${to}`;
  // No total yet (the documents are still being listed): an indeterminate bar.
  const known = progress.total > 0;
  return (
    <>
      <p data-testid="model-change">
        Changing to <code>{to}</code>: {text}
      </p>
      {known ? (
        <progress
          className="model-progress"
          max={progress.total}
          value={progress.done}
          aria-label={label}
          aria-valuemin={0}
          aria-valuemax={progress.total}
          aria-valuenow={progress.done}
          aria-valuetext={`${formatCount(progress.done)} of ${formatCount(progress.total)} documents (${percent(progress.done, progress.total)} %)`}
        />
      ) : (
        <progress className="model-progress" aria-label={label} aria-valuetext="listing the documents" />
      )}
    </>
  );
}
