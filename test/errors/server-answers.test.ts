// What a hostile or careless server writes into an error answer — reason phrase, body, headers — over real HTTP
// (a node:http server in front of the package's mock): the error is built from a bounded read in linear time,
// and no secret the client holds appears anywhere the error shows, whichever part of the answer echoed it and in
// whichever encoding.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { inspect } from 'node:util'
import { describe, expect, test } from 'vitest'
import {
  createSessionFetch,
  type ExpiredEvent,
  LoginError,
  LogoutError,
  plantlySessions,
  RefreshError,
  type Session,
} from '../../src/index.js'
import type { PlantlyMockOptions } from '../../src/testing/mock/plantly-mock.js'
import { ADVERSARIAL, everythingSaidAbout } from '../helpers/adversarial.js'
import { apiServer, type Route } from '../helpers/api-server.js'
import { DEMO_USER } from '../helpers/mock-server.js'

// The error of a 1 MiB answer takes a few ms here; a quadratic pattern took seconds at 64 KiB and minutes at this
// size. Generous, for a loaded machine: it catches the stall, not a slow run.
const HANG_DETECTOR_MS = 2_000

/** The mock, with `route` answering first; opaque tokens, so that no token is caught by its shape alone. */
async function plantlyServer(route: Route, options: PlantlyMockOptions = {}) {
  const server = await apiServer(route, { tokenFormat: 'opaque', ...options })
  const plantly = createSessionFetch({
    baseURL: server.url,
    protocol: plantlySessions({ baseURL: server.url, retry: 0 }),
  })
  return { server, plantly }
}

function bearer(req: IncomingMessage): string {
  return (req.headers.authorization ?? '').replace(/^Bearer /, '')
}

/** Answer with this status, reason phrase and JSON body. */
function answer(res: ServerResponse, status: number, reason: string, body: unknown): true {
  res.writeHead(status, reason, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
  return true
}

async function sessionOf(plantly: { getSession(): Promise<Session | undefined> }): Promise<Session> {
  const session = await plantly.getSession()
  if (!session?.refresh_token) throw new Error('no session')
  return session
}

function expectNoneOf(said: string, secrets: readonly (string | undefined)[]): void {
  for (const secret of secrets) {
    if (secret) expect(said).not.toContain(secret)
  }
}

describe('an adversarial 1 MiB error answer: its error is built in well under a second', () => {
  test.each(Object.entries(ADVERSARIAL))(
    '%s, as the reason phrase and the body of a refused login',
    async (_, text) => {
      let hostile = false
      const { plantly } = await plantlyServer((req, res) => {
        if (!hostile || req.method !== 'POST') return false
        return answer(res, 401, text, { code: text, message: text })
      })
      await plantly.login(DEMO_USER) // the session call is loaded and warm
      hostile = true
      const started = performance.now()
      const error = await plantly.login(DEMO_USER).catch((e: unknown) => e)
      const elapsed = performance.now() - started
      expect(error).toMatchObject({ name: 'LoginError', status: 401 })
      expect(elapsed).toBeLessThan(HANG_DETECTOR_MS)
      const cause = (error as LoginError).cause as Error
      expect(cause).toMatchObject({ name: 'ResponseError', status: 401 })
      expect(cause.message.length).toBeLessThan(2_000) // an excerpt, not the text
    },
  )

  test('an error body that never ends is read up to a bound: the LoginError comes at once, the connection is let go', async () => {
    let closed: Promise<unknown> = Promise.resolve()
    const { server } = await plantlyServer((req, res) => {
      if (req.method !== 'POST') return false
      res.writeHead(401, { 'content-type': 'application/json' })
      res.write('{"code":"unauthorized","message":"')
      // Paced, so that a client reading it whole would still be reading at its deadline.
      const timer = setInterval(() => res.write(Buffer.alloc(16_384, 'eyJ')), 5)
      closed = new Promise((resolve) => res.on('close', resolve)).finally(() => clearInterval(timer))
      return true
    })
    // What the session call pulls from the body, counted as it passes (a pipe reads ahead a chunk or two at most).
    let read = 0
    const counted: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      const counter = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          read += chunk.byteLength
          controller.enqueue(chunk)
        },
      })
      return new Response(response.body?.pipeThrough(counter) ?? null, response)
    }
    const plantly = createSessionFetch({ baseURL: server.url, fetch: counted, refreshTimeoutMs: 10_000 })
    const error = await plantly.login(DEMO_USER).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'LoginError', status: 401 })
    await closed // the client cancelled the body: the server sees the connection close
    expect(read).toBeGreaterThan(0)
    expect(read).toBeLessThan(128 * 1024)
  })
})

