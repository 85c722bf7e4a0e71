import { defineConfig } from 'tsup'

// One entry per public entry point; each adapter or store with extra dependencies stays out of the core.
export const entries = {
  index: 'src/index.ts',
  mock: 'src/testing/mock/index.ts',
  msw: 'src/testing/msw/index.ts',
  oauth2: 'src/protocols/oauth2/index.ts',
  axios: 'src/adapters/axios/index.ts',
  undici: 'src/adapters/undici/index.ts',
  ofetch: 'src/adapters/ofetch/index.ts',
  browser: 'src/stores/browser/index.ts',
  redis: 'src/stores/redis/index.ts',
  file: 'src/stores/file/index.ts',
  server: 'src/server/index.ts',
  cli: 'src/cli/main.ts',
}

export default defineConfig({
  entry: entries,
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  splitting: true,
  treeshake: true,
})
