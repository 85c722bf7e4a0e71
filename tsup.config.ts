import { readFileSync, rmSync } from 'node:fs'
import { defineConfig, type Options } from 'tsup'

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
  otel: 'src/otel/index.ts',
}

/** The `session-fetch` command's own folder of chunks, next to its entry `dist/cli.js` (the package's `bin`). */
export const CLI_CHUNKS = 'cli'

const { version, dependencies } = JSON.parse(readFileSync('package.json', 'utf8')) as {
  version: string
  dependencies: Record<string, string>
}

/**
 * The command, built on its own for its start-up time: ES modules only, with the package's dependencies bundled
 * in (no package resolution at run time), and split so that a run loads only what its command imports (the entry
 * turns on the compile cache, then loads the rest; `api`'s tracing or `completion` never load for `token`, ofetch
 * only for a login, refresh or logout). `outDir` is for the tests, which build it into a folder of their own.
 */
export function cliOptions(outDir = 'dist'): Options {
  return {
    entry: { cli: 'src/cli/main.ts' },
    outDir,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    dts: false,
    clean: false, // the library's build cleans dist/ around it; the chunks' folder is emptied below
    sourcemap: true,
    splitting: true,
    treeshake: true,
    noExternal: Object.keys(dependencies),
    // The OS keychain's binding: an optional dependency with a native binary per platform, imported when used.
    external: ['@napi-rs/keyring'],
    define: { __SESSION_FETCH_VERSION__: JSON.stringify(version) },
    esbuildOptions(options) {
      options.chunkNames = `${CLI_CHUNKS}/[name]-[hash]`
    },
  }
}

export default defineConfig(() => {
  // The two builds run side by side: the library's leaves the command's files alone, and the command's old
  // chunks go before either starts.
  rmSync(`dist/${CLI_CHUNKS}`, { recursive: true, force: true })
  return [
    {
      entry: entries,
      format: ['esm', 'cjs'],
      dts: true,
      clean: ['!cli.js', '!cli.js.map', `!${CLI_CHUNKS}/**`],
      sourcemap: true,
      target: 'es2022',
      splitting: true,
      treeshake: true,
      // `session-fetch/otel` names its version as the instrumentation scope's.
      define: { __SESSION_FETCH_VERSION__: JSON.stringify(version) },
    },
    cliOptions(),
  ]
})
