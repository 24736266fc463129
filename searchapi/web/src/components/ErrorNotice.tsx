import { ApiError, describeError } from '../api';

/**
 * A request's failure. A refused key is announced once, at the top of the page (AuthAlert), so
 * here it is only a quiet note; every other error is an alert with searchapi's message.
 */
export function ErrorNotice({ error, what }: { error: unknown; what?: string }) {
  if (error instanceof ApiError && error.isAuth) {
    return <p className="muted">{what ? `${what} not loaded` : 'Not loaded'}: the API key was not accepted.</p>;
  }
  return (
    <div role="alert" className="notice notice-error">
      {what ? `${what}: ` : ''}
      {describeError(error)}
    </div>
  );
}
