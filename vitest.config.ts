import { defineConfig } from 'vitest/config'

// `npm run test:unit` (UNIT=1): the inner loop, without the tests that need Redis, a browser, child
// processes or a build. `npm test` runs everything.
const NEEDS_SERVICES = [
  'test/stores/redis/**',
  'test/stores/file/file-processes.test.ts',
  'test/stores/file/file-full-disk.test.ts', // mounts a tmpfs: root, as in CI
  'test/stores/file/file-hostile.test.ts', // mkfifo, and other users' files as root
  'test/cli/cli.test.ts',
  'test/cli/cli-keychain-fallback.test.ts',
  'test/core/lifecycle-order.test.ts',
  'test/stores/browser/browser-tabs.test.ts',
  'test/adapters/axios/axios-browser.test.ts',
  'test/adapters/fetch/browser-bodies.test.ts',
  'test/core/stream-memory.test.ts',
  'test/protocols/redirects.test.ts',
  'test/package/package.test.ts',
  'test/reliability/soak.test.ts',
  'test/package/doc-examples.test.ts',
  'test/package/demo.test.ts',
  'test/server/pool-processes.test.ts',
  'test/server/cookie-processes.test.ts',
  'test/otel/otel-redis.test.ts',
  'test/otel/otel-not-loaded.test.ts',
  'test/otel/otel-api-1.3.test.ts',
]

// Redis topologies the tests start themselves (a cluster, Sentinel, a restarted or replicated Redis): minutes of
// run time, so `npm test` leaves them to `npm run test:topology` (TOPOLOGY=1), which `.ci/run` runs after it.
const TOPOLOGY = [
  'test/stores/redis/redis-cluster.test.ts',
  'test/stores/redis/redis-sentinel.test.ts',
  'test/stores/redis/redis-restart.test.ts',
  'test/stores/redis/redis-replicas.test.ts',
]

// Tests that need programs a fresh machine does not have (zsh, fish): `npm run test:system` (SYSTEM=1), which
// `.ci/run` runs after installing them from Debian. They fail, never skip, when a program is missing.
const SYSTEM = ['test/cli/cli-completion-shells.test.ts']

// The OS keychain against a real Secret Service (gnome-keyring on a D-Bus session the suite starts): `npm run
// test:keychain` (KEYCHAIN=1), which `.ci/run` runs once it has installed gnome-keyring.
const KEYCHAIN = ['test/cli/cli-keychain.test.ts']

// A real Next.js app (test/next-app) built with `next build` and run with `next start`, driven by Chromium: `npm
// run test:next` (NEXT=1), which `.ci/run` runs after `npm test`. Its global setup builds the app instead of the
// command.
const NEXT = ['test/server/next-app.test.ts']

export default defineConfig({
  test: {
    include: process.env.TOPOLOGY
      ? TOPOLOGY
      : process.env.SYSTEM
        ? SYSTEM
        : process.env.KEYCHAIN
          ? KEYCHAIN
          : process.env.NEXT
            ? NEXT
            : ['test/**/*.test.ts'],
    exclude: process.env.UNIT
      ? [...NEEDS_SERVICES, ...TOPOLOGY, ...SYSTEM, ...KEYCHAIN, ...NEXT]
      : process.env.TOPOLOGY || process.env.SYSTEM || process.env.KEYCHAIN || process.env.NEXT
        ? []
        : [...TOPOLOGY, ...SYSTEM, ...KEYCHAIN, ...NEXT],
    setupFiles: ['test/setup/preload.ts'],
    // The `session-fetch` command, built once for the run: the CLI tests run it as published. With NEXT=1, the
    // Next.js app instead.
    globalSetup: [process.env.NEXT ? 'test/setup/build-next.ts' : 'test/setup/build-cli.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // A skipped or todo test fails the run: every test here must be able to fail.
    allowOnly: false,
    passWithNoTests: false,
    reporters: ['default'],
  },
})
