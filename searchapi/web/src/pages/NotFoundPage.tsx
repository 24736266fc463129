import { Link } from 'wouter';
import { PageTitle } from '../components/PageTitle';

export function NotFoundPage() {
  return (
    <>
      <PageTitle title="Not found">Page not found</PageTitle>
      <p>
        The console has no page here. <Link href="/">Search</Link> or see the <Link href="/documents">documents</Link>.
      </p>
    </>
  );
}
