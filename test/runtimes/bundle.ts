// Bundles the conformance scenario with each host into one file per host, for runtimes that load one file (workerd,
// the edge runtime, browsers, workers) and the others alike. `session-fetch` is the BUILT package (dist/index.js),
// resolved with the browser conditions: what a bundler gives a browser or worker app.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = fileURLToPath(new URL('.', import.meta.url))
export const root = join(here, '..', '..')

/** The hosts: each becomes `<name>.mjs` (ES module) or `<name>.js` (classic script). */
const HOSTS = {
  esm: ['cli', 'workerd', 'page', 'worker', 'tabs'],
  classic: ['edge', 'service-worker'],
} as const

export async function bundleScenario(outdir: string): Promise<void> {
  const dist = join(root, 'dist', 'index.js')
  if (!existsSync(dist)) throw new Error(`${dist} is missing: build the package first (npm run build)`)
  const common = {
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    outdir,
    write: true,
    logLevel: 'silent',
    metafile: true,
    // The built package, not the sources that tsconfig `paths` show the type checker.
    alias: { 'session-fetch': dist, 'session-fetch/browser': join(root, 'dist', 'browser.js') },
    tsconfigRaw: {},
    absWorkingDir: root,
  } as const
  const entries = (names: readonly string[]) =>
    Object.fromEntries(names.map((name) => [name, join(here, 'hosts', `${name}.ts`)]))
  const results = await Promise.all([
    build({ ...common, entryPoints: entries(HOSTS.esm), format: 'esm', outExtension: { '.js': '.mjs' } }),
    build({ ...common, entryPoints: entries(HOSTS.classic), format: 'iife' }),
  ])
  for (const result of results) {
    const fromSources = Object.keys(result.metafile.inputs).filter((input) => input.startsWith('src/'))
    if (fromSources.length > 0) {
      throw new Error(`the scenario bundle took the sources instead of dist/: ${fromSources.join(', ')}`)
    }
  }
}

/**
 * Bundle hosts/peers.ts into `dir/peers.mjs`, beside the `node_modules` where the peers' newest majors are
 * installed: `undici` and `ky` stay imports, resolved from there, not from the project.
 */
export async function bundlePeers(dir: string): Promise<string> {
  const outfile = join(dir, 'peers.mjs')
  await build({
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'esm',
    entryPoints: [join(here, 'hosts', 'peers.ts')],
    outfile,
    logLevel: 'silent',
    external: ['undici', 'ky'],
    alias: {
      'session-fetch': join(root, 'dist', 'index.js'),
      'session-fetch/undici': join(root, 'dist', 'undici.js'),
    },
    tsconfigRaw: {},
    absWorkingDir: root,
  })
  return outfile
}
