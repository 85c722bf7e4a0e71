// Without `instrumentation`, nothing of OpenTelemetry is bundled or loaded: `@opentelemetry/api` is an optional
// peer that only `session-fetch/otel` imports. Checked twice: in what esbuild bundles for each entry point (every
// chunk, the ones loaded with import() too), and in a child process that runs a whole session on the bundled
// core with a resolve hook recording every module it loads. Each check is shown to fire on session-fetch/otel.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build, type Metafile } from 'esbuild'
import { afterAll, describe, expect, test } from 'vitest'
import { entries } from '../../tsup.config.js'
import type { WholeSession } from '../helpers/whole-session.js'

const ROOT = resolve(import.meta.dirname, '../..')
const OTEL_PACKAGE = /(^|\/)node_modules\/@opentelemetry\//
const OTEL_SOURCE = /^src\/otel\//

/**
 * The inputs of a bundle of `entry` as an application's bundler makes it: every module, split chunks included.
 * `packages: 'external'` leaves the packages out, each import of one marked external in its importer's entry.
 */
async function bundle(entry: string, platform: 'neutral' | 'node', packages?: 'external') {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true,
    format: 'esm',
    minify: true,
    target: 'es2022',
    platform,
    mainFields: ['module', 'main'],
    outdir: join(ROOT, '.tmp-meta', 'not-loaded'), // nothing is written
    write: false,
    metafile: true,
    logLevel: 'silent',
    ...(packages ? { packages } : {}),
  })
  return (result.metafile as Metafile).inputs
}

const bundledInputs = async (entry: string, platform: 'neutral' | 'node') =>
  Object.keys(await bundle(entry, platform))

const folders: string[] = []
afterAll(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))))

// Every module a process resolves (specifier and URL), written by a resolve hook in the loader's thread; the
// process ends by printing what it ran and the CommonJS modules it required.
const HOOKS = `import { appendFileSync } from 'node:fs'
let log
export function initialize(data) { log = data.log }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  appendFileSync(log, specifier + '\\t' + resolved.url + '\\n')
  return resolved
}
`
const REGISTER = `import { register } from 'node:module'
register('./hooks.mjs', import.meta.url, { data: { log: process.env.RESOLVED_LOG } })
`

interface Run {
  result: WholeSession
  resolved: string[]
  required: string[]
}

/**
 * A whole session on the core as an application bundles it (its packages left to Node, which resolves them at run
 * time through the hook), in a child process; `withOtel` passes `instrumentation: otel()`.
 */
async function runWholeSession(withOtel: boolean): Promise<Run> {
  const folder = await mkdtemp(join(tmpdir(), 'session-fetch-not-loaded-'))
  folders.push(folder)
  // The packages the bundle leaves out are found from the folder, as in an application's.
  await symlink(join(ROOT, 'node_modules'), join(folder, 'node_modules'))
  await writeFile(join(folder, 'hooks.mjs'), HOOKS)
  await writeFile(join(folder, 'register.mjs'), REGISTER)
  const main = [
    `import { createRequire } from 'node:module'`,
    `import { wholeSession } from './test/helpers/whole-session.ts'`,
    withOtel ? `import { otel } from './src/otel/index.ts'` : '',
    `const result = await wholeSession(${withOtel ? 'otel()' : ''})`,
    `const required = Object.keys(createRequire(import.meta.url).cache)`,
    `console.log(JSON.stringify({ result, required }))`,
  ].join('\n')
  await build({
    stdin: { contents: main, resolveDir: ROOT, sourcefile: 'main.ts', loader: 'ts' },
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outdir: folder,
    entryNames: 'main',
    logLevel: 'silent',
  })
  const log = join(folder, 'resolved.log')
  await writeFile(log, '')
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (done, fail) => {
      const child = spawn(
        process.execPath,
        ['--import', join(folder, 'register.mjs'), join(folder, 'main.js')],
        { env: { ...process.env, RESOLVED_LOG: log }, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let out = ''
      let err = ''
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk
      })
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk
      })
      child.on('error', fail)
      child.on('close', (exit) => done({ code: exit, stdout: out, stderr: err }))
    },
  )
  expect(stderr).toBe('')
  expect(code).toBe(0)
  const { result, required } = JSON.parse(stdout) as { result: WholeSession; required: string[] }
  const resolved = (await readFile(log, 'utf8')).split('\n').filter(Boolean)
  return { result, resolved, required }
}

