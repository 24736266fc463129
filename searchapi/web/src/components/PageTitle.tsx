import { useEffect, type ReactNode } from 'react';

/** The page's <h1> (focused by Layout after a route change) and the tab's title. */
export function PageTitle({ children, title }: { children: ReactNode; title: string }) {
  useEffect(() => {
    document.title = `${title} · Sluice`;
  }, [title]);
  return (
    <h1 tabIndex={-1} className="page-title">
      {children}
    </h1>
  );
}
