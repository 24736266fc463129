// Every submission of this visit (kept while one moves between pages, gone on reload).
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import type { SubmissionStatus } from './types';

export interface Submission {
  key: number;
  /** The title typed or the file's name. */
  label: string;
  kind: 'text' | 'file';
  /** Known once ingest accepted it. */
  id?: string;
  /** "sending" until ingest answers, "refused" when it said no; else what it answered. */
  state: 'sending' | 'refused' | SubmissionStatus;
  error?: string;
}

interface Submissions {
  submissions: Submission[];
  add: (submission: Omit<Submission, 'key'>) => number;
  update: (key: number, change: Partial<Omit<Submission, 'key'>>) => void;
  clear: () => void;
}

const Context = createContext<Submissions | null>(null);

export function SubmissionsProvider({ children }: { children: ReactNode }) {
  const [submissions, setSubmissions] = useState<Submission[]>([]);
  const [counter] = useState(() => ({ next: 1 }));
  const add = useCallback(
    (submission: Omit<Submission, 'key'>) => {
      const key = counter.next++;
      setSubmissions((list) => [...list, { ...submission, key }]);
      return key;
    },
    [counter],
  );
  const update = useCallback((key: number, change: Partial<Omit<Submission, 'key'>>) => {
    setSubmissions((list) => list.map((item) => (item.key === key ? { ...item, ...change } : item)));
  }, []);
  const clear = useCallback(() => setSubmissions([]), []);
  const value = useMemo(() => ({ submissions, add, update, clear }), [submissions, add, update, clear]);
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useSubmissions(): Submissions {
  const value = useContext(Context);
  if (!value) throw new Error('useSubmissions outside SubmissionsProvider');
  return value;
}
