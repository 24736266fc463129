import { describeError } from '../api';
import { useAuthFailure } from '../key';

/** The one alert for a 401/403 answered to the current key (cleared when a key is saved). */
export function AuthAlert() {
  const failure = useAuthFailure();
  if (!failure) return null;
  return (
    <div role="alert" className="notice notice-error auth-alert" data-testid="auth-alert">
      {describeError(failure)}
    </div>
  );
}
