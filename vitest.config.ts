import { defineConfig } from 'vitest/config'

// `npm run test:unit` (UNIT=1): the inner loop, without the tests that need Redis, a browser, child
// processes or a build. `npm test` runs everything.
const NEEDS_SERVICES = [
  'test/redis-*.test.ts',
  'test/lifecycle-order.test.ts',
  'test/browser-tabs.test.ts',
  'test/redirects.test.ts',
  'test/package.test.ts',
  'test/soak.test.ts',
  'test/doc-examples.test.ts',
  'test/demo.test.ts',
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
