import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { Route, Switch } from 'wouter';
import { Layout } from './components/Layout';
import { AddPage } from './pages/AddPage';
import { DocumentDetailPage } from './pages/DocumentDetailPage';
import { DocumentsPage } from './pages/DocumentsPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { OpsPage } from './pages/OpsPage';
import { SearchPage } from './pages/SearchPage';
import { SubmissionsProvider } from './submissions';

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // A failure is shown at once (the lists poll anyway); searchapi's answer is the truth.
        retry: false,
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
}

export function App({ client }: { client: QueryClient }) {
  return (
    <QueryClientProvider client={client}>
      <SubmissionsProvider>
        <Layout>
          <Switch>
            <Route path="/" component={SearchPage} />
            <Route path="/documents" component={DocumentsPage} />
            <Route path="/documents/:id" component={DocumentDetailPage} />
            <Route path="/add" component={AddPage} />
            <Route path="/ops" component={OpsPage} />
            <Route component={NotFoundPage} />
          </Switch>
        </Layout>
      </SubmissionsProvider>
    </QueryClientProvider>
  );
}
