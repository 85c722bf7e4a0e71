import { OptionError } from '../errors/option-error.js'
import type { SessionProtocol } from './protocol.js'
import type { SessionStore } from './store.js'
import { describe, parseBaseURL, parseDuration, parseOrigins, rejectUnknownOptions } from './validate.js'

/**
 * What the `instrumentation` option takes: what `otel()` or `observe()` (`session-fetch/otel`) returns. A function
 * the client calls once, when it is created, with its parts; which parts is this package's own business (they
 * change without notice), so build yours with `observe()`.
 */
export type Instrumentation = (...parts: never[]) => void

/** Options of `createSessionFetch`. Only `baseURL` is required. */
export interface SessionFetchOptions<Credentials = unknown> {
  /**
   * The API's base URL. Relative inputs are joined to it (`'/buyers'` → `${baseURL}/buyers`), and its origin is
   * the one that receives the access token.
   * @example 'https://api.plantly.gr4vy.app'
   */
  baseURL: string
  /**
   * The transport every request and session call goes through.
   * @default globalThis.fetch (looked up at call time)
   */
  fetch?: typeof globalThis.fetch
  /**
   * Where the session lives and how instances sharing it coordinate.
   * @default memoryStore()
   */
  store?: SessionStore
  /**
   * The refresh window: a request that finds the access token expiring within this many ms starts the one
   * shared refresh in the background and is sent at once with the current token (refresh-ahead). Never more
   * than half the token's lifetime. `0` turns proactive refreshes off (only a 401 refreshes).
   * @default 30_000
   */
  refreshWindowMs?: number
  /**
   * How many bytes of a streamed request body (a ReadableStream, an async iterable, a Node stream through the
   * axios or undici adapters) are kept while it is sent, so that a request refused with a 401 can be replayed with
   * the same bytes. A body that did not fit is not replayed: its 401 is given back (the refresh still happens).
   * The copy is dropped as soon as the answer arrives. `0` keeps nothing.
   * @default 1_048_576 (1 MiB)
   */
  replayBufferBytes?: number
  /**
   * The must-refresh margin: a request that finds the access token expiring within this many ms waits for the
   * refresh instead of sending it. Never more than a quarter of the token's lifetime, nor more than
   * `refreshWindowMs`.
   * @default 5_000 (or refreshWindowMs, if that is smaller)
   */
  mustRefreshMs?: number
  /**
   * Bound on one refresh (and on login and logout), retries included, in ms.
   * @default 10_000
   */
  refreshTimeoutMs?: number
  /**
   * Extra origins that may receive the access token, e.g. `['https://files.plantly.gr4vy.app']`. Exact origins
   * only: no paths, no wildcards.
   * @default [] (only baseURL's origin)
   */
  allowedOrigins?: readonly string[]
  /**
   * Decides which responses mean "this access token was refused".
   * @default (response) => response.status === 401
   */
  isUnauthorized?: (response: Response) => boolean
  /**
   * Supplies credentials for an unattended login: on the first request when there is no session, and again
   * when a refresh is rejected. Without it a dead session stays dead until you call `login()`.
   */
  credentials?: () => Credentials | Promise<Credentials>
  /**
   * After an unattended login (with `credentials`) fails, no other is attempted for this long; each further
   * failure doubles it, up to `loginBackoffMaxMs`. Calls in between fail at once with the same kind of error
   * (`LoginError` for refused credentials, `RefreshError` for a login that could not complete) without asking
   * `credentials` or the server. An explicit `login()` is never held back, and a success starts over.
   * @default 1_000
   */
  loginBackoffMs?: number
  /**
   * The longest backoff between unattended logins after repeated failures.
   * @default 300_000 (5 minutes)
   */
  loginBackoffMaxMs?: number
  /**
   * How sessions are obtained and renewed.
   * @default plantlySessions({ baseURL })
   */
  protocol?: SessionProtocol<Credentials>
  /**
   * The clock, in epoch ms. Only differences of its readings are used.
   * @default Date.now
   */
  now?: () => number
  /**
   * Watches the session's calls, the requests that wait for a token and the replays: `otel()` from
   * `session-fetch/otel` (OpenTelemetry spans and metrics), or `observe()` from there for your own. Without it
   * nothing is watched and the request path costs what it costs.
   */
  instrumentation?: Instrumentation
}

/**
 * The default `isUnauthorized`: a 401, unless its `WWW-Authenticate` says `error="insufficient_scope"` (RFC 6750
 * §3.1: the token is fine but lacks a scope, so a refresh would not help; the caller gets the answer and can
 * read the challenge with `parseWWWAuthenticate`). The pipeline recognises it and decides from the status and
 * header instead of building a Response; it also reads the other `insufficient_…` errors there (a claims
 * challenge gets a refresh with the claims; `insufficient_user_authentication` goes back, like a scope one, with
 * a `challenge` event). A custom `isUnauthorized` decides alone: no challenge is read then.
 */
export const defaultIsUnauthorized = (response: Response): boolean =>
  response.status === 401 && !response.headers.get('www-authenticate')?.includes('insufficient_scope')

