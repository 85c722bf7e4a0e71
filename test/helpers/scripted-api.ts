import { createHash, randomBytes } from 'node:crypto'
import { type TokenEntry, TokenLedger } from '../../src/testing/mock/token-ledger.js'

/**
 * A scriptable, in-process Plantly Sessions API behind a `fetch` transport function, for the property-based
 * and soak tests. Unlike the HTTP mock it answers nothing by itself (unless `autoDeliver` is set): every call
 * the client makes waits in `pending()` until the test delivers it, with a fault of its choosing. That gives
 * the test full control over interleavings, and a single clock (`Date.now`, faked by the tests) for both sides.
 *
 * Tokens are crafted, unsigned JWTs (or opaque strings) so that nothing asynchronous happens on the server. What
 * the server knows of them (families, rotation, reuse detection, revocation) is the embedded mock's own model,
 * `TokenLedger`: this class adds only the scheduling and the faults.
 */

export type TokenFormat = 'jwt' | 'jwt-no-iat' | 'jwt-no-exp' | 'opaque'
/** What the Session's `expires_in` says: the real TTL, nothing, a string, or a negative number. */
export type ExpiresInStyle = 'ttl' | 'missing' | 'string' | 'negative'

/** What the server does with a delivered call. Faults that do not apply to a call's kind answer normally. */
export type Fault =
  | 'ok'
  | '500'
  | '502'
  | '503'
  | '429'
  | '400'
  | '401'
  | '403'
  | 'drop' // connection closed before the server processed it
  | 'drop-after' // processed (tokens rotated), then the connection closed: the answer is lost
  | 'hang' // never answered: only the caller's signal (the refresh timeout) ends it
  | 'html'
  | 'no-access-token'
  | 'crlf-token'

export type ExchangeKind = 'login' | 'refresh' | 'logout' | 'api' | 'foreign'

export interface ScriptedApiOptions {
  /** e.g. 'https://api.test/v1'; the Sessions resource is `${baseURL}/auth/sessions`. */
  baseURL: string
  /** Origins (besides baseURL's) that serve the protected API. */
  apiOrigins?: readonly string[]
  ttlSeconds: number
  refreshTtlSeconds?: number
  tokenFormat?: TokenFormat
  expiresIn?: ExpiresInStyle
  /** The server's clock minus the client's, in ms. */
  skewMs?: number
  /** email → password. */
  users?: Record<string, string>
  /** Answer every call at once (microtask) with `ok`: for the soak. */
  autoDeliver?: boolean
  /** Keep settled exchanges in `history`, and dead tokens in `tokens` (both off for the soak). @default true */
  record?: boolean
}

/** What the server knows of a token (the mock's model). */
export type TokenInfo = TokenEntry

export interface ExchangeBody {
  hash: string
  contentType: string | null
  length: number
  text: string
}

/** One transport call, as the server saw it. */
export interface Exchange {
  readonly id: number
  readonly kind: ExchangeKind
  readonly method: string
  readonly url: string
  readonly headers: Headers
  /** The Bearer token presented, if any. */
  readonly token: string | undefined
  readonly callId: string | null
  /** Who sent it, when it came through `transport(tag)`. */
  readonly tag: string | undefined
  readonly sentAt: number
  readonly body: Promise<ExchangeBody>
  /** The body, when it was a string (known at once: login calls). */
  readonly text: string | undefined
  state: 'pending' | 'hung' | 'answered' | 'failed' | 'aborted'
  /** The fault it was delivered with (after `applicable`), once delivered. */
  fault?: Fault
  status?: number
  response?: Response
  error?: unknown
  /** When the client gave up on it or got its answer. */
  settledAt?: number
  /** The id of the last exchange sent when this one settled: later ids were sent after it settled. */
  settledAfter?: number
  /** A refresh whose token had already been rotated: the id of the exchange that rotated it (reuse detected). */
  reuseOf?: number
}

