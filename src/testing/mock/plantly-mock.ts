import { SignJWT } from 'jose'
import { TokenLedger } from './token-ledger.js'

/** Options of the embedded Plantly Sessions API mock (both the HTTP server and the msw handlers). */
export interface PlantlyMockOptions {
  /**
   * Accounts that can log in: email → password.
   * @default { 'demo@plantly.test': 'plantly' }
   */
  users?: Record<string, string>
  /** Accounts whose login answers 403. @default [] */
  forbiddenUsers?: string[]
  /** Access token lifetime in seconds (`expires_in`, and JWT `exp − iat`). @default 60 */
  accessTtlSeconds?: number
  /** Refresh token lifetime in seconds. @default 3600 */
  refreshTtlSeconds?: number
  /** Issue a new refresh token on every refresh, invalidating the old one. @default true */
  rotateRefreshTokens?: boolean
  /** A rotated-out refresh token presented again revokes its whole session (and counts `reuseDetected`). @default true */
  reuseDetection?: boolean
  /** Issue JWTs (HS256, signed with jose) or opaque random tokens. @default 'jwt' */
  tokenFormat?: 'jwt' | 'opaque'
  /** Put `iat` in the JWTs. @default true */
  includeIat?: boolean
  /** The server's clock offset from the local clock, in ms (to simulate clock skew). @default 0 */
  clockOffsetMs?: number
  /** Delay before every answer, in ms. @default 0 */
  latencyMs?: number
  /** Extra delay before refresh answers, in ms. @default 0 */
  refreshLatencyMs?: number
  /** A refresh ends the access tokens issued before it in the same session (stale tokens answer 401). @default true */
  invalidateOnRefresh?: boolean
  /** Path of the Sessions resource. @default '/auth/sessions' */
  path?: string
  /** How many API requests `log` keeps (oldest dropped). @default 10_000 */
  logLimit?: number
}

/** Which operation a fault applies to. */
export type FaultTarget = 'login' | 'refresh' | 'logout' | 'api'

/** A scripted failure for the next `times` matching calls. */
export interface Fault {
  on: FaultTarget
  /** Answer with this status (and `body`, `headers`) instead of the real answer. */
  status?: number
  /**
   * The answer's body: a string is sent as is, anything else as JSON. A function receives the session the mock
   * issues for this login or refresh (processed as usual) and returns the body to send instead; tokens it puts
   * in `access_token` / `refresh_token` work like the issued ones they replace (to serve crafted tokens).
   */
  body?: unknown
  headers?: Record<string, string>
  /** Wait this long first (then answer normally unless something else is set). */
  delayMs?: number
  /** Close the connection without answering. */
  drop?: boolean
  /** Never answer (until the client gives up or the server closes). */
  hang?: boolean
  /** How many calls it applies to. @default 1 */
  times?: number
}

/** What the mock counted. */
export interface MockCounters {
  logins: number
  loginFailures: number
  refreshes: number
  refreshRejected: number
  reuseDetected: number
  logouts: number
  apiRequests: number
  apiUnauthorized: number
  faultsServed: number
  /** The most refresh calls being processed at one time. */
  maxConcurrentRefreshes: number
}

/** One API request as the mock saw it. */
export interface MockLogEntry {
  method: string
  path: string
  /** The Bearer token presented, or undefined. */
  token: string | undefined
  status: number
  contentType: string | null
  bodyHash: string
}

/** An incoming request, transport-neutral. */
export interface MockRequest {
  method: string
  /** Path and query. */
  path: string
  headers: Headers
  body: Uint8Array<ArrayBuffer>
}

/** The mock's answer: a response, or a connection that is dropped or never answered. */
export type MockReply =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string | undefined }
  | { kind: 'drop' }
  | { kind: 'hang' }

const encoder = new TextEncoder()

/** The Plantly Sessions API as a state machine; the HTTP server and the msw handlers are thin adapters to it. */
export class PlantlyMock {
  readonly counters: MockCounters = {
    logins: 0,
    loginFailures: 0,
    refreshes: 0,
    refreshRejected: 0,
    reuseDetected: 0,
    logouts: 0,
    apiRequests: 0,
    apiUnauthorized: 0,
    faultsServed: 0,
    maxConcurrentRefreshes: 0,
  }
  readonly log: MockLogEntry[] = []
  readonly options: Required<PlantlyMockOptions>
  #faults: Fault[] = []
  readonly #ledger: TokenLedger
  #key = crypto.getRandomValues(new Uint8Array(32))
  #activeRefreshes = 0
  #expireAfter: number | undefined

