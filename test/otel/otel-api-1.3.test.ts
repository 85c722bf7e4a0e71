// session-fetch/otel on the oldest `@opentelemetry/api` its peer range admits, 1.3.0 (the devDependency alias
// `otel-api-1.3`): src/otel and a small app (test/helpers/otel-api-scenario.ts) bundled with the API mapped to it,
// run in a child process with the SDK 2.x, which keeps its own API 1.9 (the providers are passed to otel(), the
// context manager is registered through API 1.3); then with the SDK bundled in on 1.3.0 too. The same bundle on
// API 1.9 is the reference.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { build, type Metafile, type Plugin } from 'esbuild'
import { afterAll, describe, expect, test } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../..')
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

interface RecordedSpan {
  name: string
  kind: number
  spanId: string
  traceId: string
  parentSpanId?: string
  status: number
  attributes: Record<string, unknown>
  events: { name: string; attributes?: Record<string, unknown> }[]
}
type Points = { attributes: Record<string, unknown>; value?: number; count?: number; boundaries?: number[] }[]
interface Recorded {
  registered: boolean
  apiVersion: string
  statuses: number[]
  stats: { refreshes: number; replays: number; logins: number }
  spans: RecordedSpan[]
  metrics: Record<string, Points>
  global: {
    registered: { tracer: boolean; meter: boolean }
    spans: RecordedSpan[]
    metrics: Record<string, Points>
  }
}

/** `@opentelemetry/api`, imported by src/otel and by the app, resolved to API 1.3.0 and bundled in. */
const api13: Plugin = {
  name: 'otel-api-1.3',
  setup(on) {
    on.onResolve({ filter: /^@opentelemetry\/api$/ }, () => ({
      path: join(ROOT, 'node_modules/otel-api-1.3/build/esm/index.js'),
    }))
  },
}

const folders: string[] = []
afterAll(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))))

/**
 * `1.3`: session-fetch and the app on API 1.3.0, the SDK on its own 1.9; `1.3 everywhere`: the SDK bundled in too,
 * on 1.3.0 as well (as in an app whose only API is 1.3; sdk-metrics 2.x asks for 1.9 in its peer range, yet runs);
 * `1.9`: the reference.
 */
type Setup = '1.3' | '1.3 everywhere' | '1.9'

