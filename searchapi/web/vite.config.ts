import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// `npm run dev` forwards the API to a running searchapi (the console and the API share an origin
// in production; in development the proxy makes it so).
const api = process.env.SLUICE_CONSOLE_URL ?? 'http://127.0.0.1:8080';
const proxy = { '/v1': api, '/metrics': api };

// searchapi serves dist/app at / (index.html uncached, /assets/* cached immutable), so the
// base is absolute: the page works at any path depth (/documents/x loads /assets/...).
export default defineConfig({
  base: '/',
  plugins: [react()],
  server: { proxy },
  preview: { proxy },
  build: {
    outDir: 'dist/app', // dist/.gitkeep sits one level up and survives emptyOutDir
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // Every browser that runs ES2022 knows modulepreload: no polyfill in the entry.
    modulePreload: { polyfill: false },
    // Nothing inlined into index.html or as data: URLs beyond small images (CSP allows img data:).
    assetsInlineLimit: 0,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['tests/setup.ts'],
    include: ['tests/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
