import { defineConfig } from 'vite';

// The console is served by the API on the same origin (apps/api/src/console); `vite` alone
// (pnpm --filter @warden/console dev) proxies /api to a running stack for development.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // asciinema-player (SSH playback) is loaded on demand, so the first page stays small.
    chunkSizeWarningLimit: 600,
  },
  oxc: { jsx: { runtime: 'automatic' } },
  server: {
    proxy: { '/api': process.env.WARDEN_URL ?? 'http://127.0.0.1:8009' },
  },
});
