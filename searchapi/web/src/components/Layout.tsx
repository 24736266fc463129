import { useEffect, useRef, type ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { AuthAlert } from './AuthAlert';
import { KeyForm } from './KeyForm';

const LINKS: readonly { href: string; label: string }[] = [
  { href: '/', label: 'Search' },
  { href: '/documents', label: 'Documents' },
  { href: '/add', label: 'Add documents' },
  { href: '/ops', label: 'Operations' },
];

function isCurrent(href: string, path: string): boolean {
  return href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
}

export function Layout({ children }: { children: ReactNode }) {
  const [path] = useLocation();
  const previous = useRef(path);

  useEffect(() => {
    // After moving to another page (not on load, not when only the query string changes), put
    // the focus on the new page's heading so keyboard and screen reader users start there.
    if (previous.current === path) return;
    previous.current = path;
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [path]);

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="header-inner">
          <Link href="/" className="brand">
            Sluice
          </Link>
          <nav aria-label="Main">
            <ul>
              {LINKS.map((link) => (
                <li key={link.href}>
                  <Link href={link.href} aria-current={isCurrent(link.href, path) ? 'page' : undefined}>
                    {link.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <KeyForm />
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <AuthAlert />
        {children}
      </main>
    </>
  );
}
