// One run of the model test: the real client against the scripted API with one faked clock, the invariants
// checked as things happen and after the run drains.
import { getEventListeners } from 'node:events'
import { vi } from 'vitest'
import {
  createSessionFetch,
  memoryStore,
  type PlantlyCredentials,
  plantlySessions,
  type SessionFetch,
  type SessionProtocol,
  type SessionStore,
  type StoreSnapshot,
} from '../../../src/index.js'
import {
  type Exchange,
  type Fault,
  hash,
  hashText,
  ScriptedApi,
  type TokenInfo,
} from '../../helpers/scripted-api.js'

import {
  BASE,
  type BodyKind,
  type Command,
  type Config,
  DEMO,
  FILES,
  PASSWORDS,
  ROBOT,
  TARGETS,
  USERS,
  WRONG_PASSWORD,
} from './commands.js'

const encoder = new TextEncoder()
const realSetImmediate = setImmediate

// ---- one run -----------------------------------------------------------------------------------------

export interface Call {
  id: string
  kind: 'fetch' | 'login' | 'logout' | 'refresh'
  command: Command
  /** The signal the library sees (a Request's own signal for Request inputs). */
  signal: AbortSignal | undefined
  controller: AbortController | undefined
  exchanges: Exchange[]
  settled: boolean
  value?: unknown
  error?: unknown
  failed?: boolean
  /** What every attempt's body must be: its hash (undefined: FormData, compared attempt to attempt). */
  expectedHash?: string | undefined
  expectedType?: string | null
}

export interface Current {
  version: number
  access: string
  refresh: string | undefined
  family: number | undefined
  receivedAt: number
  expiresAt: number | undefined
}

export class Run {
  readonly violations: string[] = []
  readonly api: ScriptedApi
  readonly instances: SessionFetch[] = []
  readonly calls: Call[] = []
  readonly callsById = new Map<string, Call>()
  readonly listenersAdded: number[] = []
  readonly events: { instance: number; name: string; at: number; reason?: string }[] = []
  current: Current | undefined
  /** Store version of every access token the client held. */
  readonly versionOf = new Map<string, number>()
  /** Versions that met a 401 on their own access token, or an explicit refresh(). */
  readonly refreshWanted = new Set<number>()
  /** Refresh tokens already sent in a PUT (so a retry of the same refresh is recognised). */
  readonly refreshTokensSent = new Set<string>()
  readonly endedFamilies = new Set<number>()
  /** Refresh tokens of sessions logout() ended: presented again only by that logout (and its retries). */
  readonly logoutRenewals = new Map<string, Call>()
  refreshTokensSentBeforeLogout = new Set<string>()
  /** Per instance: logout() ended its session, so no unattended login until a login (any instance's). */
  readonly loggedOut: boolean[] = []
  /** Per instance: the last exchange id sent before its logout() (a shared logout counts for all). */
  readonly loggedOutAfter: number[] = []
  refreshFailures = 0
  loginRefusals = 0
  lastRefreshFailureAt = Number.NEGATIVE_INFINITY
  lifetimeMs: number | undefined
  /** What `credentials()` answers: the robot's password, or a wrong one. */
  robotWrong = false
  /**
   * Per instance, a lower bound of its unattended-login backoff: refusals since its last successful login, and
   * the time before which it must not log in unattended (the client counts other failures too: never less).
   */
  readonly backoff: { refusals: number; until: number }[] = []
  /** Exchanges that presented an already rotated refresh token, checked when sent. */
  readonly presentedRotated = new Set<number>()
  /**
   * What the run met, by kind: the documented exceptions the invariants allowed (counted, never silent: a refresh
   * token presented again after the answer that rotated it was lost, see {@link Run.checkPresented}; a session
   * still live after the last logout that the client could not end, see {@link Run.excusedLive}), and the
   * scenarios it covered (`scenario: …`, for FC_STATS).
   */
  readonly counted: Record<string, number> = {}
  /** Every session the client ended through the protocol (its `logout`): with or without the refresh token. */
  readonly ends: { access: string; refresh: string | undefined; failed: boolean }[] = []
  /** The id of the last exchange sent when the store was last written. */
  lastWriteMark = 0
  /** The access token a logout's clear removed from the store, and the macrotask turn it happened in. */
  lastClear: { access: string | undefined; turn: number } | undefined
  /** The family of the session the store held when the last logout() was called. */
  finalFamily: number | undefined
  private nextCall = 1

  constructor(
    readonly config: Config,
    readonly store: SessionStore,
  ) {
    this.api = new ScriptedApi({
      baseURL: BASE,
      apiOrigins: [FILES],
      users: USERS,
      ttlSeconds: config.ttlSeconds,
      tokenFormat: config.tokenFormat,
      expiresIn: config.expiresIn,
      skewMs: config.skewMs,
    })
    this.lifetimeMs = this.api.knownLifetimeMs()
    this.api.onSend = (exchange) => this.checkSend(exchange)
    this.api.onSettle = (exchange) => this.noteSettled(exchange)
  }

  violation(text: string): void {
    this.violations.push(`[t=${Date.now()}] ${text}`)
  }

