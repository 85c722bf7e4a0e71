import type { Instrument } from '../core/instrument.js'
import type { Instrumentation } from '../core/options.js'
import type { RefreshTrigger } from '../core/refresh-types.js'

/** Why a session call was made. */
export type SessionCallTrigger =
  /** The token entered its refresh window: a refresh-ahead, which no request waits for. */
  | 'ahead'
  /** The token is inside its must-refresh margin or expired (requests wait for the refresh). */
  | 'due'
  /** A request with the token was refused (a 401). */
  | 'unauthorized'
  /** `refresh()`, `login()` or `logout()` was called. */
  | 'manual'
  /** A login from `credentials` (no session, or a refused refresh token). */
  | 'unattended'

/** How a session call ended. */
export type SessionCallOutcome =
  /** It brought a session (login, refresh) or ended it (logout). */
  | 'ok'
  /** The server refused it (400, 401 or 403): the refresh token or the credentials are no good. */
  | 'rejected'
  /** It could not complete: a network error, a timeout, a 5xx after its retries, an answer that is no session. */
  | 'failed'

/** One session call (a login, a refresh or a logout, its retries inside), as an observer is told of it. */
export interface SessionCallRecord {
  readonly kind: 'login' | 'refresh' | 'logout'
  readonly trigger: SessionCallTrigger
  /**
   * How many requests waited for the refresh this call made (a request waits when its token is due or was
   * refused, while the refresh runs). 0 for a refresh-ahead, a login from `login()` and a logout.
   */
  readonly waiters: number
  /** When it started and ended, epoch ms with a fraction (`performance.timeOrigin + performance.now()`). */
  readonly startTime: number
  readonly endTime: number
  readonly outcome: SessionCallOutcome
  /**
   * Why it did not succeed: `'refresh_rejected'` or `'login_rejected'` when the server refused it (the `expired`
   * event's reason), else the `code` of the error the callers got (`'refresh_failed'`, `'login_failed'`,
   * `'logout_failed'`, `'closed'`…). Undefined when it succeeded.
   */
  readonly errorType?: string | undefined
  /** The HTTP status of its last answer; undefined when none came (a network error, a timeout). */
  readonly status?: number | undefined
  /** The host and port it was sent to (`server.address`, `server.port`). */
  readonly serverAddress?: string | undefined
  readonly serverPort?: number | undefined
  /** What the observer's `cause()` returned when the call was asked for, in the caller's context. */
  readonly cause: unknown
}

/** What {@link observe} tells. Every method is optional; one that throws is ignored (it breaks no request). */
export interface SessionObserver {
  /**
   * Called in the context of whatever asks for a session call or waits (a request, `refresh()`, a timer's
   * refresh-ahead), before the call starts: its result comes back as the `cause` of what follows from it
   * (OpenTelemetry: the active context, so that the call's span has the request's span as its parent).
   */
  cause?(): unknown
  /** A session call ended. */
  sessionCall?(record: SessionCallRecord): void
  /** A request waited `seconds` for its token (a refresh, the first read of the store, a logout clearing). */
  wait?(seconds: number, cause: unknown): void
  /** A request refused with a 401 is sent once more, with the new token. */
  replay?(cause: unknown): void
}

const TRIGGERS: readonly SessionCallTrigger[] = ['ahead', 'due', 'unauthorized', 'manual']

const clock = (): number => performance.timeOrigin + performance.now()

/** One session call under way. */
interface OpenCall {
  kind: SessionCallRecord['kind']
  trigger: SessionCallTrigger
  startTime: number
  cause: unknown
  status?: number | undefined
  url?: string | undefined
  endTime?: number
  error?: unknown
}

/** A renewal under way (the coordinator's one refresh, which may make a refresh call, a login call, or none). */
interface Renewal {
  trigger: SessionCallTrigger
  cause: unknown
  waiters: number
  calls: OpenCall[]
}

/**
 * An `instrumentation` that tells `observer` of each session call (trigger, requests that waited, outcome, HTTP
 * status, server), each request that waited for a token and each replay. `otel()` is built on it; so is the
 * command's `--verbose`.
 *
 * Only the calls this client makes are told: with a shared store, the instance that refreshes tells of the
 * refresh, and the others of the waits of their requests. Not told: the logout of a session replaced by `login()`
 * (in the background) and the renewal a logout makes of an expired access token (inside the logout's call).
 *
 * @example
 * createSessionFetch({ baseURL, instrumentation: observe({ sessionCall: (call) => console.log(call) }) })
 */