async function runScenario(api: Setup): Promise<{ recorded: Recorded; inputs: string[] }> {
  const folder = await mkdtemp(join(tmpdir(), 'session-fetch-otel-api-'))
  folders.push(folder)
  await symlink(join(ROOT, 'node_modules'), join(folder, 'node_modules')) // the SDK, and the core's packages
  const result = await build({
    entryPoints: [join(ROOT, 'test/helpers/otel-api-scenario.ts')],
    absWorkingDir: ROOT,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    ...(api === '1.3 everywhere'
      ? {
          // Every package bundled: the SDK's CommonJS builds require Node's modules through this.
          mainFields: ['module', 'main'],
          banner: {
            js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
          },
        }
      : { packages: 'external' as const }),
    plugins: api === '1.9' ? [] : [api13],
    outfile: join(folder, 'scenario.mjs'),
    metafile: true,
    logLevel: 'silent',
  })
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (done, fail) => {
      const child = spawn(process.execPath, [join(folder, 'scenario.mjs')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
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
  expect(stderr, `API ${api}`).toBe('')
  expect(code, `API ${api}`).toBe(0)
  return {
    recorded: JSON.parse(stdout) as Recorded,
    inputs: Object.keys((result.metafile as Metafile).inputs),
  }
}

const named = (spans: RecordedSpan[], name: string) => spans.filter((span) => span.name === name)
const one = (spans: RecordedSpan[], name: string) => {
  const found = named(spans, name)
  expect(found, name).toHaveLength(1)
  return found[0] as RecordedSpan
}
const sum = (points: Points | undefined, where: Record<string, unknown> = {}) =>
  (points ?? [])
    .filter((point) => Object.entries(where).every(([key, value]) => point.attributes[key] === value))
    .reduce((total, point) => total + (point.value ?? point.count ?? 0), 0)

/** What both APIs must record of the scenario. */
function expectRecorded(recorded: Recorded, api: string) {
  expect(recorded.registered, `${api}: the context manager registered`).toBe(true)
  expect(recorded.statuses).toEqual([200, 200, 200, 200, 200, 200])
  expect(recorded.stats).toMatchObject({ logins: 1, refreshes: 2, replays: 1 })
  const { spans } = recorded

  // Each session call's span, with its attributes, its parent the caller's span.
  const login = one(spans, 'session-fetch login')
  expect(login.kind).toBe(SpanKind.CLIENT)
  expect(login.attributes).toMatchObject({
    'session_fetch.trigger': 'manual',
    'server.address': '127.0.0.1',
    'http.response.status_code': 200,
  })
  const signIn = one(spans, 'POST /sign-in')
  expect(login.parentSpanId).toBe(signIn.spanId)
  expect(login.traceId).toBe(signIn.traceId)

  const refreshes = named(spans, 'session-fetch refresh')
  expect(refreshes.map((span) => span.attributes['session_fetch.trigger'])).toEqual(['due', 'unauthorized'])
  const [due, unauthorized] = refreshes as [RecordedSpan, RecordedSpan]
  expect(due.attributes).toMatchObject({ 'session_fetch.waiters': 5, 'http.response.status_code': 200 })
  expect(typeof due.attributes['server.port']).toBe('number')
  expect(due.status).not.toBe(SpanStatusCode.ERROR)
  const dashboard = one(spans, 'GET /dashboard')
  expect(due.parentSpanId).toBe(dashboard.spanId)
  const report = one(spans, 'GET /report')
  expect(unauthorized.parentSpanId).toBe(report.spanId)
  const logout = one(spans, 'session-fetch logout')
  expect(logout.parentSpanId).toBe(one(spans, 'POST /sign-out').spanId)

  // The events on the caller's span: a wait for each of the five requests, the replay.
  const waits = dashboard.events.filter((event) => event.name === 'session-fetch.wait')
  expect(waits).toHaveLength(5)
  for (const wait of waits) expect(wait.attributes?.['session_fetch.wait.duration']).toBeGreaterThan(0)
  expect(report.events.map((event) => event.name)).toContain('session-fetch.replay')

  // The metrics.
  const { metrics } = recorded
  expect(sum(metrics['session_fetch.refreshes'], { 'session_fetch.trigger': 'due' })).toBe(1)
  expect(sum(metrics['session_fetch.refreshes'], { 'session_fetch.trigger': 'unauthorized' })).toBe(1)
  expect(sum(metrics['session_fetch.refreshes'], { 'session_fetch.outcome': 'ok' })).toBe(2)
  expect(sum(metrics['session_fetch.refresh.duration'])).toBe(2)
  expect(sum(metrics['session_fetch.logins'], { 'session_fetch.outcome': 'ok' })).toBe(1)
  expect(sum(metrics['session_fetch.replays'])).toBe(1)
  expect(sum(metrics['session_fetch.wait.duration'])).toBeGreaterThanOrEqual(5)

  // The global providers, registered through the same API, used by otel() without options.
  expect(recorded.global.registered).toEqual({ tracer: true, meter: true })
  expect(named(recorded.global.spans, 'session-fetch login')).toHaveLength(1)
  expect(
    named(recorded.global.spans, 'session-fetch refresh').map((s) => s.attributes['session_fetch.trigger']),
  ).toEqual(['manual'])
  expect(sum(recorded.global.metrics['session_fetch.logins'])).toBe(1)
  expect(sum(recorded.global.metrics['session_fetch.refreshes'])).toBe(1)
}

describe('session-fetch/otel on @opentelemetry/api 1.3.0', () => {
  test('spans with their attributes under the caller’s span, events, metrics; as on API 1.9', async () => {
    const [on13, everywhere, on19] = await Promise.all([
      runScenario('1.3'),
      runScenario('1.3 everywhere'),
      runScenario('1.9'),
    ])

    // The bundles hold the API they were meant to: 1.3.0 bundled in, or 1.9 left to Node.
    expect(on13.inputs.some((input) => input.startsWith('node_modules/otel-api-1.3/'))).toBe(true)
    expect(on13.inputs.filter((input) => input.includes('node_modules/@opentelemetry/'))).toEqual([])
    expect(on19.inputs.filter((input) => input.includes('node_modules/otel-api-1.3/'))).toEqual([])
    // With the SDK bundled in, on 1.3.0 too: no other API in the bundle.
    expect(
      everywhere.inputs.some((input) => input.startsWith('node_modules/@opentelemetry/sdk-trace-base/')),
    ).toBe(true)
    expect(
      everywhere.inputs.some((input) => input.startsWith('node_modules/@opentelemetry/sdk-metrics/')),
    ).toBe(true)
    expect(everywhere.inputs.filter((input) => input.startsWith('node_modules/@opentelemetry/api/'))).toEqual(
      [],
    )
    // The global registrations were made by the API each run used.
    expect(on13.recorded.apiVersion).toBe('1.3.0')
    expect(everywhere.recorded.apiVersion).toBe('1.3.0')
    expect(on19.recorded.apiVersion).toMatch(/^1\.9\./)

    expectRecorded(on19.recorded, 'API 1.9')
    expectRecorded(on13.recorded, 'API 1.3')
    expectRecorded(everywhere.recorded, 'API 1.3 everywhere')

    // Histogram advice (explicit bucket boundaries, API 1.7+): the SDK given the provider reads it from the
    // options whichever API session-fetch was built against.
    for (const { recorded } of [on13, everywhere, on19]) {
      const [point] = recorded.metrics['session_fetch.refresh.duration'] ?? []
      expect(point?.boundaries).toEqual(SECONDS)
    }
  })
})