  /**
   * Why a session still live after the last logout() is one the client could not end, or undefined when it could
   * have. Only the session's newest tokens count (ending an older one of the same session ends nothing), and for
   * the session the last logout() found in the store only the first reason holds:
   * - the answer that carried its newest tokens was lost (the connection closed after the server acted);
   * - the server refused its newest refresh token (a scripted 400/401/403): the client believes it;
   * - the client's end of it failed (a fault on the DELETE or on logout's renewal: logout() rejected with
   *   LogoutError, or a background end that nobody awaits);
   * - the client ended it with the access token only, as documented for a session a login replaced or whose
   *   write lost (its refresh token may be in a sibling's hands), and that access token had expired.
   */
  excusedLive(family: number): string | undefined {
    const newest = this.newestTokens(family)
    if (newest === undefined) return undefined
    const issuer = this.api.history[newest.issuedBy - 1]
    if (issuer?.state === 'failed' && issuer.fault === 'drop-after') return 'live: its answer was lost'
    if (family === this.finalFamily) return undefined
    const refused = this.api.history.some(
      (e) =>
        e.kind === 'refresh' &&
        e.token !== undefined &&
        this.api.tokens.get(e.token) === newest &&
        [400, 401, 403].includes(e.status ?? 0),
    )
    if (refused) return 'live: the server refused its refresh token'
    let access: string | undefined
    for (const [token, info] of this.api.tokens) {
      if (info.family === family && info.kind === 'access' && info.issuedBy === newest.issuedBy)
        access = token
    }
    // An end of its newest session, or one whose renewal (logout's, for an expired access token) obtained it.
    const ends = this.ends.filter(
      (end) => end.access === access || (end.refresh !== undefined && issuer?.token === end.refresh),
    )
    if (ends.some((end) => end.failed))
      return 'live: ending it failed (logout() rejected, or a background end)'
    if (ends.some((end) => end.refresh === undefined))
      return 'live: ended with its access token only, which had expired'
    return undefined
  }

  newestTokens(family: number): TokenInfo | undefined {
    let newest: TokenInfo | undefined
    for (const info of this.api.tokens.values()) {
      if (info.family === family && info.kind === 'refresh' && (!newest || info.issuedBy > newest.issuedBy))
        newest = info
    }
    return newest
  }

  /** Every exchange of the run, one per line (FC_TRACE). */
  trace(): string {
    const short = (token: string | undefined) => {
      const info = token === undefined ? undefined : this.api.tokens.get(token)
      return info
        ? `${info.kind}(family ${info.family}, from #${info.issuedBy})`
        : token === undefined
          ? '-'
          : '?'
    }
    return this.api.history
      .map(
        (e) =>
          `#${e.id} [${e.tag}] t=${e.sentAt} ${e.kind} ${e.method} ${short(e.token)} ${e.callId ?? ''} → ${e.state} ${e.status ?? ''} ${e.fault ?? ''} settledAfter=${e.settledAfter}`,
      )
      .concat(this.violations)
      .join('\n')
  }

  /** What happened to a session family, exchange by exchange, for a violation's message. */
  story(family: number): string {
    const lines: string[] = []
    for (const e of this.api.history) {
      const issued = [...this.api.tokens.values()].some((t) => t.family === family && t.issuedBy === e.id)
      const presented = this.api.familyOf(e.token) === family
      if (!issued && !presented) continue
      const what = issued ? 'issued by' : `presented ${this.api.tokens.get(e.token as string)?.kind} in`
      lines.push(
        `#${e.id} ${what} ${e.kind} from ${e.tag} at ${e.sentAt} → ${e.state}${e.status ? ` ${e.status}` : ''}${e.fault ? ` (${e.fault})` : ''}`,
      )
    }
    return lines.join('; ')
  }

  count(kind: string): void {
    this.counted[kind] = (this.counted[kind] ?? 0) + 1
  }

  /** A token or a password in `text`. */
  containsSecret(text: string): boolean {
    return containsToken(text, this.api.tokens) || PASSWORDS.some((password) => text.includes(password))
  }

  /**
   * A refresh token goes out only while the server has not rotated it. The one exception no client can avoid:
   * the refresh that rotated it was processed but its answer was lost (the connection closed after the server
   * acted: `drop-after`), and the token is presented again after that loss (ofetch's retry, or the next
   * refresh). The client cannot tell that loss from a request that never arrived; giving the session up on
   * every network error instead would end sessions that are fine. Counted as `lost answer, token presented again`.
   */
  checkPresented(exchange: Exchange, rotatedBy: number | undefined, when: 'sent' | 'processed'): void {
    const rotator = rotatedBy === undefined ? undefined : this.api.history[rotatedBy - 1]
    if (
      rotator !== undefined &&
      rotator.state === 'failed' &&
      rotator.fault === 'drop-after' &&
      exchange.id > (rotator.settledAfter ?? Number.POSITIVE_INFINITY)
    ) {
      this.count('lost answer, token presented again')
      return
    }
    this.violation(
      when === 'sent'
        ? `a refresh token presented after it was rotated (by exchange ${rotatedBy}, ${rotator?.state}/${rotator?.fault})`
        : `a refresh token presented while another presentation of it was in flight (rotated by exchange ${rotatedBy})`,
    )
  }