interface Pending {
  exchange: Exchange
  resolve: (response: Response) => void
  reject: (error: unknown) => void
  cleanup: () => void
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class ScriptedApi {
  readonly options: Required<ScriptedApiOptions>
  readonly sessionsURL: string
  readonly ledger: TokenLedger
  /** Every token issued, with what the server knows of it. */
  readonly tokens: Map<string, TokenInfo>
  readonly history: Exchange[] = []
  readonly counters = { exchanges: 0, refreshes: 0, refreshRejected: 0, reuseDetected: 0, logins: 0 }
  /** Called synchronously when the client sends something, before anything else happens. */
  onSend: ((exchange: Exchange) => void) | undefined
  /** Called when an exchange settles (answered, failed, aborted). */
  onSettle: ((exchange: Exchange) => void) | undefined
  #pending: Pending[] = []
  #nextExchange = 1
  #apiOrigins: Set<string>
  #originPrefix: string[]

  constructor(options: ScriptedApiOptions) {
    this.options = {
      apiOrigins: [],
      refreshTtlSeconds: 86_400,
      tokenFormat: 'jwt',
      expiresIn: 'ttl',
      skewMs: 0,
      users: { 'demo@plantly.test': 'plantly', 'robot@plantly.test': 'beep' },
      autoDeliver: false,
      record: true,
      ...options,
    }
    this.ledger = new TokenLedger({ forgetSpent: !this.options.record })
    this.tokens = this.ledger.tokens
    this.sessionsURL = `${this.options.baseURL.replace(/\/$/, '')}/auth/sessions`
    this.#apiOrigins = new Set([new URL(this.options.baseURL).origin, ...this.options.apiOrigins])
    this.#originPrefix = [...this.#apiOrigins]
  }

  /** The server's clock. */
  now(): number {
    return Date.now() + this.options.skewMs
  }

  /** Calls waiting for `deliver` (hung ones excluded). */
  pending(): Exchange[] {
    return this.#pending.filter((p) => p.exchange.state === 'pending').map((p) => p.exchange)
  }

  /** The oldest pending call (throws when there is none). */
  next(kind?: ExchangeKind): Exchange {
    const found = this.pending().find((exchange) => kind === undefined || exchange.kind === kind)
    if (!found) throw new Error(`no pending ${kind ?? ''} call`)
    return found
  }

  /** Calls the server has not answered yet, hung ones included. */
  inFlight(kind?: ExchangeKind, only?: (exchange: Exchange) => boolean): number {
    let n = 0
    for (const p of this.#pending) {
      if ((kind === undefined || p.exchange.kind === kind) && (only === undefined || only(p.exchange))) n++
    }
    return n
  }

  familyOf(token: string | undefined): number | undefined {
    return token === undefined ? undefined : this.tokens.get(token)?.family
  }

  /**
   * The session families still live on the server: not revoked (logout, reuse detection, `revokeAll`), and
   * holding a refresh token that is unused and unexpired, or an access token that still works. Family 0 (the
   * tokens of a malformed answer) is never a session.
   */
  liveFamilies(): number[] {
    return this.ledger.liveFamilies(this.now(), { byAccess: true })
  }

  /** Every access token issued so far stops working now (the client is not told). */
  expireAccessTokens(): void {
    this.ledger.expireAccessTokens(this.now())
  }

  /** Every session ends: its tokens, access and refresh, stop working. */
  revokeAll(): void {
    this.ledger.revokeAll()
  }

  /** The transport: hand this to `createSessionFetch({ fetch })`. */
  readonly fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
    this.#send(input, init, undefined)

  /** The transport, marking every exchange with `tag` (to tell clients sharing the server apart). */
  transport(tag: string): typeof globalThis.fetch {
    return (input, init) => this.#send(input, init, tag)
  }

  #send(input: RequestInfo | URL, init: RequestInit | undefined, tag: string | undefined): Promise<Response> {
    const request = typeof input === 'object' && 'url' in input && 'method' in input ? input : undefined
    const url = request ? request.url : String(input)
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase()
    const headers = new Headers(init?.headers ?? request?.headers)
    const signal = init?.signal ?? request?.signal ?? undefined
    if (signal?.aborted) return Promise.reject(signal.reason)
    // Read the body the way fetch would; a body that cannot be sent (a used stream) fails the call like fetch.
    let body: Promise<ExchangeBody>
    try {
      body = readBody(request, init, headers)
    } catch (error) {
      return Promise.reject(error)
    }
    body.catch(() => undefined)
    const authorization = headers.get('authorization')
    const match = authorization === null ? null : /^Bearer (.+)$/.exec(authorization)
    const exchange: Exchange = {
      id: this.#nextExchange++,
      kind: this.#classify(url, method, headers.get('x-call')),
      method,
      url,
      headers,
      token: match?.[1],
      callId: headers.get('x-call'),
      tag,
      sentAt: Date.now(),
      body,
      text: typeof init?.body === 'string' ? init.body : undefined,
      state: 'pending',
    }
    this.counters.exchanges++
    if (this.options.record) this.history.push(exchange)
    this.onSend?.(exchange)
    return new Promise<Response>((resolve, reject) => {
      const onAbort = () => {
        this.#remove(entry)
        exchange.state = 'aborted'
        exchange.error = signal?.reason
        exchange.settledAt = Date.now()
        exchange.settledAfter = this.#nextExchange - 1
        this.onSettle?.(exchange)
        reject(signal?.reason)
      }
      const entry: Pending = {
        exchange,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#pending.push(entry)
      if (this.options.autoDeliver) queueMicrotask(() => void this.deliver(exchange, 'ok'))
    })
  }

  /** Answer a pending call, applying `fault` when it fits the call's kind. */
  async deliver(exchange: Exchange, fault: Fault = 'ok'): Promise<void> {
    const entry = this.#pending.find((p) => p.exchange === exchange)
    if (!entry || exchange.state !== 'pending') return
    let bytes: ExchangeBody | undefined
    try {
      bytes = await exchange.body
    } catch (error) {
      return this.#fail(entry, error)
    }
    if ((exchange.state as Exchange['state']) !== 'pending') return // aborted while the body was read
    const applied = applicable(exchange.kind, fault)
    exchange.fault = applied
    if (applied === 'hang') {
      exchange.state = 'hung'
      return
    }
    if (applied === 'drop') return this.#fail(entry, new TypeError('fetch failed'))
    const answer = this.#answer(exchange, applied, bytes)
    if (applied === 'drop-after') return this.#fail(entry, new TypeError('fetch failed'))
    this.#remove(entry)
    exchange.state = 'answered'
    exchange.status = answer.status
    exchange.response = answer
    exchange.settledAt = Date.now()
    exchange.settledAfter = this.#nextExchange - 1
    this.onSettle?.(exchange)
    entry.resolve(answer)
  }

  #fail(entry: Pending, error: unknown): void {
    this.#remove(entry)
    entry.exchange.state = 'failed'
    entry.exchange.error = error
    entry.exchange.settledAt = Date.now()
    entry.exchange.settledAfter = this.#nextExchange - 1
    this.onSettle?.(entry.exchange)
    entry.reject(error)
  }