export function observe(observer: SessionObserver): Instrumentation {
  if (typeof observer !== 'object' || observer === null) {
    throw new TypeError('observe(observer): expected an object with sessionCall, wait, replay or cause')
  }
  for (const name of ['cause', 'sessionCall', 'wait', 'replay'] as const) {
    if (observer[name] !== undefined && typeof observer[name] !== 'function') {
      throw new TypeError(`observe(observer): \`${name}\` must be a function`)
    }
  }
  const cause = (): unknown => {
    try {
      return observer.cause?.()
    } catch {
      return undefined
    }
  }
  const tell = (record: SessionCallRecord): void => {
    try {
      observer.sessionCall?.(record)
    } catch {
      // An observer's failure is not the session's.
    }
  }

  const instrument: Instrument = (client, pipeline, core, options) => {
    const { refresher } = core
    const calls = new Set<OpenCall>() // under way: the answers of the session calls' transport go to them
    let renewal: Renewal | undefined // the one under way

    // The session calls' transport (the requests' own was fixed when the client was built).
    const send = options.fetch
    options.fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input)
      const answered = send(input, init)
      const open = [...calls]
      for (const call of open) call.url = url
      answered.then(
        (response) => {
          for (const call of open) call.status = response.status
        },
        () => undefined,
      )
      return answered
    }

    const finish = (call: OpenCall, error?: unknown): void => {
      if (!calls.has(call)) return // ended already (with its renewal)
      call.endTime = clock()
      call.error = error
      calls.delete(call)
    }

    // A login or refresh call a renewal starts.
    options.watchCall = (kind, promise) => {
      const owner = renewal
      const call: OpenCall = {
        kind,
        trigger: kind === 'login' ? 'unattended' : (owner?.trigger ?? 'due'),
        startTime: clock(),
        cause: owner?.cause,
      }
      calls.add(call)
      owner?.calls.push(call)
      promise.then(
        () => finish(call),
        (error: unknown) => finish(call, error ?? new Error('failed')),
      )
    }

    // Every renewal starts here, with why; the first caller's context is its cause.
    const start = refresher.start
    refresher.start = (version, trigger: RefreshTrigger = 1, claims) => {
      const before = refresher.inflight
      const promise = start(version, trigger, claims)
      if (promise === before || refresher.inflight !== promise) return promise
      const started: Renewal = {
        trigger: TRIGGERS[trigger] ?? 'due',
        cause: cause(),
        waiters: 0,
        calls: [],
      }
      renewal = started
      if (trigger !== 0) count(started)
      const settle = (error?: unknown) => {
        if (renewal === started) renewal = undefined
        // A call whose answer never came ends with the renewal (at its deadline): what its callers got is its end.
        for (const call of started.calls) if (calls.has(call)) finish(call, error ?? new Error('abandoned'))
        const last = started.calls.at(-1)
        for (const call of started.calls)
          tell(record(call, started.waiters, call === last ? error : undefined))
      }
      promise.then(
        () => settle(),
        (error: unknown) => settle(error),
      )
      return promise
    }

    // Requests that wait for a token: for the renewal under way, the store's first read, a logout. A wait counts
    // as a waiter of the renewal under way when it begins, or else of the next urgent one to start before it ends
    // (a request that finds the store unread, then the session due).
    const waiting = new Set<{ counted: boolean }>()
    const count = (into: Renewal): void => {
      for (const wait of waiting) {
        if (wait.counted) continue
        wait.counted = true
        into.waiters++
      }
    }
    const waited = <T>(answer: T): T => {
      if (!(answer instanceof Promise)) return answer
      const wait = { counted: false }
      waiting.add(wait)
      if (renewal) count(renewal)
      const from = clock()
      const context = cause()
      const done = () => {
        waiting.delete(wait)
        try {
          observer.wait?.((clock() - from) / 1000, context)
        } catch {
          // ignored, as above
        }
      }
      answer.then(done, done)
      return answer
    }
    const tokenFor = pipeline.tokenFor
    pipeline.tokenFor = (signal, again) => waited(tokenFor(signal, again))
    const after = pipeline.after
    pipeline.after = (attempt, answer, signal) => waited(after(attempt, answer, signal))

    const noteReplay = core.noteReplay
    core.noteReplay = () => {
      noteReplay()
      try {
        observer.replay?.(cause())
      } catch {
        // ignored, as above
      }
    }

    // The session calls made on request: `login()` and `logout()` (a refresh() goes through the coordinator).
    const manual = <A extends unknown[], R>(
      kind: 'login' | 'logout',
      method: (...args: A) => Promise<R>,
    ): ((...args: A) => Promise<R>) => {
      return (...args) => {
        const call: OpenCall = { kind, trigger: 'manual', startTime: clock(), cause: cause() }
        calls.add(call)
        const promise = method(...args)
        // Nothing sent (closed, aborted, no session to end, bad credentials): no session call to tell of.
        const end = (error?: unknown) => {
          finish(call, error)
          if (call.url !== undefined) tell(record(call, 0))
        }
        promise.then(
          () => end(),
          (error: unknown) => end(error ?? new Error('failed')),
        )
        return promise
      }
    }
    client.login = manual('login', client.login)
    client.logout = manual('logout', client.logout)
  }
  return instrument as Instrumentation
}

// `callers`: for the last call of a renewal that failed, the error its callers got.
function record(call: OpenCall, waiters: number, callers?: unknown): SessionCallRecord {
  const { error } = call
  const ok = error === undefined
  const rejected = !ok && call.kind !== 'logout' && isRejection(error)
  let server: URL | undefined
  try {
    server = call.url === undefined ? undefined : new URL(call.url)
  } catch {
    server = undefined
  }
  return {
    kind: call.kind,
    trigger: call.trigger,
    waiters,
    startTime: call.startTime,
    endTime: call.endTime ?? clock(),
    outcome: ok ? 'ok' : rejected ? 'rejected' : 'failed',
    errorType: ok ? undefined : rejected ? `${call.kind}_rejected` : codeOf(callers ?? error),
    status: call.status ?? statusOf(error),
    serverAddress: server?.hostname.replace(/^\[|\]$/g, ''),
    serverPort: server ? Number(server.port || (server.protocol === 'https:' ? 443 : 80)) : undefined,
    cause: call.cause,
  }
}

const REFUSALS = new Set([400, 401, 403])

// The server refused the credentials or the refresh token: the protocol's SessionRejectedError, or the
// LoginError of a refused login (it has the server's status).
function isRejection(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  const status = statusOf(error)
  return (
    code === 'session_rejected' || (code === 'login_failed' && status !== undefined && REFUSALS.has(status))
  )
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | undefined)?.status
  return typeof status === 'number' ? status : undefined
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && code !== '') return code
  const name = (error as { name?: unknown } | undefined)?.name
  return typeof name === 'string' && name !== '' ? name : 'Error'
}