  // Every store write, seen before any instance reacts to it.
  observeWrite(snapshot: StoreSnapshot): void {
    this.lastWriteMark = this.api.counters.exchanges
    const record = snapshot.record
    if (!record) {
      // A logout written to the store ends the session for every instance sharing it: nothing may bring
      // that session back, and nobody may log in unattended until a login. (logout() waits for the
      // renewals under way, its own and its siblings', so the session it ends is the newest one.)
      if (snapshot.reason === 'logout') {
        this.lastClear = { access: this.current?.access, turn: turns }
        this.loggedOut.fill(true)
        if (this.current?.family !== undefined) this.endedFamilies.add(this.current.family)
        this.loggedOutAfter.fill(this.api.counters.exchanges)
        this.refreshTokensSentBeforeLogout = new Set(this.refreshTokensSent)
      }
      this.current = undefined
      return
    }
    const now = Date.now()
    const family = this.api.familyOf(record.session.access_token)
    if (family !== undefined && this.endedFamilies.has(family)) {
      this.violation(`the session family ${family} ended by logout was brought back (${snapshot.reason})`)
    }
    // An unattended login that was on its way when its instance logged out must not land.
    const issuer = this.api.history[(this.api.tokens.get(record.session.access_token)?.issuedBy ?? 0) - 1]
    if (issuer?.kind === 'login' && issuer.text?.includes(ROBOT.email_address)) {
      const instance = Number(issuer.tag)
      if (issuer.id <= (this.loggedOutAfter[instance] ?? 0)) {
        this.violation(`instance ${instance}: an unattended login sent before logout() was written after it`)
      }
    }
    if (snapshot.reason === 'login') this.loggedOut.fill(false)
    if (record.receivedAt !== now)
      this.violation(`receivedAt ${record.receivedAt} is not the local now ${now}`)
    const expected = this.lifetimeMs === undefined ? undefined : now + this.lifetimeMs
    if (record.expiresAt !== expected) {
      this.violation(
        `expiresAt ${record.expiresAt} for a ${this.config.ttlSeconds}s token; expected ${expected}`,
      )
    }
    this.current = {
      version: snapshot.version,
      access: record.session.access_token,
      refresh: record.session.refresh_token,
      family,
      receivedAt: record.receivedAt,
      expiresAt: record.expiresAt,
    }
    this.versionOf.set(record.session.access_token, snapshot.version)
  }

  /** From here on a request starts a refresh (in the background while the token is good: refresh-ahead). */
  dueAt(current: Current): number {
    if (current.expiresAt === undefined) return Number.POSITIVE_INFINITY
    const lifetime = current.expiresAt - current.receivedAt
    return current.expiresAt - Math.min(this.config.refreshWindowMs, lifetime / 2)
  }

  /** From here on a request waits for the refresh instead of sending the token (the must-refresh margin). */
  mustAt(current: Current): number {
    if (current.expiresAt === undefined) return Number.POSITIVE_INFINITY
    const lifetime = current.expiresAt - current.receivedAt
    const window = this.config.refreshWindowMs
    const must = Math.min(this.config.mustRefreshMs ?? 5_000, window)
    return current.expiresAt - Math.min(must, lifetime / 4, window, lifetime / 2)
  }

