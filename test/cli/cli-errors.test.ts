// What the `session-fetch` command prints on stderr when a session call fails with an answer that echoes the
// tokens (the reason phrase and the body of a refresh's 503, from a node:http server in front of the mock): the
// error line and, with --verbose, its stack show neither token. Real processes, as in cli.test.ts.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { fileStore } from '../../src/stores/file/index.js'
import { apiServer } from '../helpers/api-server.js'
import { CLI } from '../helpers/cli.js'
import { tempFolder } from '../helpers/file-store.js'
import { DEMO_USER } from '../helpers/mock-server.js'

const HANG_DETECTOR_MS = 150_000

function cli(args: string[], env: Record<string, string | undefined>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, PLANTLY_PASSWORD: undefined, SESSION_FETCH_BASE_URL: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`session-fetch ${args.join(' ')} did not finish`))
    }, HANG_DETECTOR_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

test('a refresh answered 503 whose reason phrase and body echo the tokens: stderr shows neither, stack included', async () => {
  let echo: string[] = []
  const server = await apiServer(
    (req, res) => {
      if (req.method !== 'PUT' || echo.length === 0) return false
      const said = [req.headers.authorization ?? '', ...echo].join(' ')
      res.writeHead(503, `Service Unavailable (${said})`, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ code: 'unavailable', message: `cannot renew ${said}` }))
      return true
    },
    { tokenFormat: 'opaque' },
  )
  const state = await tempFolder('cli-errors')
  const env = { XDG_STATE_HOME: state }
  const login = await cli(['login', '--base-url', server.url, '--email', DEMO_USER.email_address], {
    ...env,
    PLANTLY_PASSWORD: DEMO_USER.password,
  })
  expect(login.code).toBe(0)
  const store = fileStore({ path: join(state, 'session-fetch', 'default.json') })
  const session = (await store.read()).record?.session
  store.close()
  if (!session?.refresh_token) throw new Error('no session stored')
  echo = [session.access_token, session.refresh_token]
  server.mock.expireAccessTokens() // the next call meets a 401 and refreshes

  const run = await cli(['api', '/buyers', '--verbose'], env)
  expect(run.code).toBe(1)
  // --verbose traces the requests first (redacted too); the error line follows.
  expect(run.stderr).toMatch(/^session-fetch: Session refresh could not complete \(ResponseError: .*503/m)
  expect(run.stderr).toContain('Service Unavailable ([redacted] [redacted]')
  expect(run.stderr).toContain('cannot renew [redacted] [redacted] [redacted]')
  expect(run.stderr).toMatch(/\n {4}at /) // --verbose: the stack is there
  for (const token of [session.access_token, session.refresh_token]) {
    expect(run.stdout + run.stderr).not.toContain(token)
  }
}, 300_000)

test('a --base-url with a password and a -H with a credential are refused without echoing either', async () => {
  const secret = 'S3cr3t-hunter2-Pa55'
  const env = { XDG_STATE_HOME: await tempFolder('cli-errors'), PLANTLY_PASSWORD: 'pw' }
  for (const baseURL of [`https://user:${secret}@api.test`, `https://user:${secret}@api test`]) {
    const run = await cli(['login', '--base-url', baseURL, '--email', 'me@example.com'], env)
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^session-fetch: Invalid option `baseURL`: /)
    expect(run.stderr).not.toContain(secret)
  }
  for (const [header, said] of [
    [`Authorization Bearer ${secret}`, '-H: expected "Name: value" with a valid name and value\n'],
    [
      `Authorization: Bearer ${secret}\nX-Injected: 1`,
      '-H: expected "Name: value" with a valid name and value (header Authorization)\n',
    ],
  ] as const) {
    const run = await cli(['api', '/buyers', '-H', header], env)
    expect(run).toMatchObject({ code: 2, stderr: `session-fetch: ${said}` })
  }
}, 300_000)
