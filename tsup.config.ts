import { defineConfig } from 'tsup'

// One entry per public entry point; each adapter or store with extra dependencies stays out of the core.
export const entries = {
  index: 'src/index.ts',
  mock: 'src/mock/index.ts',
  msw: 'src/msw/index.ts',
  oauth2: 'src/oauth2/index.ts',
  axios: 'src/adapters/axios.ts',
  undici: 'src/adapters/undici.ts',
  ofetch: 'src/adapters/ofetch.ts',
  browser: 'src/browser/index.ts',
  redis: 'src/redis/index.ts',
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