  #remove(entry: Pending): void {
    entry.cleanup()
    const index = this.#pending.indexOf(entry)
    if (index !== -1) this.#pending.splice(index, 1)
  }

  #classify(url: string, method: string, callId: string | null): ExchangeKind {
    let origin = this.#originPrefix.find((prefix) => url.startsWith(`${prefix}/`))
    if (origin === undefined) {
      try {
        origin = new URL(url).origin
      } catch {
        return 'foreign'
      }
    }
    const path = url.split(/[?#]/)[0] as string
    // A caller's own request to the Sessions URL (tests tag those with x-call) is not a session call.
    if (path === this.sessionsURL && callId === null) {
      if (method === 'POST') return 'login'
      if (method === 'PUT') return 'refresh'
      if (method === 'DELETE') return 'logout'
    }
    return this.#apiOrigins.has(origin) ? 'api' : 'foreign'
  }

  #answer(exchange: Exchange, fault: Fault, body: ExchangeBody): Response {
    const extra = { 'x-exchange': String(exchange.id) }
    switch (fault) {
      case '500':
      case '502':
      case '503':
      case '429':
      case '400':
      case '401':
      case '403': {
        const status = Number(fault)
        if (exchange.kind === 'refresh')
          this.counters.refreshRejected += status < 500 && status !== 429 ? 1 : 0
        return errorResponse(status, status === 429 ? { ...extra, 'retry-after': '1' } : extra)
      }
      case 'html':
        return new Response('<html><body>502 Bad Gateway</body></html>', {
          status: 200,
          headers: { 'content-type': 'text/html', ...extra },
        })
      case 'no-access-token':
        return json(200, { type: 'auth.session', token_type: 'bearer', expires_in: 60 }, extra)
      case 'crlf-token':
        return json(
          200,
          {
            type: 'auth.session',
            token_type: 'bearer',
            access_token: `${this.#mint(0, 'access', 60)}\r\nX-Injected: 1`,
            refresh_token: this.#mint(0, 'refresh', 60),
            expires_in: 60,
          },
          extra,
        )
      default:
        break
    }
    switch (exchange.kind) {
      case 'login':
        return this.#login(exchange, body, extra)
      case 'refresh':
        return this.#refresh(exchange, extra)
      case 'logout': {
        const info = this.ledger.access(exchange.token, this.now())
        if (!info) return errorResponse(401, extra)
        this.ledger.revoke(info.family)
        return new Response(null, { status: 204, headers: extra })
      }
      case 'api': {
        if (!this.ledger.access(exchange.token, this.now())) return errorResponse(401, extra)
        if (!this.options.record) return new Response(null, { status: 200 }) // the soak: cheapest answer
        return json(200, { ok: true, call: exchange.callId, exchange: exchange.id }, extra)
      }
      default:
        return json(200, { ok: true, foreign: true, exchange: exchange.id }, extra)
    }
  }

  #login(exchange: Exchange, body: ExchangeBody, extra: Record<string, string>): Response {
    let credentials: { email_address?: unknown; password?: unknown } | undefined
    try {
      credentials = JSON.parse(body.text) as typeof credentials
    } catch {
      credentials = undefined
    }
    const email = credentials?.email_address
    if (typeof email !== 'string' || typeof credentials?.password !== 'string')
      return errorResponse(400, extra)
    if (this.options.users[email] !== credentials.password) return errorResponse(401, extra)
    this.counters.logins++
    return json(200, this.#session(this.ledger.openFamily(), exchange.id), dateHeader(this.now(), extra))
  }

  #refresh(exchange: Exchange, extra: Record<string, string>): Response {
    const outcome = this.ledger.refresh(exchange.token, this.now(), exchange.id)
    if (!outcome.ok) {
      // Reuse of a rotated-out refresh token: the ledger revoked the whole session.
      if (outcome.reason === 'reused') {
        if (outcome.entry.rotatedBy !== undefined) exchange.reuseOf = outcome.entry.rotatedBy
        this.counters.reuseDetected++
      }
      this.counters.refreshRejected++
      return errorResponse(401, extra)
    }
    this.counters.refreshes++
    return json(200, this.#session(outcome.entry.family, exchange.id), dateHeader(this.now(), extra))
  }

  #session(family: number, issuedBy: number): Record<string, unknown> {
    const { ttlSeconds, refreshTtlSeconds, expiresIn } = this.options
    const session: Record<string, unknown> = {
      type: 'auth.session',
      token_type: 'bearer',
      access_token: this.#mint(family, 'access', ttlSeconds, issuedBy),
      refresh_token: this.#mint(family, 'refresh', refreshTtlSeconds, issuedBy),
    }
    if (expiresIn === 'ttl') session.expires_in = ttlSeconds
    else if (expiresIn === 'string') session.expires_in = String(ttlSeconds)
    else if (expiresIn === 'negative') session.expires_in = -ttlSeconds
    return session
  }

  #mint(family: number, kind: 'access' | 'refresh', ttlSeconds: number, issuedBy = 0): string {
    const now = this.now()
    const seconds = Math.floor(now / 1000)
    const jti = randomBytes(9).toString('base64url')
    const format = kind === 'refresh' ? 'jwt' : this.options.tokenFormat
    let token: string
    if (format === 'opaque') token = `${kind}.${jti}`
    else {
      const claims: Record<string, unknown> = { sub: 'demo', kind, sid: family, jti }
      if (format !== 'jwt-no-exp') claims.exp = seconds + ttlSeconds
      if (format === 'jwt' || format === 'jwt-no-exp') claims.iat = seconds
      token = [b64({ alg: 'HS256', typ: 'JWT' }), b64(claims), randomBytes(16).toString('base64url')].join(
        '.',
      )
    }
    // The server's own view: valid until (its clock) the second the JWT says, so both agree.
    const expiresAt = seconds * 1000 + ttlSeconds * 1000
    this.ledger.add(token, { family, kind, expiresAt, issuedBy })
    return token
  }

  /**
   * How long the client should consider an access token alive, in ms from receipt: the TTL when the token or
   * `expires_in` says so, undefined when nothing does.
   */
  knownLifetimeMs(): number | undefined {
    const { tokenFormat, expiresIn, ttlSeconds } = this.options
    if (tokenFormat === 'jwt' || tokenFormat === 'jwt-no-iat' || expiresIn === 'ttl') return ttlSeconds * 1000
    return undefined
  }
}

