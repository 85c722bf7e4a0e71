import type { SessionEventMap, SessionEventName } from '../core/events.js'
import { parseSession } from '../core/parse-session.js'
import type { SessionProtocol } from '../core/protocol.js'
import type { SessionRecord } from '../core/session.js'
import type { SessionStats } from '../core/session-core.js'
import type { SessionStore, StoreSnapshot } from '../core/store.js'
import { parseDuration } from '../core/validate.js'
import { createSessionFetch, type SessionFetch, type SessionFetchOptions } from '../create-session-fetch.js'
import { OptionError } from '../errors/option-error.js'
import { SessionExpiredError } from '../errors/session-expired-error.js'
import type { PlantlyCredentials } from '../protocols/plantly/plantly-protocol.js'
import { createClientCache, type Entry, type OwnedStore, trackSnapshots } from './client-cache.js'
import {
  type CookieOptions,
  clearCookies,
  type RequestLike,
  readCookie,
  resolveCookie,
  setCookies,
} from './cookie-header.js'
import { createSealer, parseSecrets } from './cookie-seal.js'
import { parsePoolOptions } from './pool.js'
import { EMPTY, type SeededStore, seededStore } from './seeded-store.js'

/**
 * Options of {@link cookieSessions}: every option of `createSessionFetch` but `store` and `credentials`, plus the
 * cookie's.
 * @interface
 */
export type CookieSessionsOptions<Credentials = PlantlyCredentials> = Omit<
  SessionFetchOptions<Credentials>,
  'store' | 'credentials'
> & {
  /**
   * Secrets of at least 32 bytes each (e.g. 32 random bytes, base64): the first seals new cookies, every one
   * opens them, so a new secret goes first and an old one stays last until the cookies it sealed are gone.
   */
  secrets: ReadonlyArray<string | Uint8Array>
  /** The cookie's name and attributes; `HttpOnly` always. */
  cookie: CookieOptions
  /**
   * Keep each browser's session in this store (e.g. `(id) => redisStore({ client, key: \`plantly:browser:${id}\` })`)
   * rather than in the cookie: the cookie then holds only the session's id (sealed), every process sharing the
   * store makes one refresh per expiry between them, a logout ends the session everywhere, and a request with an
   * older cookie gets the newest session for as long as the session lives.
   * @default none: the cookie holds the session (its tokens, sealed)
   */
  store?: (id: string) => SessionStore
  /**
   * Without `store`: how long after its last use a process keeps a session it refreshed, so that a request still
   * carrying the cookie from before the refresh gets the new session (and the new cookie) instead of presenting
   * the rotated-out refresh token. With `store`: how long an idle session's client stays open.
   * @default 60_000
   */
  rotationGraceMs?: number
  /**
   * How many sessions the process keeps open at most (the least recently used idle one goes first).
   * @default 10_000
   */
  max?: number
}

/** The session of one request: a `SessionFetch`, and the cookies to send back. */
export interface CookieSession<Credentials = PlantlyCredentials> extends SessionFetch<Credentials> {
  /**
   * The `Set-Cookie` values to send with the response: `[]` when nothing changed, the sealed new cookie after a
   * login or a refresh (or when the request carried an older one), a clearing cookie after a logout or when the
   * request carried a cookie that does not open. Reflects the calls that have settled: call it after them.
   */
  cookies(): string[]
}

/** Sessions carried by the browser in a sealed cookie. */
export interface CookieSessions<Credentials = PlantlyCredentials> {
  /** The session in the request's cookie (none when it has no cookie, or one that does not open). Never throws. */
  open(request: RequestLike): CookieSession<Credentials>
  /** Close every session client of this process (each drains) and the stores got from `store`. */
  close(): Promise<void>
}

// A day: how long, without `store` and without `cookie.maxAge`, a process remembers a session it saw end.
const ENDED_MS = 86_400_000
const ID = /^[A-Za-z0-9_-]{16,64}$/

const randomId = () =>
  btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(18))))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')

/** What a cookie that opened says. */
interface Opened {
  id: string
  version: number
  /** Without `store`: the session itself. */
  snapshot: StoreSnapshot | undefined
}