  checkSend(exchange: Exchange): void {
    const now = Date.now()
    const current = this.current
    const tokens = this.api.tokens
    // Secrets never travel anywhere but their own place: a token in Authorization, a password in the login body.
    for (const [name, value] of exchange.headers) {
      if (PASSWORDS.some((password) => value.includes(password)))
        this.violation(`a password in header ${name} of ${exchange.url}`)
      if (name === 'authorization') continue
      if (containsToken(value, tokens)) this.violation(`a token in header ${name} of ${exchange.url}`)
    }
    if (this.containsSecret(exchange.url)) this.violation(`a token or password in the URL ${exchange.url}`)
    if (exchange.kind !== 'login' && exchange.text !== undefined && this.containsSecret(exchange.text)) {
      this.violation(`a token or password in the body of ${exchange.method} ${exchange.url}`)
    }
    const info = exchange.token === undefined ? undefined : tokens.get(exchange.token)
    const authorization = exchange.headers.get('authorization')
    if (authorization !== null && exchange.kind !== 'refresh' && info?.kind === 'refresh') {
      this.violation(`the refresh token went to ${exchange.method} ${exchange.url}`)
    }
    const call = exchange.callId === null ? undefined : this.callsById.get(exchange.callId)
    if (call) call.exchanges.push(exchange)

    switch (exchange.kind) {
      case 'foreign':
        if (authorization !== null) this.violation(`Authorization sent to another origin: ${exchange.url}`)
        break
      case 'login': {
        if (authorization !== null) this.violation('Authorization on the login call')
        if (!exchange.text?.includes(ROBOT.email_address)) break
        const instance = Number(exchange.tag)
        if (this.loggedOut[instance]) {
          this.violation(`instance ${instance}: an unattended login ran after logout(), before any login()`)
        }
        // After a refused unattended login, the next one waits for the backoff (an explicit login is not held back).
        const backoff = this.backoff[instance]
        if (backoff && now < backoff.until) {
          this.violation(
            `instance ${instance}: an unattended login ${backoff.until - now} ms before its backoff ended (${backoff.refusals} refusals)`,
          )
        }
        break
      }
      case 'logout':
        if (info?.kind !== 'access') this.violation('logout sent without an access token')
        break
      case 'refresh': {
        const token = exchange.token
        if (token === undefined || info?.kind !== 'refresh') {
          this.violation('a refresh without a refresh token')
          break
        }
        // Every PUT, whoever sends it and whatever session it renews: never a rotated refresh token (checked
        // again when the server processes it, for a presentation that overlapped the one that rotated it).
        if (info.used) {
          this.presentedRotated.add(exchange.id)
          this.checkPresented(exchange, info.rotatedBy, 'sent')
        }
        // logout() with an expired access token renews the ended session once, only to end it on the server
        // (DELETE needs a live access token): the refresh token of the session that logout() ended, retries included.
        const renewal = this.logoutRenewals.get(token)
        if (renewal && !renewal.settled) break
        // One refresh in flight per session (family): logout's renewal of an ended session may overlap the
        // first refresh of the next session, which is a different one.
        const family = this.api.familyOf(token)
        if (this.api.inFlight('refresh', (other) => this.api.familyOf(other.token) === family) > 0)
          this.violation('a second refresh of one session went out while one was in flight')
        const isRetry = this.refreshTokensSent.has(token)
        this.refreshTokensSent.add(token)
        if (token !== current?.refresh) break
        if (
          current.family !== undefined &&
          this.endedFamilies.has(current.family) &&
          !this.refreshTokensSentBeforeLogout.has(token)
        ) {
          this.violation('a refresh of a session ended by logout')
        }
        if (!isRetry && !this.refreshWanted.has(current.version) && now < this.dueAt(current)) {
          this.violation('a refresh nobody needed: token not due, no 401, no refresh() call')
        }
        break
      }
      case 'api': {
        if (call && call.command.t === 'fetch' && call.command.target === 'own-endpoint') {
          if (authorization !== null) this.violation('Authorization added to a request to the Sessions API')
          break
        }
        if (exchange.token === undefined) {
          if (current) this.violation(`${exchange.url} went out without the token while a session exists`)
        } else if (exchange.token !== current?.access) {
          // A request whose token was decided just before a logout (a sibling's) cleared the store, sent a few
          // microtasks later: the clear and the send are in one macrotask turn, and the token is the one cleared.
          const clear = this.lastClear
          if (!current && clear?.turn === turns && clear.access === exchange.token)
            this.count('a request decided before a logout cleared the store went out with its token')
          else this.violation(`${exchange.url} carried a token that is no longer the session’s (known stale)`)
        } else if (current.expiresAt !== undefined && now >= current.expiresAt) {
          this.violation(`${exchange.url} carried a token the client knew had expired`)
        } else if (now >= this.mustAt(current) && this.lastRefreshFailureAt < this.mustAt(current)) {
          this.violation(
            `${exchange.url} carried a token inside the must-refresh margin without waiting for a refresh`,
          )
        }
        if (call) this.checkAttempt(call, exchange)
        break
      }
    }
  }

  checkAttempt(call: Call, exchange: Exchange): void {
    const attempts = call.exchanges.length
    if (attempts > 2) this.violation(`call ${call.id} was sent ${attempts} times`)
    if (attempts === 2) {
      const first = call.exchanges[0] as Exchange
      if (first.state !== 'answered' || first.status !== 401) {
        this.violation(`call ${call.id} was sent again without a 401 on its first attempt (${first.state})`)
      }
      // A stream is replayed from the copy kept while it was sent (replayBufferBytes): the replay's bytes are
      // checked against the caller's like every body's, after the run.
      if (exchange.token === first.token)
        this.violation(`call ${call.id} was replayed with the refused token`)
    }
  }

  noteSettled(exchange: Exchange): void {
    // A refresh token the server found already rotated, although it was not when it was sent: two presentations
    // overlapped.
    if (exchange.reuseOf !== undefined && !this.presentedRotated.has(exchange.id)) {
      this.checkPresented(exchange, exchange.reuseOf, 'processed')
    }
    // A refresh (or an unattended login standing in for one) that did not produce a session.
    const refused = exchange.state === 'answered' && [400, 401, 403].includes(exchange.status ?? 0)
    if (exchange.kind === 'login' && refused) {
      this.loginRefusals++ // a refused unattended login fails the calls that waited for it with LoginError
    }
    if (exchange.kind === 'login' && exchange.tag !== undefined) {
      const backoff = this.backoff[Number(exchange.tag)] as { refusals: number; until: number }
      // A refusal the client no longer waited for (the session was replaced, or a logout began, after the login
      // was sent) is not counted: the client drops that attempt's outcome, backoff included.
      const superseded =
        this.lastWriteMark >= exchange.id || (this.loggedOutAfter[Number(exchange.tag)] ?? 0) >= exchange.id
      if (refused && exchange.text?.includes(ROBOT.email_address) && !superseded) {
        const base = this.config.loginBackoffMs ?? 1_000
        backoff.refusals++
        const wait = Math.min(8 * base, base * 2 ** (backoff.refusals - 1))
        backoff.until = Math.max(backoff.until, Date.now() + wait)
      } else if (exchange.state === 'answered' && exchange.status === 200 && exchange.fault === 'ok') {
        // A login of this instance (unattended, or login()) succeeded: the backoff starts over.
        backoff.refusals = 0
        backoff.until = 0
      }
    }
    if (exchange.kind === 'refresh' || exchange.kind === 'login') {
      const ok = exchange.state === 'answered' && exchange.status === 200 && exchange.fault === 'ok'
      if (!ok) {
        this.refreshFailures++
        this.lastRefreshFailureAt = Date.now()
      }
    }
    if (exchange.kind === 'api' && exchange.state === 'answered' && exchange.status === 401) {
      const version = exchange.token === undefined ? undefined : this.versionOf.get(exchange.token)
      if (version !== undefined) this.refreshWanted.add(version)
    }
  }