const fromOtel = (modules: string[]) => modules.filter((module) => module.includes('@opentelemetry'))

describe('without instrumentation, nothing of OpenTelemetry is bundled or loaded', () => {
  test('esbuild (bundle, splitting): no entry point but session-fetch/otel takes in src/otel or @opentelemetry', async () => {
    const core = await bundledInputs('src/index.ts', 'neutral') // as scripts/check-split-size.mjs builds it
    expect(core.length).toBeGreaterThan(20)
    expect(core.filter((input) => OTEL_PACKAGE.test(input) || OTEL_SOURCE.test(input))).toEqual([])
    expect(core).toContain('src/create-session-fetch.ts') // where the `instrumentation` option is read

    // The other entry points, their peers left out (the redis peer itself takes in @opentelemetry/api, its own
    // optional peer, which it requires only when its OpenTelemetry.init() is called): none of session-fetch's
    // modules imports src/otel or @opentelemetry.
    for (const [name, source] of Object.entries(entries)) {
      if (name === 'otel') continue
      const inputs = await bundle(source, 'node', 'external')
      const otelImports = Object.entries(inputs).flatMap(([input, { imports }]) =>
        imports
          .filter(({ path }) => path.startsWith('@opentelemetry/') || OTEL_SOURCE.test(path))
          .map(({ path }) => `${input} → ${path}`),
      )
      expect(otelImports, name).toEqual([])
      expect(
        Object.keys(inputs).filter((input) => OTEL_SOURCE.test(input)),
        name,
      ).toEqual([])
      expect(Object.keys(inputs).length, name).toBeGreaterThan(0)
    }

    // The command (its own bundle of the core): -v's observe(), never otel() nor the API.
    const command = Object.keys(
      await build({
        entryPoints: [join(ROOT, 'src/cli/main.ts')],
        absWorkingDir: ROOT,
        bundle: true,
        splitting: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        external: ['@napi-rs/keyring'],
        outdir: join(ROOT, '.tmp-meta', 'not-loaded-cli'), // nothing is written
        write: false,
        metafile: true,
        logLevel: 'silent',
      }).then((result) => (result.metafile as Metafile).inputs),
    )
    expect(command).toContain('src/otel/observe.ts')
    expect(command.filter((input) => OTEL_PACKAGE.test(input) || input === 'src/otel/otel.ts')).toEqual([])

    // The check can fail: the otel entry's bundle has the API in it.
    const otel = await bundledInputs(entries.otel, 'neutral')
    expect(otel.some((input) => /node_modules\/@opentelemetry\/api\//.test(input))).toBe(true)
    expect(otel).toContain('src/otel/otel.ts')
  })

  test('a whole session in a child process (login, due refresh, 401 replay, logout) resolves no @opentelemetry module', async () => {
    const expected: WholeSession = {
      statuses: [200, 200, 200],
      stats: { refreshes: 2, replays: 1, logins: 1 },
      server: { logins: 1, refreshes: 2, logouts: 1 },
    }
    const [plain, control] = await Promise.all([runWholeSession(false), runWholeSession(true)])
    expect(plain.result).toEqual(expected)
    // The hook saw the run's modules (the bundle's own chunks and Node's), none of OpenTelemetry.
    expect(plain.resolved.some((line) => line.includes('main.js'))).toBe(true)
    expect(plain.resolved.some((line) => line.startsWith('node:http\t'))).toBe(true)
    expect(fromOtel(plain.resolved)).toEqual([])
    expect(fromOtel(plain.required)).toEqual([])

    // The control: the same session with session-fetch/otel, and the detector fires.
    expect(control.result).toEqual(expected)
    expect(fromOtel(control.resolved)).toContainEqual(expect.stringMatching(/^@opentelemetry\/api\t/))
    // Its CommonJS build requires the rest of the API, which the hook does not see but require.cache does.
    expect(fromOtel(control.required).length).toBeGreaterThan(0)
    console.info(
      `otel-not-loaded: ${plain.resolved.length} modules resolved without otel, ${control.resolved.length} with (${fromOtel(control.resolved).length} of @opentelemetry, ${fromOtel(control.required).length} required)`,
    )
  })
})