  constructor(options: PlantlyMockOptions = {}) {
    this.options = {
      users: { 'demo@plantly.test': 'plantly' },
      forbiddenUsers: [],
      accessTtlSeconds: 60,
      refreshTtlSeconds: 3600,
      rotateRefreshTokens: true,
      reuseDetection: true,
      tokenFormat: 'jwt',
      includeIat: true,
      clockOffsetMs: 0,
      latencyMs: 0,
      refreshLatencyMs: 0,
      invalidateOnRefresh: true,
      path: '/auth/sessions',
      logLimit: 10_000,
      ...options,
    }
    this.#ledger = new TokenLedger({
      rotate: this.options.rotateRefreshTokens,
      reuseDetection: this.options.reuseDetection,
      invalidateOnRefresh: this.options.invalidateOnRefresh,
    })
  }

  /** The server's clock. */
  now(): number {
    return Date.now() + this.options.clockOffsetMs
  }

  /** Script failures for the next matching calls. */
  inject(...faults: Fault[]): void {
    this.#faults.push(...faults.map((fault) => ({ times: 1, ...fault })))
  }

  /** Drop every scripted fault not yet served. */
  clearFaults(): void {
    this.#faults = []
  }

  /**
   * Make every access token issued so far expire (refresh tokens stay valid): now, or, with `afterRequests`,
   * once that many more API requests have been answered (the next one is the first refused), so that a test or
   * a demo can end the token at an exact point of a burst.
   */
  expireAccessTokens(options: { afterRequests?: number } = {}): void {
    const after = options.afterRequests ?? 0
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new TypeError(
        `expireAccessTokens: afterRequests must be a whole number >= 0, got ${String(after)}`,
      )
    }
    if (after > 0) {
      this.#expireAfter = after
      return
    }
    this.#expireAfter = undefined
    this.#ledger.expireAccessTokens(this.now())
  }

  /** Revoke every session: all tokens, access and refresh, stop working. */
  revokeAll(): void {
    this.#ledger.revokeAll()
  }

  /** Issue a session directly (for tests that need one without a login call). */
  async issueSession(email = Object.keys(this.options.users)[0] ?? 'demo@plantly.test') {
    return this.#issue(this.#ledger.openFamily(), email)
  }

  /** How many sessions are live (not revoked, refresh token unused and unexpired). */
  liveSessions(): number {
    return this.#ledger.liveFamilies(this.now()).length
  }

  async handle(request: MockRequest): Promise<MockReply> {
    const pathOnly = request.path.split('?')[0] ?? '/'
    const target: FaultTarget =
      pathOnly === this.options.path
        ? request.method === 'POST'
          ? 'login'
          : request.method === 'PUT'
            ? 'refresh'
            : 'logout'
        : 'api'
    if (this.options.latencyMs > 0) await sleep(this.options.latencyMs)
    const fault = this.#takeFault(target)
    if (fault) {
      this.counters.faultsServed++
      if (fault.delayMs) await sleep(fault.delayMs)
      if (fault.drop) return { kind: 'drop' }
      if (fault.hang) return { kind: 'hang' }
      if (typeof fault.body === 'function')
        return this.#rewrite(await this.#serve(request, target, pathOnly), fault)
      if (fault.status !== undefined) {
        if (target === 'refresh') this.counters.refreshRejected++
        const isText = typeof fault.body === 'string'
        return {
          kind: 'response',
          status: fault.status,
          headers: { 'content-type': isText ? 'text/html' : 'application/json', ...fault.headers },
          body:
            fault.body === undefined
              ? undefined
              : isText
                ? (fault.body as string)
                : JSON.stringify(fault.body),
        }
      }
    }
    return this.#serve(request, target, pathOnly)
  }

  async #serve(request: MockRequest, target: FaultTarget, pathOnly: string): Promise<MockReply> {
    if (target === 'login') return this.#login(request)
    if (target === 'refresh') {
      this.#activeRefreshes++
      this.counters.maxConcurrentRefreshes = Math.max(
        this.counters.maxConcurrentRefreshes,
        this.#activeRefreshes,
      )
      try {
        if (this.options.refreshLatencyMs > 0) await sleep(this.options.refreshLatencyMs)
        return await this.#refresh(request)
      } finally {
        this.#activeRefreshes--
      }
    }
    if (target === 'logout' && request.method === 'DELETE') return this.#logout(request)
    if (target === 'logout') return error(405, 'bad_request', 'Method not allowed')
    return this.#api(request, pathOnly)
  }

  // A 200 session answer, its body replaced by fault.body(session); crafted tokens alias the issued ones.
  #rewrite(reply: MockReply, fault: Fault): MockReply {
    if (reply.kind !== 'response' || reply.status !== 200 || reply.body === undefined) return reply
    const session = JSON.parse(reply.body) as Record<string, unknown>
    const body = (fault.body as (session: Record<string, unknown>) => unknown)(session)
    for (const key of ['access_token', 'refresh_token']) {
      const issued = this.#ledger.tokens.get(String(session[key]))
      const crafted = (body as Record<string, unknown> | null)?.[key]
      if (issued && typeof crafted === 'string') this.#ledger.tokens.set(crafted, issued)
    }
    const isText = typeof body === 'string'
    return {
      kind: 'response',
      status: fault.status ?? 200,
      headers: { ...reply.headers, ...(isText ? { 'content-type': 'text/html' } : {}), ...fault.headers },
      body: isText ? body : JSON.stringify(body),
    }
  }

  #takeFault(target: FaultTarget): Fault | undefined {
    const index = this.#faults.findIndex((fault) => fault.on === target)
    if (index === -1) return undefined
    const fault = this.#faults[index] as Fault
    fault.times = (fault.times ?? 1) - 1
    if (fault.times <= 0) this.#faults.splice(index, 1)
    return fault
  }

  async #login(request: MockRequest): Promise<MockReply> {
    let body: { email_address?: unknown; password?: unknown }
    try {
      body = JSON.parse(new TextDecoder().decode(request.body)) as typeof body
    } catch {
      this.counters.loginFailures++
      return error(400, 'bad_request', 'Request body is not valid JSON')
    }
    if (typeof body?.email_address !== 'string' || typeof body.password !== 'string') {
      this.counters.loginFailures++
      return error(400, 'bad_request', 'Request failed validation', [
        { location: 'body', type: 'value_error.missing', pointer: '/email_address' },
      ])
    }
    if (this.options.users[body.email_address] !== body.password) {
      this.counters.loginFailures++
      return error(401, 'unauthorized', 'Invalid credentials')
    }
    if (this.options.forbiddenUsers.includes(body.email_address)) {
      this.counters.loginFailures++
      return error(403, 'forbidden', 'Access to this resource is forbidden')
    }
    this.counters.logins++
    return json(200, await this.#issue(this.#ledger.openFamily(), body.email_address))
  }

  async #refresh(request: MockRequest): Promise<MockReply> {
    const token = bearer(request.headers)
    if (token === undefined) {
      this.counters.refreshRejected++
      return error(400, 'bad_request', 'Missing refresh token')
    }
    const outcome = this.#ledger.refresh(token, this.now())
    if (!outcome.ok) {
      this.counters.refreshRejected++
      if (outcome.reason === 'reused') this.counters.reuseDetected++
      return error(401, 'unauthorized', 'No valid API authentication found')
    }
    const record = outcome.entry
    this.counters.refreshes++
    const session = await this.#issue(
      record.family,
      'refresh',
      this.options.rotateRefreshTokens ? undefined : token,
    )
    return json(200, session)
  }

  #logout(request: MockRequest): MockReply {
    const record = this.#ledger.access(bearer(request.headers), this.now())
    if (!record) return error(401, 'unauthorized', 'No valid API authentication found')
    this.#ledger.revoke(record.family)
    this.counters.logouts++
    return { kind: 'response', status: 204, headers: {}, body: undefined }
  }

  async #api(request: MockRequest, path: string): Promise<MockReply> {
    this.counters.apiRequests++
    if (this.#expireAfter !== undefined && this.#expireAfter-- === 0) this.expireAccessTokens()
    const token = bearer(request.headers)
    const record = this.#ledger.access(token, this.now())
    const bodyHash = await sha256(request.body)
    const status = record ? 200 : 401
    this.log.push({
      method: request.method,
      path,
      token,
      status,
      contentType: request.headers.get('content-type'),
      bodyHash,
    })
    if (this.log.length > this.options.logLimit) this.log.splice(0, this.log.length - this.options.logLimit)
    if (!record) {
      this.counters.apiUnauthorized++
      return error(401, 'unauthorized', 'No valid API authentication found')
    }
    return json(200, {
      ok: true,
      method: request.method,
      path,
      contentType: request.headers.get('content-type'),
      bodyLength: request.body.byteLength,
      bodyHash,
    })
  }

  async #issue(family: number, subject: string, keepRefresh?: string) {
    const now = this.now()
    const access = await this.#token(family, subject, 'access', this.options.accessTtlSeconds, now)
    const refresh =
      keepRefresh ?? (await this.#token(family, subject, 'refresh', this.options.refreshTtlSeconds, now))
    return {
      type: 'auth.session',
      token_type: 'bearer',
      access_token: access,
      refresh_token: refresh,
      expires_in: this.options.accessTtlSeconds,
    }
  }

  async #token(family: number, subject: string, kind: 'access' | 'refresh', ttl: number, now: number) {
    let token: string
    const jti = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) =>
      b.toString(16).padStart(2, '0'),
    ).join('')
    if (this.options.tokenFormat === 'opaque') token = `${kind}.${jti}`
    else {
      const seconds = Math.floor(now / 1000)
      let jwt = new SignJWT({ kind, sid: family })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(subject)
        .setJti(jti)
        .setExpirationTime(seconds + ttl)
      if (this.options.includeIat) jwt = jwt.setIssuedAt(seconds)
      token = await jwt.sign(this.#key)
    }
    this.#ledger.add(token, { family, kind, expiresAt: now + ttl * 1000 })
    return token
  }
}

function bearer(headers: Headers): string | undefined {
  const match = /^Bearer (\S+)$/i.exec(headers.get('authorization') ?? '')
  return match?.[1]
}

function json(status: number, body: unknown): MockReply {
  return {
    kind: 'response',
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }
}

function error(status: number, code: string, message: string, details?: unknown[]): MockReply {
  return json(status, { type: 'error', code, status, message, ...(details ? { details } : {}) })
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes.byteLength ? bytes : encoder.encode(''))
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