function applicable(kind: ExchangeKind, fault: Fault): Fault {
  if (fault === 'ok') return 'ok'
  switch (kind) {
    case 'refresh':
      return fault
    case 'login':
      return ['500', '503', '401', '403', 'drop', 'hang', 'html'].includes(fault) ? fault : 'ok'
    case 'logout':
      return ['500', '503', 'drop', 'hang'].includes(fault) ? fault : 'ok'
    case 'api':
      return ['500', 'drop'].includes(fault) ? fault : 'ok'
    default:
      return 'ok'
  }
}

const EMPTY: Promise<ExchangeBody> = Promise.resolve({
  hash: hash(new Uint8Array()),
  contentType: null,
  length: 0,
  text: '',
})

function readBody(request: Request | undefined, init: RequestInit | undefined, headers: Headers) {
  const source = init?.body ?? request?.body ?? null
  if (source === null) return EMPTY
  if (init?.body === undefined || init.body === null) {
    // The body is the Request's own: fetch reads the Request.
    const contentType = headers.get('content-type')
    return (request as Request).arrayBuffer().then((buffer) => describeBody(buffer, contentType))
  }
  // Like fetch: extract the body (this throws for a stream that was already read or is locked).
  const extracted = new Response(init.body as BodyInit)
  const contentType = headers.get('content-type') ?? extracted.headers.get('content-type')
  return extracted.arrayBuffer().then((buffer) => describeBody(buffer, contentType))
}

function describeBody(buffer: ArrayBuffer, contentType: string | null): ExchangeBody {
  const bytes = new Uint8Array(buffer)
  return { hash: hash(bytes), contentType, length: bytes.byteLength, text: decoder.decode(bytes) }
}

export function hash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function hashText(text: string): string {
  return hash(encoder.encode(text))
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function json(status: number, body: unknown, headers: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

function errorResponse(status: number, headers: Record<string, string>): Response {
  const code =
    status >= 500
      ? 'server_error'
      : status === 400
        ? 'bad_request'
        : status === 401
          ? 'unauthorized'
          : 'forbidden'
  return json(status, { type: 'error', code, status, message: `status ${status}` }, headers)
}

function dateHeader(serverNow: number, headers: Record<string, string>): Record<string, string> {
  return { ...headers, date: new Date(serverNow).toUTCString() }
}
