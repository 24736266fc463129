import { useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { forgetKey, saveKey, useApiKey } from '../key';

/** The API key control: kept for this tab in sessionStorage, sent as a bearer token. */
export function KeyForm() {
  const key = useApiKey();
  const [draft, setDraft] = useState('');
  const client = useQueryClient();
  const inputId = useId();
  const stateId = useId();

  function refetchEverything() {
    // Every shown query runs again with the new key (a refused search, the lists, …).
    void client.invalidateQueries();
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (!draft.trim()) return;
    saveKey(draft);
    setDraft('');
    refetchEverything();
  }

  function onForget() {
    forgetKey();
    setDraft('');
    refetchEverything();
  }

  return (
    <form className="key-form" onSubmit={onSubmit} aria-label="API key settings">
      <label htmlFor={inputId}>API key</label>
      <input
        id={inputId}
        type="password"
        autoComplete="off"
        spellCheck={false}
        value={draft}
        onChange={(event) => setDraft(event.target.value)}
        placeholder={key ? 'replace the saved key' : 'paste a key'}
        aria-describedby={stateId}
      />
      <button type="submit" disabled={!draft.trim()}>
        Save
      </button>
      <button type="button" onClick={onForget} disabled={!key}>
        Forget
      </button>
      <span id={stateId} role="status" className="key-state">
        {key ? 'Key saved for this tab' : 'No key saved'}
      </span>
    </form>
  );
}
