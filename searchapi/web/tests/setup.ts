import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, beforeEach } from 'vitest';
import { clearAuthFailure } from '../src/key';
import { resetClients } from './render';

beforeEach(() => {
  window.sessionStorage.clear();
  clearAuthFailure();
  window.history.replaceState(null, '', '/');
});

afterEach(() => {
  cleanup();
  resetClients();
});
