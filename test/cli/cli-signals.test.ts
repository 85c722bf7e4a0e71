import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { describe, expect, test } from 'vitest'
import type { MockServer } from '../../src/testing/mock/index.js'
import { CLI } from '../helpers/cli.js'
import { tempFolder } from '../helpers/file-store.js'
import { holdSessionCalls } from '../helpers/held-session-calls.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'
import { until } from '../helpers/redis.js'

// SIGINT and SIGTERM sent to real `session-fetch` processes (the built command) while a session call is at the mock
// (refresh-token rotation and reuse detection on): the call lands and is saved, then the command exits 130 / 143;
// the next run works. The mock holds the call until the process has taken the signal (a refresh then still takes
// its 1 s), so the signal always arrives while the call is under way. Waits are bounded only to detect hangs.
const HANG_DETECTOR_MS = 150_000
const STARTUP_MS = 60_000 // a CLI process starting on a loaded machine (a hang detector)

interface Ended {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

interface Running {
  child: ChildProcessWithoutNullStreams
  stderr(): string
  ended: Promise<Ended>
}

function start(args: string[], env: Record<string, string | undefined>): Running {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, PLANTLY_PASSWORD: undefined, SESSION_FETCH_BASE_URL: undefined, ...env },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  child.stdin.end()
  const ended = new Promise<Ended>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`session-fetch ${args.join(' ')} did not finish`))
    }, HANG_DETECTOR_MS)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, stderr: () => stderr, ended }
}

/**
 * Start `args` with the next `call` held at the server; once it is there (and `meanwhile` is done: e.g. other
 * processes now wait for this one's lock), send `signal`, and let the server act on the call only once the
 * command said it finishes it. Resolves with how the command ended.
 */
async function signalDuring(
  server: MockServer,
  env: Record<string, string>,
  args: string[],
  call: 'login' | 'refresh' | 'logout',
  signal: NodeJS.Signals,
  meanwhile: () => Promise<unknown> = async () => undefined,
): Promise<Ended & { held: () => number }> {
  const held = holdSessionCalls(server, call)
  const running = start(args, env)
  await until(() => held.arrived() === 1, `the ${call} to reach the server`, STARTUP_MS)
  await meanwhile()
  expect(server.counters).toMatchObject({ refreshes: 0, logouts: 0 }) // not acted on yet
  running.child.kill(signal)
  await until(() => running.stderr().includes('finishing'), 'the signal to be handled', STARTUP_MS)
  held.release()
  return { ...(await running.ended), held: held.arrived }
}

const run = (args: string[], env: Record<string, string | undefined>) => start(args, env).ended

async function setup(options: Parameters<typeof mockServer>[0] = {}) {
  const server = await mockServer(options)
  const env = { XDG_STATE_HOME: await tempFolder('cli-signals') }
  const login = () =>
    run(['login', '--base-url', server.url, '--email', DEMO_USER.email_address, '--store', 'file'], {
      ...env,
      PLANTLY_PASSWORD: DEMO_USER.password,
    })
  return { server, env, login }
}

/** What the server counted, for the report. */
function counts(server: MockServer) {
  const { refreshes, reuseDetected, refreshRejected } = server.counters
  return { refreshes, reuseDetected, refreshRejected, liveSessions: server.mock.liveSessions() }
}

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const

/**
 * The command said it finishes the call; the call's own success line may follow (it lands while the handler
 * closes the store), nothing else.
 */
function expectFinished(stderr: string, call: string, success: RegExp): void {
  const [first, ...rest] = stderr.trimEnd().split('\n')
  expect(first).toBe(`session-fetch: finishing the session ${call}… (interrupt again to stop now)`)
  for (const line of rest) expect(line).toMatch(success)
}