/** What a process knows of one session id (one per live client). */
interface Cell {
  latest: StoreSnapshot | undefined
  sealed: { version: number; value: string } | undefined
  sealing: Promise<void>
  touchedAt: number
  seeded: SeededStore | undefined
}

/**
 * Sessions for server-rendered apps: each browser's session travels in a sealed, HttpOnly cookie (a JWE, `dir` +
 * `A256GCM`, under a key derived from `secrets`), or, with `store`, in a store the cookie names. `open(request)`
 * gives the request's session as a `SessionFetch`, and `cookies()` what to send back. Requests of one browser that
 * arrive together across an expiry make one refresh (per process; with `store`, across processes), and one that
 * still carries the cookie from before a refresh is served with the new session.
 *
 * @example
 * const sessions = cookieSessions({
 *   baseURL: 'https://api.plantly.gr4vy.app',
 *   secrets: [process.env.SESSION_SECRET],
 *   cookie: { name: 'plantly_session', path: '/', sameSite: 'lax', secure: true },
 * })
 * const session = sessions.open(request)
 * const res = await session.fetch('/buyers')
 * for (const c of session.cookies()) response.headers.append('set-cookie', c)
 */
export function cookieSessions<Credentials = PlantlyCredentials>(
  options: CookieSessionsOptions<Credentials>,
): CookieSessions<Credentials> {
  const parsed = parsePoolOptions<Credentials, 'secrets' | 'cookie' | 'rotationGraceMs'>(options, [
    'secrets',
    'cookie',
    'rotationGraceMs',
  ])
  if (parsed.credentials) {
    throw new OptionError(
      'credentials',
      'cookie sessions log in with `session.login()`: an unattended login would give every browser the same account',
    )
  }
  const cookie = resolveCookie(parsed.extra.cookie)
  const sealer = createSealer(parseSecrets(parsed.extra.secrets), cookie.name)
  const grace = parseDuration(parsed.extra.rotationGraceMs ?? 60_000, 'rotationGraceMs', false)
  const { clientOptions } = parsed
  const storeOf = parsed.store
  const protocol = clientOptions.protocol as SessionProtocol<Credentials>
  const sessionIssuer = (protocol.sessionIssuer ?? protocol.issuer) as string
  // A cookie of another API, or of the other mode, does not open here.
  const issuer = `${sessionIssuer}#${storeOf ? 'store' : 'cookie'}`
  const endedMs = Math.max(grace, cookie.maxAge ? cookie.maxAge * 1000 : ENDED_MS)

  const cells = new Map<string, Cell>()
  // Without `store`: sessions this process saw end (logout, refused refresh), so an older cookie does not revive them.
  const ended = new Map<string, number>()
  let seed: { id: string; snapshot: StoreSnapshot } | undefined

  function seen(id: string, cell: Cell, snapshot: StoreSnapshot): void {
    if (cell.latest && snapshot.version <= cell.latest.version) return
    cell.latest = snapshot
    const record = snapshot.record
    if (!record) {
      if (!storeOf && snapshot.version > 0) {
        ended.delete(id)
        ended.set(id, Date.now() + endedMs)
        if (ended.size > parsed.max) ended.delete(ended.keys().next().value as string)
      }
      return
    }
    if (cell.sealed && cell.sealed.version >= snapshot.version) return
    const payload: Record<string, unknown> = { iss: issuer, id, v: snapshot.version }
    if (!storeOf) payload.r = record
    if (cookie.maxAge) payload.exp = Date.now() + cookie.maxAge * 1000
    cell.sealing = sealer.seal(payload).then(
      (value) => {
        if (!cell.sealed || cell.sealed.version < snapshot.version) {
          cell.sealed = { version: snapshot.version, value }
        }
      },
      () => undefined, // never happens with a derived key; the cookie stays as it was
    )
  }

  const cache = createClientCache<Credentials>({
    max: parsed.max,
    exactOrder: true, // sweep() retires them oldest first
    create(id) {
      const cell: Cell = {
        latest: undefined,
        sealed: undefined,
        sealing: Promise.resolve(),
        touchedAt: Date.now(),
        seeded: undefined,
      }
      cells.set(id, cell)
      let inner: OwnedStore
      if (storeOf) inner = storeOf(id)
      else {
        cell.seeded = seededStore(seed?.id === id ? seed.snapshot : EMPTY)
        inner = cell.seeded
      }
      const store = trackSnapshots(inner, (snapshot) => seen(id, cell, snapshot))
      return { client: createSessionFetch<Credentials>({ ...clientOptions, store }), store }
    },
    async release(entry) {
      if (cells.get(entry.key) && !cache.peek(entry.key)) cells.delete(entry.key)
      if (storeOf) await entry.store.close?.()
    },
    touched(entry) {
      const cell = cells.get(entry.key)
      if (cell) cell.touchedAt = Date.now()
    },
  })

  function sweep(): void {
    const at = Date.now()
    cache.sweep((entry) => (cells.get(entry.key)?.touchedAt ?? 0) + grace < at)
    for (const [id, until] of ended) {
      if (until > at) break
      ended.delete(id)
    }
  }

  function readPayload(payload: Record<string, unknown> | undefined): Opened | undefined {
    if (!payload || payload.iss !== issuer) return undefined
    const { id, v, r, exp } = payload
    if (typeof id !== 'string' || !ID.test(id)) return undefined
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) return undefined
    if (exp !== undefined && (typeof exp !== 'number' || exp <= Date.now())) return undefined
    if (storeOf) return { id, version: v, snapshot: undefined }
    const record = readRecord(r)
    return record ? { id, version: v, snapshot: Object.freeze({ version: v, record }) } : undefined
  }

  function readRecord(value: unknown): SessionRecord | undefined {
    const stored = value as Partial<SessionRecord> | null
    if (
      typeof stored !== 'object' ||
      stored === null ||
      typeof stored.receivedAt !== 'number' ||
      (stored.expiresAt !== undefined && typeof stored.expiresAt !== 'number') ||
      stored.issuer !== sessionIssuer
    ) {
      return undefined
    }
    try {
      const session = parseSession(stored.session, ['bearer', 'dpop'])
      return Object.freeze({
        session: Object.freeze(session),
        receivedAt: stored.receivedAt,
        expiresAt: stored.expiresAt,
        issuer: stored.issuer,
      })
    } catch {
      return undefined
    }
  }

  // A client for requests without a session: it never holds one (its store takes no write).
  let anonymous: SessionFetch<Credentials> | undefined
  const noSession: SessionStore = { read: () => EMPTY, write: () => undefined }
  const withoutSession = () => {
    anonymous ??= createSessionFetch<Credentials>({ ...clientOptions, store: noSession })
    return anonymous
  }

  function open(request: RequestLike): CookieSession<Credentials> {
    sweep()
    const carried = readCookie(request, cookie.name)
    let state: 'none' | 'bad' | 'ok' | 'ended' | undefined
    let opened: Opened | undefined
    // The id this request's calls go to (undefined: no session), and what it last saw of it.
    let id: string | undefined
    let latest: StoreSnapshot | undefined
    let sealed: Cell['sealed']
    const pending: Array<[SessionEventName, (payload: never) => void, { off?: () => void }]> = []

    // The live entry of `id`; without `store`, a client evicted meanwhile comes back from what this request saw.
    function entry(): Entry<Credentials> {
      const key = id as string
      if (!storeOf && !cache.peek(key)) seed = { id: key, snapshot: latest ?? EMPTY }
      try {
        return cache.entry(key)
      } finally {
        seed = undefined
      }
    }

    function attach(): void {
      if (id === undefined) return
      const client = entry().client
      for (const listening of pending) {
        listening[2].off = client.on(listening[0], listening[1] as never)
      }
      pending.length = 0
    }

    let ready: Promise<void> | undefined
    const prepare = () => {
      ready ??= (async () => {
        if (carried.value === undefined) {
          state = 'none'
          return
        }
        opened = readPayload(await sealer.open(carried.value))
        if (!opened) {
          state = 'bad'
          return
        }
        if (!storeOf && (ended.get(opened.id) ?? 0) > Date.now()) {
          state = 'ended'
          return
        }
        state = 'ok'
        id = opened.id
        latest = opened.snapshot
        const live = cache.peek(opened.id)
        if (live && opened.snapshot) cells.get(opened.id)?.seeded?.offer(opened.snapshot)
        entry()
        const cell = cells.get(opened.id)
        if (cell && (!cell.sealed || cell.sealed.version < opened.version)) {
          cell.sealed = { version: opened.version, value: carried.value }
        }
        attach()
      })()
      return ready
    }

    // After a call: what the session looks like now, with its cookie sealed.
    async function settle(): Promise<void> {
      if (id === undefined) return
      const cell = cells.get(id)
      if (!cell) return
      await cell.sealing
      if (cell.latest && (!latest || cell.latest.version >= latest.version)) latest = cell.latest
      if (cell.sealed && (!sealed || cell.sealed.version >= sealed.version)) sealed = cell.sealed
    }

    async function through<T>(
      run: (client: SessionFetch<Credentials>) => Promise<T>,
      otherwise: () => Promise<T>,
    ): Promise<T> {
      await prepare()
      if (id === undefined) return otherwise()
      try {
        return await run(entry().facade)
      } finally {
        await settle()
      }
    }

    const session: CookieSession<Credentials> = {
      fetch: (input, init) =>
        through(
          (client) => client.fetch(input, init),
          () => withoutSession().fetch(input, init),
        ),
      async login(credentials, callOptions) {
        await prepare()
        const before = { id, latest, sealed }
        // Always a new id: a cookie planted in the browser before the login never names the new session.
        id = randomId()
        latest = EMPTY
        sealed = undefined
        attach()
        try {
          const loggedIn = await entry().facade.login(credentials, callOptions)
          await settle()
          return loggedIn
        } catch (error) {
          // Refused: the request keeps the session it came with (if any); the new id was never written.
          void cache.delete(id as string)
          ;({ id, latest, sealed } = before)
          throw error
        }
      },
      refresh: (callOptions) =>
        through(
          (client) => client.refresh(callOptions),
          () => Promise.reject(new SessionExpiredError('no_session')),
        ),
      accessToken: (callOptions) =>
        through(
          (client) => client.accessToken(callOptions),
          () => Promise.reject(new SessionExpiredError('no_session')),
        ),
      getSession: () =>
        through(
          (client) => client.getSession(),
          async () => undefined,
        ),
      logout: (callOptions) =>
        through(
          (client) => client.logout(callOptions),
          async () => undefined,
        ),
      on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void) {
        const handle: { off?: () => void } = {}
        const listening: (typeof pending)[number] = [event, listener as (payload: never) => void, handle]
        if (id !== undefined) handle.off = entry().client.on(event, listener)
        else {
          pending.push(listening)
          void prepare().catch(() => undefined)
        }
        return () => {
          handle.off?.()
          const at = pending.indexOf(listening)
          if (at !== -1) pending.splice(at, 1)
        }
      },
      stats(): SessionStats {
        return id === undefined
          ? { refreshes: 0, logins: 0, replays: 0, pendingRefreshes: 0, listeners: pending.length }
          : entry().client.stats()
      },
      // The clients belong to `cookieSessions` (sessions.close()); a request's session has nothing of its own.
      close: async () => undefined,
      cookies() {
        if (state === 'ended') return clearCookies(cookie, carried.names)
        if (id === undefined) return state === 'bad' ? clearCookies(cookie, carried.names) : []
        const now = latest
        if (!now) return [] // with `store`, before any call: nothing known yet, nothing to change
        if (!now.record) {
          return carried.value !== undefined || now.version > 0 ? clearCookies(cookie, carried.names) : []
        }
        const sameId = state === 'ok' && opened?.id === id
        if (sameId && now.version === opened?.version) return []
        if (sealed && (!sameId || sealed.version > (opened?.version ?? 0))) {
          return setCookies(cookie, sealed.value, carried.names)
        }
        return []
      },
    }
    return session
  }

  return {
    open,
    close: () => cache.close(),
  }
}