/** Options after validation and defaults: nothing optional left but `credentials`. */
export interface ResolvedOptions<Credentials> {
  baseURL: URL
  fetch: typeof globalThis.fetch
  store: SessionStore
  refreshWindowMs: number
  mustRefreshMs: number
  replayBufferBytes: number
  refreshTimeoutMs: number
  allowedOrigins: ReadonlySet<string>
  isUnauthorized: (response: Response) => boolean
  credentials: (() => Credentials | Promise<Credentials>) | undefined
  loginBackoff: { baseMs: number; maxMs: number }
  protocol: SessionProtocol<Credentials>
  /** The issuer of the sessions: the protocol's `sessionIssuer` (or its deprecated `issuer`). */
  issuer: string
  now: () => number
  /**
   * Set by an instrumentation once the client is built, never by `resolveOptions`: told of each login and refresh
   * call a renewal makes, with its promise (its retries inside), as the call starts.
   */
  watchCall?: (kind: 'login' | 'refresh', call: Promise<unknown>) => void
}

const OPTIONS = {
  baseURL: true,
  fetch: true,
  store: true,
  refreshWindowMs: true,
  mustRefreshMs: true,
  replayBufferBytes: true,
  refreshTimeoutMs: true,
  allowedOrigins: true,
  isUnauthorized: true,
  credentials: true,
  loginBackoffMs: true,
  loginBackoffMaxMs: true,
  protocol: true,
  now: true,
  instrumentation: true,
} satisfies Record<keyof SessionFetchOptions, true>

/** What the composition root supplies when an option is left out (the core itself knows no store or protocol). */
export interface OptionDefaults<Credentials> {
  store(): SessionStore
  protocol(baseURL: URL): SessionProtocol<Credentials>
}

/** Validate user options and fill in defaults. Every error names the option. */
export function resolveOptions<Credentials>(
  options: SessionFetchOptions<Credentials>,
  defaults: OptionDefaults<Credentials>,
): ResolvedOptions<Credentials> {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', 'expected an object with at least `baseURL`')
  }
  rejectUnknownOptions(options, OPTIONS)
  const baseURL = parseBaseURL(options.baseURL, 'baseURL')
  const transport = options.fetch
  if (transport !== undefined && typeof transport !== 'function') {
    throw new OptionError('fetch', `expected a function, got ${describe(transport, false)}`)
  }
  const store = options.store ?? defaults.store()
  if (
    typeof store?.read !== 'function' ||
    typeof store.write !== 'function' ||
    (store.bind !== undefined && typeof store.bind !== 'function')
  ) {
    throw new OptionError(
      'store',
      'expected a SessionStore with `read` and `write` functions (and `bind`, if any)',
    )
  }
  const protocol = options.protocol ?? defaults.protocol(baseURL)
  if (typeof protocol?.login !== 'function' || typeof protocol.refresh !== 'function') {
    throw new OptionError('protocol', 'expected a SessionProtocol with `login` and `refresh` functions')
  }
  // `issuer`: the deprecated name of `sessionIssuer`, for custom protocols written before it.
  const issuer = protocol.sessionIssuer ?? protocol.issuer
  if (typeof issuer !== 'string' || issuer === '') {
    throw new OptionError('protocol', 'expected a SessionProtocol with a `sessionIssuer` string')
  }
  for (const name of ['isUnauthorized', 'credentials', 'now', 'instrumentation'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new OptionError(name, `expected a function, got ${describe(options[name], false)}`)
    }
  }
  const loginBackoffMs = parseDuration(options.loginBackoffMs ?? 1_000, 'loginBackoffMs', false)
  const loginBackoffMaxMs = parseDuration(options.loginBackoffMaxMs ?? 300_000, 'loginBackoffMaxMs', false)
  if (loginBackoffMaxMs < loginBackoffMs) {
    throw new OptionError(
      'loginBackoffMaxMs',
      `expected at least loginBackoffMs (${loginBackoffMs}), got ${loginBackoffMaxMs}`,
    )
  }
  const refreshWindowMs = parseDuration(options.refreshWindowMs ?? 30_000, 'refreshWindowMs', false)
  const mustRefreshMs = parseDuration(
    options.mustRefreshMs ?? Math.min(5_000, refreshWindowMs),
    'mustRefreshMs',
    false,
  )
  if (mustRefreshMs > refreshWindowMs) {
    throw new OptionError(
      'mustRefreshMs',
      `expected at most refreshWindowMs (${refreshWindowMs}), got ${mustRefreshMs}`,
    )
  }
  const resolved: ResolvedOptions<Credentials> = {
    baseURL,
    // Looked up per call so that test tools which patch globalThis.fetch after creation still apply.
    fetch: transport ?? ((input, init) => globalThis.fetch(input, init)),
    store,
    refreshWindowMs,
    mustRefreshMs,
    replayBufferBytes: parseByteCount(options.replayBufferBytes ?? 1_048_576, 'replayBufferBytes'),
    refreshTimeoutMs: parseDuration(options.refreshTimeoutMs ?? 10_000, 'refreshTimeoutMs', true),
    allowedOrigins: new Set([baseURL.origin, ...parseOrigins(options.allowedOrigins ?? [])]),
    isUnauthorized: options.isUnauthorized ?? defaultIsUnauthorized,
    credentials: options.credentials,
    loginBackoff: { baseMs: loginBackoffMs, maxMs: loginBackoffMaxMs },
    protocol,
    issuer,
    now: options.now ?? Date.now,
  }
  // Last, once every option is good: a store that serves one issuer refuses a client of another one now.
  store.bind?.(issuer)
  return resolved
}

function parseByteCount(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new OptionError(option, `expected a whole number of bytes >= 0, got ${describe(value)}`)
  }
  return value
}