  newCall(kind: Call['kind'], command: Command): Call {
    const call: Call = {
      id: `c${this.nextCall++}`,
      kind,
      command,
      signal: undefined,
      controller: undefined,
      exchanges: [],
      settled: false,
    }
    this.calls.push(call)
    this.callsById.set(call.id, call)
    return call
  }

  track(call: Call, promise: Promise<unknown>): void {
    promise.then(
      (value) => {
        call.settled = true
        call.value = value
        this.checkOutcome(call)
      },
      (error: unknown) => {
        call.settled = true
        call.failed = true
        call.error = error
        this.checkOutcome(call)
      },
    )
  }

  checkOutcome(call: Call): void {
    if (call.failed) {
      const error = call.error
      const leaked = leakIn(error, (text) => this.containsSecret(text))
      if (leaked)
        this.violation(`call ${call.id} (${call.kind}): a token or password in its error's ${leaked}`)
      const name = error instanceof Error ? error.name : typeof error
      const aborted = call.signal?.aborted === true && error === call.signal.reason
      const last = call.exchanges.at(-1)
      const transportError = last !== undefined && last.state === 'failed' && error === last.error
      const allowed: Record<Call['kind'], boolean> = {
        fetch:
          aborted ||
          transportError ||
          (name === 'RefreshError' && this.refreshFailures > 0) ||
          (name === 'LoginError' && this.loginRefusals > 0),
        login: name === 'LoginError',
        logout: name === 'LogoutError',
        refresh:
          name === 'RefreshError' ||
          name === 'SessionExpiredError' ||
          (name === 'LoginError' && this.loginRefusals > 0),
      }
      if (name === 'LoginError' && call.kind !== 'login')
        this.count('scenario: a call rejected with LoginError')
      if (!allowed[call.kind]) {
        this.violation(
          `call ${call.id} (${call.kind}) rejected with an undocumented ${name}: ${String(error)}`,
        )
      }
      return
    }
    if (call.kind !== 'fetch') return
    const last = call.exchanges.at(-1)
    if (!(call.value instanceof Response)) {
      this.violation(`call ${call.id} resolved with something other than a Response`)
    } else if (call.value !== last?.response) {
      this.violation(`call ${call.id} resolved with a Response that is not its own last answer`)
    } else if (call.value.bodyUsed) {
      this.violation(`call ${call.id} resolved with a consumed body`)
    }
  }
}

export function containsToken(text: string, tokens: ReadonlyMap<string, unknown>): boolean {
  for (const token of tokens.keys()) if (text.includes(token)) return true
  return false
}

/** Where a secret (a token or a password) shows up in an error (message, cause chain, JSON, stack), or undefined. */
export function leakIn(error: unknown, secretIn: (text: string) => boolean): string | undefined {
  let json = ''
  try {
    json = JSON.stringify(error) ?? ''
  } catch {
    json = ''
  }
  if (secretIn(json)) return 'JSON'
  let depth = 0
  for (let e: unknown = error; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (secretIn(e.message)) return depth === 0 ? 'message' : `cause(${depth}) message`
    if (secretIn(String(e.stack))) return `stack (${depth})`
    const own = Object.entries(e).map(([key, value]) => `${key}=${String(value)}`)
    if (secretIn(own.join('\n'))) return `properties (${depth})`
  }
  return undefined
}

/** Macrotask turns the test has let pass (each flush round is one). */
let turns = 0

export async function flush(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise<void>((resolve) => realSetImmediate(resolve))
    turns++
  }
}

