// Size: every public entry point bundled with its dependencies (esbuild, tree-shaken, minified), gzipped.
// Peer dependencies and Node built-ins stay external, as a bundler of an application would leave them.
// The "what if" rows rebuild the core with one dependency swapped for the sketch in bench/size-options/, to
// put a number on each option for meeting the 6 KB target.
import { readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type Plugin } from 'esbuild'
import { entries } from '../tsup.config.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  peerDependencies?: Record<string, string>
}
const external = [
  ...Object.keys(pkg.peerDependencies ?? {}),
  ...builtinModules,
  ...builtinModules.map((name) => `node:${name}`),
]

export interface SizeRow {
  name: string
  minified: number
  gzipped: number
  /** Minified bytes each input (own file or package) contributes. */
  inputs: Record<string, number>
}

function swap(replacements: Record<string, string>): Plugin {
  return {
    name: 'swap',
    setup(builder) {
      for (const [from, to] of Object.entries(replacements)) {
        const filter = new RegExp(`^${from.replace(/[/.]/g, '\\$&')}$`)
        builder.onResolve({ filter }, () => ({ path: `${root}${to}` }))
      }
    },
  }
}

function packageOf(input: string): string {
  const at = input.lastIndexOf('node_modules/')
  if (at === -1) return input
  const parts = input.slice(at + 'node_modules/'.length).split('/')
  return (parts[0]?.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/')
}

// What is loaded on first use (a dynamic import(): the ofetch session call, p-queue) is its own chunk: leave it
// out to measure what a page loads before its first request.
const lazyApart: Plugin = {
  name: 'dynamic-imports-apart',
  setup(builder) {
    builder.onResolve({ filter: /.*/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
    )
  },
}

export async function measure(
  name: string,
  entry: string,
  replacements: Record<string, string> = {},
  requestPath = false,
): Promise<SizeRow> {
  const result = await build({
    entryPoints: [`${root}${entry}`],
    bundle: true,
    minify: true,
    treeShaking: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2022',
    external,
    write: false,
    metafile: true,
    logLevel: 'error',
    plugins: requestPath ? [swap(replacements), lazyApart] : [swap(replacements)],
  })
  const code = result.outputFiles[0]?.contents ?? new Uint8Array()
  const inputs: Record<string, number> = {}
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = packageOf(input)
      inputs[key] = (inputs[key] ?? 0) + bytesInOutput
    }
  }
  return { name, minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength, inputs }
}

export interface SizeReport {
  entries: SizeRow[]
  options: SizeRow[]
}

export async function sizes(): Promise<SizeReport> {
  const rows: SizeRow[] = []
  for (const [name, file] of Object.entries(entries)) {
    const label = name === 'index' ? 'session-fetch' : `session-fetch/${name}`
    const eager = await measure(label, file, {}, true)
    rows.push(eager)
    const whole = await measure(`${label} (with what loads on first use)`, file)
    if (whole.gzipped !== eager.gzipped) rows.push(whole)
  }
  return { entries: rows, options: [] }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = await sizes()
  for (const row of [...report.entries, ...report.options]) {
    console.log(`${row.name}: ${row.minified} B min, ${row.gzipped} B min+gz`)
  }
}
