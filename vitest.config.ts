import { defineConfig } from 'vitest/config'

// `npm run test:unit` (UNIT=1): the inner loop, without the tests that need Redis, a browser, child
// processes or a build. `npm test` runs everything.
const NEEDS_SERVICES = [
  'test/stores/redis/**',
  'test/stores/file/file-processes.test.ts',
  'test/cli/cli.test.ts',
  'test/core/lifecycle-order.test.ts',
  'test/stores/browser/browser-tabs.test.ts',
  'test/protocols/redirects.test.ts',
  'test/package/package.test.ts',
  'test/reliability/soak.test.ts',
  'test/package/doc-examples.test.ts',
  'test/package/demo.test.ts',
]

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: process.env.UNIT ? NEEDS_SERVICES : [],
    setupFiles: ['test/setup/preload.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // A skipped or todo test fails the run: every test here must be able to fail.
    allowOnly: false,
    passWithNoTests: false,
    reporters: ['default'],
  },
})