describe('the reason phrase is redacted like the body', () => {
  test('a refresh answered 503 whose reason phrase and body echo the tokens: nothing shows them', async () => {
    let echo: string[] = []
    const { plantly } = await plantlyServer((req, res) => {
      if (req.method !== 'PUT') return false
      const said = [bearer(req), ...echo].join(' ')
      return answer(res, 503, `Service Unavailable (${said})`, { code: said, message: `tokens ${said}` })
    })
    await plantly.login(DEMO_USER)
    const session = await sessionOf(plantly)
    echo = [session.access_token]
    const error = await plantly.refresh().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshError)
    expect(error).toMatchObject({ status: 503 })
    const said = everythingSaidAbout(error)
    expect(said).toContain('Service Unavailable ([redacted] [redacted])')
    expectNoneOf(said, [session.refresh_token, session.access_token])
  })

  test('a refresh refused 401 whose reason phrase echoes the refresh token: the `expired` event shows none', async () => {
    const { plantly } = await plantlyServer((req, res) => {
      if (req.method !== 'PUT') return false
      return answer(res, 401, `Unauthorized: ${bearer(req)} is spent`, { code: 'invalid_token' })
    })
    await plantly.login(DEMO_USER)
    const session = await sessionOf(plantly)
    const events: ExpiredEvent[] = []
    plantly.on('expired', (event) => events.push(event))
    const error = await plantly.refresh().catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'SessionExpiredError' })
    expect(events).toHaveLength(1)
    const said = [inspect(events, { depth: Number.POSITIVE_INFINITY }), everythingSaidAbout(events[0]?.error)]
    expect(said.join('\n')).toContain('Unauthorized: [redacted] is spent')
    expectNoneOf(said.join('\n') + everythingSaidAbout(error), [session.refresh_token, session.access_token])
  })

  test('a logout answered 500 whose reason phrase echoes the access token: LogoutError shows none', async () => {
    const { plantly } = await plantlyServer((req, res) => {
      if (req.method !== 'DELETE') return false
      return answer(res, 500, `Internal error for ${bearer(req)}`, {})
    })
    await plantly.login(DEMO_USER)
    const session = await sessionOf(plantly)
    const error = await plantly.logout().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LogoutError)
    expectNoneOf(everythingSaidAbout(error), [session.access_token, session.refresh_token])
  })
})

describe('a password echoed in any encoding, anywhere in the answer', () => {
  const email = 'echo@plantly.test'
  const password = 'Pa"ss/w0rd %+ 1'
  const users = { [email]: 'something else' } // every login is refused

  test('reason phrase, code and message; as sent, JSON-escaped, with \\/, percent- and form-encoded', async () => {
    const { plantly } = await plantlyServer(
      (req, res) => {
        if (req.method !== 'POST') return false
        const forms = [
          password,
          JSON.stringify(password).slice(1, -1),
          JSON.stringify(password).slice(1, -1).replaceAll('/', '\\/'),
          encodeURIComponent(password),
          new URLSearchParams({ p: password }).toString().slice(2),
        ]
        return answer(res, 401, `Wrong password ${forms.join(' | ')}`, {
          code: `bad_password_${encodeURIComponent(password)}`,
          message: `wrong password ${forms.join(' | ')}`,
        })
      },
      { users },
    )
    const error = await plantly.login({ email_address: email, password }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'LoginError', status: 401 })
    const said = everythingSaidAbout(error)
    expect(said).toContain('Wrong password [redacted] | [redacted]') // the reason phrase, cut short
    expect(said).toContain('wrong password [redacted] | [redacted] | [redacted] | [redacted] | [redacted]')
    expectNoneOf(said, [password, encodeURIComponent(password), 'Pa%22ss', 'Pa\\"ss', 'w0rd'])
  })

  test('a redirect to a host named after the password (lower-cased by the URL): RedirectError shows none', async () => {
    const hostPassword = 'Hunter2-Secret'
    const { plantly } = await plantlyServer(
      (req, res) => {
        if (req.method !== 'POST') return false
        res.writeHead(307, { location: `http://${hostPassword}.evil.test/auth/sessions` })
        res.end()
        return true
      },
      { users },
    )
    const error = await plantly
      .login({ email_address: email, password: hostPassword })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect((error as LoginError).cause).toMatchObject({ name: 'RedirectError', targetOrigin: '[redacted]' })
    const said = everythingSaidAbout(error).toLowerCase()
    expect(said).toContain('redirected to another origin ([redacted])')
    expect(said).not.toContain(hostPassword.toLowerCase())
  })
})
