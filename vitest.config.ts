import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/preload.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // A skipped or todo test fails the run: every test here must be able to fail.
    allowOnly: false,
    passWithNoTests: false,
    reporters: ['default'],
  },
})