describe('a signal while `session-fetch api` refreshes the session', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal}: the refresh lands and is saved, the command exits ${EXIT_CODES[signal]}, the next run uses the new session (0 reuse)`, async () => {
      const { server, env, login } = await setup({ refreshLatencyMs: 1_000 })
      expect((await login()).code).toBe(0)
      server.mock.expireAccessTokens() // the next call meets a 401 and refreshes
      const ended = await signalDuring(server, env, ['api', '/buyers'], 'refresh', signal)
      expect(ended).toMatchObject({ code: EXIT_CODES[signal], signal: null, stdout: '' })
      expect(ended.stderr).toBe(
        'session-fetch: finishing the session refresh… (interrupt again to stop now)\n',
      )
      expect(server.counters.refreshes).toBe(1)

      const next = await run(['api', '/buyers'], env)
      expect(next.code).toBe(0)
      expect(JSON.parse(next.stdout)).toMatchObject({ ok: true, path: '/buyers' })
      const after = counts(server)
      expect(after).toEqual({ refreshes: 1, reuseDetected: 0, refreshRejected: 0, liveSessions: 1 })
      console.info(`cli ${signal} during the refresh: ${JSON.stringify(after)}`)
    }, 300_000)
  }

  test('a second signal exits at once, without waiting for the refresh', async () => {
    const { server, env, login } = await setup()
    expect((await login()).code).toBe(0)
    server.mock.expireAccessTokens()
    server.inject({ on: 'refresh', hang: true }) // never answered: only the client's 10 s deadline ends it
    const interrupted = start(['api', '/buyers'], env)
    await until(() => server.counters.faultsServed === 1, 'the refresh to reach the server', STARTUP_MS)
    interrupted.child.kill('SIGINT')
    await until(
      () => interrupted.stderr().includes('finishing'),
      'the first signal to be handled',
      STARTUP_MS,
    )
    const second = performance.now()
    interrupted.child.kill('SIGINT')

    const ended = await interrupted.ended
    const afterSecond = performance.now() - second
    expect(ended.code).toBe(130)
    expect(ended.stderr).toBe(
      'session-fetch: finishing the session refresh… (interrupt again to stop now)\n' +
        'session-fetch: stopped before the session refresh was saved\n',
    )
    // A hang detector, half the 10 s the first signal would have waited for: the figure is reported below.
    expect(afterSecond).toBeLessThan(5_000)
    console.info(`cli: exited ${Math.round(afterSecond)} ms after the second SIGINT`)
  }, 300_000)

  test('with no session call under way a signal exits at once: SIGINT 130, SIGTERM 143, nothing said', async () => {
    const { server, env, login } = await setup()
    expect((await login()).code).toBe(0)
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const served = server.counters.faultsServed
      server.inject({ on: 'api', delayMs: 60_000 }) // the API call itself is slow: no session call under way
      const waiting = start(['api', `/slow-${signal}`], env)
      await until(
        () => server.counters.faultsServed === served + 1,
        'the API call to reach the server',
        STARTUP_MS,
      )
      waiting.child.kill(signal)
      expect(await waiting.ended).toMatchObject({ code: EXIT_CODES[signal], signal: null, stderr: '' })
    }
    expect(server.counters).toMatchObject({ refreshes: 0, reuseDetected: 0 })
  }, 300_000)
})

describe('a signal during `session-fetch login` and `logout`', () => {
  test('SIGTERM while the login is at the server: it lands and is saved (session and profile), exit 143; the next runs work', async () => {
    const { server, env } = await setup()
    const args = ['login', '--base-url', server.url, '--email', DEMO_USER.email_address, '--store', 'file']
    const withPassword = { ...env, PLANTLY_PASSWORD: DEMO_USER.password }
    const ended = await signalDuring(server, withPassword, args, 'login', 'SIGTERM')
    expect(ended).toMatchObject({ code: 143, signal: null })
    expectFinished(ended.stderr, 'login', /^Logged in as demo@plantly\.test at /)

    const status = await run(['status'], env) // the base URL comes from the saved profile
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^session +active$/m)
    expect(status.stdout).toMatch(/^user +demo@plantly\.test$/m)
    expect((await run(['api', '/buyers'], env)).code).toBe(0)
    expect(server.counters).toMatchObject({ logins: 1, reuseDetected: 0 })
    expect(server.mock.liveSessions()).toBe(1)
  }, 300_000)

  test('SIGINT while the logout is at the server: it completes, exit 130; the session is ended there and here', async () => {
    const { server, env, login } = await setup()
    expect((await login()).code).toBe(0)
    const ended = await signalDuring(server, env, ['logout'], 'logout', 'SIGINT')
    expect(ended).toMatchObject({ code: 130, signal: null })
    expectFinished(ended.stderr, 'logout', /^Logged out \(profile default\)$/)
    expect(server.counters.logouts).toBe(1)
    expect(server.mock.liveSessions()).toBe(0)
    const status = await run(['status'], env)
    expect(status.code).toBe(3)
    expect(status.stdout).toMatch(/^session +none \(logged out\)$/m)
  }, 300_000)
})

describe('three `session-fetch api` processes on one profile', () => {
  test('SIGTERM to the one whose refresh is at the server: it lands, the two others use it, 0 reuse, the session stays live', async () => {
    const { server, env, login } = await setup({ refreshLatencyMs: 1_000 })
    expect((await login()).code).toBe(0)
    server.mock.expireAccessTokens()
    let others: Running[] = []
    const ended = await signalDuring(server, env, ['api', '/holder'], 'refresh', 'SIGTERM', async () => {
      others = [start(['api', '/other-1'], env), start(['api', '/other-2'], env)]
      // Each meets the expiry (a 401) and waits for the lock the first one holds.
      await until(() => server.counters.apiUnauthorized === 3, 'the others to meet the expiry', STARTUP_MS)
    })
    expect(ended).toMatchObject({ code: 143, signal: null })
    expect(ended.stderr).toContain('finishing the session refresh…')
    const rest = await Promise.all(others.map((other) => other.ended))
    expect(rest.map((other) => other.code)).toEqual([0, 0])
    for (const other of rest) expect(JSON.parse(other.stdout)).toMatchObject({ ok: true })
    const after = counts(server)
    expect(after).toEqual({ refreshes: 1, reuseDetected: 0, refreshRejected: 0, liveSessions: 1 })
    expect(ended.held()).toBe(1) // the two others sent no refresh of their own
    console.info(`cli rolling stop, 3 processes: ${JSON.stringify(after)}`)
  }, 300_000)
})

describe('Ctrl-C at the password prompt (a pseudo-terminal: util-linux `script`)', () => {
  test('exits 130 and leaves the terminal echoing', async () => {
    const { server, env } = await setup()
    const login = [process.execPath, CLI, 'login', '--base-url', server.url]
      .concat(['--email', DEMO_USER.email_address])
      .map((word) => `'${word}'`)
      .join(' ')
    // The shell under the pty reports the command's exit code, then the terminal's settings after it.
    const child = spawn('script', ['-qec', `${login}; echo "exit=$?"; stty -a`, '/dev/null'], {
      env: { ...process.env, PLANTLY_PASSWORD: undefined, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    let screen = ''
    let typed = false
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk
      if (!typed && screen.includes('/auth/sessions): ')) {
        typed = true
        child.stdin.write('\x03') // Ctrl-C, as the terminal sends it
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), HANG_DETECTOR_MS)
    await new Promise((resolve) => child.on('close', resolve))
    clearTimeout(timer)
    child.stdin.end()

    expect(typed).toBe(true)
    expect(screen).toMatch(/exit=130\b/)
    const settings = screen.slice(screen.indexOf('exit=130'))
    expect(settings).toMatch(/(^|[\s;])echo([\s;]|$)/m) // not "-echo"
    expect(settings).toMatch(/(^|[\s;])icanon([\s;]|$)/m) // line editing back, not raw
    expect(screen).not.toContain('session-fetch:') // nothing more to say
    expect(server.counters.logins + server.counters.loginFailures).toBe(0)
  }, 300_000)
})