export function makeBody(
  kind: BodyKind,
  payload: string,
): { init: RequestInit; hash: string | undefined; type: string | null } {
  const bytes = encoder.encode(payload)
  switch (kind) {
    case 'none':
    case 'request':
      return { init: {}, hash: hash(new Uint8Array()), type: null }
    case 'string':
      return { init: { method: 'POST', body: payload }, hash: hash(bytes), type: 'text/plain;charset=UTF-8' }
    case 'params': {
      const params = new URLSearchParams({ note: payload, n: '1' })
      return {
        init: { method: 'PUT', body: params },
        hash: hashText(params.toString()),
        type: 'application/x-www-form-urlencoded;charset=UTF-8',
      }
    }
    case 'form': {
      const form = new FormData()
      form.append('note', payload)
      form.append('file', new Blob([bytes], { type: 'text/plain' }), 'note.txt')
      return { init: { method: 'POST', body: form }, hash: undefined, type: null }
    }
    case 'blob':
      return {
        init: { method: 'POST', body: new Blob([bytes], { type: 'application/x-plantly' }) },
        hash: hash(bytes),
        type: 'application/x-plantly',
      }
    case 'buffer':
      return { init: { method: 'POST', body: bytes.slice().buffer }, hash: hash(bytes), type: null }
    case 'typed': {
      // A view into the middle of a larger buffer: only the viewed bytes may be sent.
      const backing = new Uint8Array(bytes.byteLength + 6)
      backing.fill(120)
      backing.set(bytes, 3)
      return {
        init: { method: 'PATCH', body: new Uint8Array(backing.buffer, 3, bytes.byteLength) },
        hash: hash(bytes),
        type: null,
      }
    }
    case 'stream': {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.slice(0, 3))
          controller.enqueue(bytes.slice(3))
          controller.close()
        },
      })
      return {
        init: { method: 'POST', body: stream, duplex: 'half' } as RequestInit,
        hash: hash(bytes),
        type: null,
      }
    }
  }
}

export function startFetch(run: Run, command: Extract<Command, { t: 'fetch' }>): void {
  const instance = run.instances[command.instance % run.instances.length] as SessionFetch
  const call = run.newCall('fetch', command)
  const url = TARGETS[command.target]
  const body = makeBody(command.body, command.payload)
  call.expectedHash = body.hash
  call.expectedType = body.type
  let signal: AbortSignal | undefined
  if (command.signal !== 'none') {
    call.controller = new AbortController()
    if (command.signal === 'aborted') call.controller.abort()
    signal = call.controller.signal
  }
  const headers = { 'x-call': call.id, 'x-custom': 'kept' }
  let promise: Promise<Response>
  // A Request cannot be built from a URL with credentials: that target is sent as a string.
  if ((command.body === 'request' || command.input === 'request') && command.target !== 'userinfo') {
    const absolute = url.startsWith('/') ? `${BASE}${url}` : url.includes('://') ? url : `${BASE}/${url}`
    const init: RequestInit =
      command.body === 'request' ? { method: 'POST', body: command.payload } : body.init
    if (command.body === 'request') {
      call.expectedHash = hashText(command.payload)
      call.expectedType = 'text/plain;charset=UTF-8'
    }
    const request = new Request(absolute, { ...init, headers, ...(signal ? { signal } : {}) })
    call.signal = request.signal
    promise = instance.fetch(request)
  } else {
    call.signal = signal
    const input = command.input === 'url' && url.includes('://') ? new URL(url) : url
    promise = instance.fetch(input, { ...body.init, headers, ...(signal ? { signal } : {}) })
  }
  run.track(call, promise)
}

export async function deliverNow(run: Run, index: number, fault: Fault, session = false): Promise<void> {
  const all = run.api.pending()
  const calls = session
    ? all.filter((e) => e.kind === 'login' || e.kind === 'refresh' || e.kind === 'logout')
    : []
  const pending = calls.length > 0 ? calls : all
  if (pending.length === 0) return
  const exchange = pending[index % pending.length] as Exchange
  await run.api.deliver(exchange, fault)
}

export function startLogin(run: Run, command: Command, instance: number, wrongPassword: boolean): void {
  const unattended = (e: Exchange) => e.text?.includes(ROBOT.email_address) === true
  if (run.api.inFlight('login', unattended) > 0) run.count('scenario: login() while an unattended login runs')
  const call = run.newCall('login', command)
  const credentials = wrongPassword ? { ...DEMO, password: WRONG_PASSWORD } : DEMO
  run.track(call, (run.instances[instance % run.instances.length] as SessionFetch).login(credentials))
}

export function startLogout(run: Run, command: Command, instance: number): void {
  // From here on, this session is over: nothing may bring it back, nobody may log in unattended.
  const index = instance % run.instances.length
  run.loggedOut[index] = true
  run.loggedOutAfter[index] = run.api.counters.exchanges
  const call = run.newCall('logout', command)
  if (run.current?.refresh !== undefined) run.logoutRenewals.set(run.current.refresh, call)
  run.track(call, (run.instances[index] as SessionFetch).logout())
}

export async function execute(run: Run, command: Command): Promise<void> {
  const pick = (i: number) => run.instances[i % run.instances.length] as SessionFetch
  switch (command.t) {
    case 'fetch': {
      const before = run.api.counters.exchanges
      startFetch(run, command)
      await flush()
      // Like fetch, an already aborted call sends nothing: no request, no refresh or login on its behalf.
      if (command.signal === 'aborted' && run.api.counters.exchanges !== before) {
        run.violation(
          `a call with an already aborted signal made ${run.api.counters.exchanges - before} request(s)`,
        )
      }
      break
    }
    case 'deliver':
      await deliverNow(run, command.pick, command.fault, command.session)
      break
    case 'abort': {
      const live = run.calls.filter((c) => !c.settled && c.controller && !c.controller.signal.aborted)
      const call = live[command.pick % Math.max(1, live.length)]
      call?.controller?.abort()
      break
    }
    case 'tick':
      await vi.advanceTimersByTimeAsync(command.ms)
      break
    case 'jump':
      await vi.advanceTimersByTimeAsync(
        Math.round((run.config.ttlSeconds * 1000 * command.percentOfTtl) / 100),
      )
      break
    case 'expire-server':
      run.api.expireAccessTokens()
      break
    case 'revoke':
      run.api.revokeAll()
      break
    case 'login':
      startLogin(run, command, command.instance, command.wrongPassword)
      break
    case 'logout':
      startLogout(run, command, command.instance)
      break
    case 'credentials':
      run.robotWrong = command.wrong
      break
    case 'login-logout':
      startLogin(run, command, command.instance, false)
      startLogout(run, command, command.other)
      break
    case 'fetch-login':
      startFetch(run, {
        t: 'fetch',
        instance: command.instance,
        target: 'relative',
        input: 'string',
        body: 'none',
        signal: 'none',
        payload: '',
      })
      startLogin(run, command, command.other, false)
      break
    case 'refresh': {
      if (run.current) run.refreshWanted.add(run.current.version)
      const call = run.newCall('refresh', command)
      run.track(call, pick(command.instance).refresh())
      break
    }
  }
  await flush()
}

/**
 * Deliver everything and let every timer run until all calls settled and no refresh runs (a shared refresh
 * goes on when its callers abort); bounded, so a hang is detected.
 */
export async function drain(run: Run): Promise<boolean> {
  for (let step = 0; step < 2_000; step++) {
    const idle = run.instances.every((instance) => instance.stats().pendingRefreshes === 0)
    if (idle && run.calls.every((c) => c.settled) && run.api.inFlight() === 0) return true
    const pending = run.api.pending()
    if (pending.length > 0) {
      await deliverNow(run, 0, 'ok')
    } else if (vi.getTimerCount() > 0) {
      await vi.advanceTimersToNextTimerAsync()
    }
    await flush()
  }
  return false
}

/** A deliberately broken client, for the tests that show an invariant check can fail. */
export interface Breakage {
  protocol?: (protocol: SessionProtocol<PlantlyCredentials>) => SessionProtocol<PlantlyCredentials>
  /** The client's own backoff, instead of the one the model expects (config.loginBackoffMs). */
  loginBackoffMs?: number
}

/** The protocol the instances use, with every session they end recorded (see {@link Run.excusedLive}). */
export function observedProtocol(run: Run, breakage: Breakage): SessionProtocol<PlantlyCredentials> {
  const plantly = plantlySessions({
    baseURL: BASE,
    retry: run.config.retry,
    retryDelayMs: run.config.retryDelayMs ?? 200,
  })
  const base = breakage.protocol ? breakage.protocol(plantly) : plantly
  const logout = base.logout
  if (!logout) return base
  return {
    ...base,
    async logout(session, context) {
      const end = { access: session.access_token, refresh: session.refresh_token, failed: false }
      run.ends.push(end)
      try {
        await logout.call(base, session, context)
      } catch (error) {
        end.failed = true
        throw error
      }
    },
  }
}

export async function runModel(
  config: Config,
  commands: readonly Command[],
  breakage: Breakage = {},
): Promise<Run> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
  vi.setSystemTime(Date.UTC(2026, 0, 1, 12))
  // Retry jitter uses Math.random: a seeded generator keeps every run reproducible (and values distinct).
  let seed = 0x2545f491
  vi.spyOn(Math, 'random').mockImplementation(() => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0
    return seed / 2 ** 32
  })
  const inner = memoryStore()
  const store: SessionStore = inner
  const run = new Run(config, store)
  run.robotWrong = config.credentialsWrong ?? false
  inner.subscribe?.((snapshot) => run.observeWrite(snapshot))
  try {
    for (let i = 0; i < config.instances; i++) {
      const instance = createSessionFetch({
        baseURL: BASE,
        fetch: run.api.transport(String(i)),
        store,
        allowedOrigins: [FILES],
        refreshWindowMs: config.refreshWindowMs,
        ...(config.mustRefreshMs === undefined
          ? {}
          : { mustRefreshMs: Math.min(config.mustRefreshMs, config.refreshWindowMs) }),
        refreshTimeoutMs: config.refreshTimeoutMs,
        protocol: observedProtocol(run, breakage),
        now: () => Date.now(),
        loginBackoffMs: breakage.loginBackoffMs ?? config.loginBackoffMs ?? 1_000,
        loginBackoffMaxMs: 8 * (breakage.loginBackoffMs ?? config.loginBackoffMs ?? 1_000),
        ...(config.credentials
          ? { credentials: () => (run.robotWrong ? { ...ROBOT, password: WRONG_PASSWORD } : ROBOT) }
          : {}),
      })
      for (const name of ['login', 'refresh', 'logout', 'expired'] as const) {
        instance.on(name, (payload) => {
          const reason = 'reason' in payload ? payload.reason : undefined
          run.events.push({ instance: i, name, at: Date.now(), ...(reason ? { reason } : {}) })
        })
      }
      run.listenersAdded.push(4)
      run.loggedOut.push(false)
      run.loggedOutAfter.push(0)
      run.backoff.push({ refusals: 0, until: 0 })
      run.instances.push(instance)
    }
    if (config.startLoggedIn) {
      const first = run.instances[0] as SessionFetch
      const login = first.login(DEMO)
      await flush()
      await deliverNow(run, 0, 'ok')
      await login
    }
    for (const command of commands) await execute(run, command)
    // The last logout, made exact: everything pending is delivered and settles first, then one instance logs
    // out with nothing racing it, and that settles too.
    let settled = await drain(run)
    if (settled) {
      if (run.api.liveFamilies().length > 0)
        run.count('scenario: the last logout() had a live session to end')
      run.finalFamily = run.current?.family
      await execute(run, { t: 'logout', instance: config.finalLogout ?? 0 })
      settled = await drain(run)
    }
    if (!settled) {
      const open = run.calls.filter((c) => !c.settled).map((c) => `${c.id} ${JSON.stringify(c.command)}`)
      run.violation(`hang: calls never settled: ${open.join('; ')}`)
    } else {
      await finalChecks(run)
    }
    return run
  } finally {
    for (const instance of run.instances) instance.close()
    vi.clearAllTimers()
    vi.useRealTimers()
    vi.restoreAllMocks()
  }
}

export async function finalChecks(run: Run): Promise<void> {
  if (vi.getTimerCount() > 0) run.violation(`${vi.getTimerCount()} timer(s) outlived every call`)
  await checkLoggedOut(run)
  // No request body carries a token, and only the login's carries a password.
  for (const exchange of run.api.history) {
    const body = await exchange.body.catch(() => undefined)
    if (!body) continue
    if (containsToken(body.text, run.api.tokens))
      run.violation(`a token in the body of ${exchange.method} ${exchange.url}`)
    if (exchange.kind !== 'login' && PASSWORDS.some((password) => body.text.includes(password)))
      run.violation(`a password in the body of ${exchange.method} ${exchange.url}`)
  }
  run.instances.forEach((instance, i) => {
    const stats = instance.stats()
    if (stats.pendingRefreshes !== 0)
      run.violation(`instance ${i}: ${stats.pendingRefreshes} refreshes pending`)
    if (stats.listeners !== run.listenersAdded[i]) {
      run.violation(`instance ${i}: ${stats.listeners} listeners, ${run.listenersAdded[i]} registered`)
    }
  })
  for (const call of run.calls) {
    if (call.signal && getEventListeners(call.signal, 'abort').length > 0) {
      run.violation(`call ${call.id}: an abort listener outlived the call`)
    }
    // Every attempt sent the caller's exact bytes and headers.
    const bodies = await Promise.all(call.exchanges.map((e) => e.body.catch(() => undefined)))
    bodies.forEach((body, i) => {
      const exchange = call.exchanges[i] as Exchange
      if (!body) return
      if (call.expectedHash !== undefined && body.hash !== call.expectedHash) {
        run.violation(`call ${call.id} attempt ${i + 1}: body bytes differ from what the caller sent`)
      }
      const type = body.contentType
      if (call.expectedType !== null && call.expectedType !== undefined && type !== call.expectedType) {
        run.violation(`call ${call.id} attempt ${i + 1}: content-type ${type}, expected ${call.expectedType}`)
      }
      if (exchange.headers.get('x-custom') !== 'kept')
        run.violation(`call ${call.id}: a caller header was lost`)
    })
    const [first, second] = bodies
    if (first && second && (first.hash !== second.hash || first.contentType !== second.contentType)) {
      run.violation(`call ${call.id}: the replay did not send identical bytes and headers`)
    }
  }
  // `expired` fires once per death: never twice without a new session in between, except once per refused
  // unattended login (`login_rejected`: each refusal is news, the credentials are wrong).
  for (let i = 0; i < run.instances.length; i++) {
    let dead = false
    for (const event of run.events.filter((e) => e.instance === i)) {
      if (event.name === 'expired' && event.reason === 'login_rejected' && event.instance === i) {
        dead = true
      } else if (event.name === 'expired') {
        if (dead) run.violation(`instance ${i}: expired fired twice for one death`)
        dead = true
      } else if (event.name === 'login' || event.name === 'refresh') dead = false
    }
  }
}

/**
 * After the last logout() (nothing else pending), no instance holds a session, and no session is live on the
 * server unless the client cannot end it (see {@link Run.excusedLive}).
 */
export async function checkLoggedOut(run: Run): Promise<void> {
  const logout = run.calls.at(-1)
  if (logout?.kind !== 'logout') run.violation('the last call is not the final logout()')
  // Nothing failed on its way (every call is answered as asked): the server confirmed, so it resolves.
  else if (logout.failed) run.violation(`the last logout() rejected: ${String(logout.error)}`)
  for (const [i, instance] of run.instances.entries()) {
    const session = await instance.getSession().catch((error: unknown) => error)
    if (session !== undefined) run.violation(`instance ${i} still holds a session after the last logout()`)
  }
  for (const family of run.api.liveFamilies()) {
    const excuse = run.excusedLive(family)
    if (excuse) run.count(excuse)
    else
      run.violation(
        `session ${family} is still live on the server after the last logout(): ${run.story(family)}`,
      )
  }
}
