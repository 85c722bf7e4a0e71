import type { SessionFetch } from '../create-session-fetch.js'
import { excerpt, secretForms } from '../errors/server-text.js'
import type { SessionObserver } from '../otel/observe.js'
import { formatDuration } from './duration.js'

/** One answer the command received for the API (session calls aside): a hop of a redirect, or the last one. */
export interface Hop {
  method: string
  url: string
  status: number
  statusText: string
  headers: [name: string, value: string][]
}

/** What a transport in front of the client's fetch saw, and the trace it writes with `-v`. */
export interface Trace {
  /** The transport the client sends through (its API requests and its session calls). */
  fetch: typeof globalThis.fetch
  /** The API's answers since `reset()`, in order. */
  readonly hops: Hop[]
  reset(): void
  /** Trace the session's events (login, refresh, logout, expiry) and its replays; learn its tokens. */
  watch(plantly: Pick<SessionFetch, 'on' | 'stats' | 'getSession'>): Promise<void>
  /**
   * For `observe()` (src/otel/observe.ts): traces each session call (why, how many requests waited, its answer's
   * status, how it ended, how long it took) and each wait for a token. Its records hold no token; what it writes
   * is scrubbed as every other line.
   */
  readonly observer: SessionObserver
}

// Headers whose values are credentials: shown as [redacted] (Authorization keeps its scheme), with any header
// whose name says it holds a key, token, secret, password or signature (`x-api-key`, `x-auth-token`).
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'dpop', 'cookie', 'set-cookie'])
const SECRET_NAME = /(?:^|-)(?:key|token|secret|password|signature|session|auth)(?:$|-)/
// What a session call's answer shows of its headers besides their names: its body holds the tokens, and a
// hostile server may echo them anywhere else, before the command knows them.
const SHOWN_ON_SESSION_CALLS = new Set([
  'cache-control',
  'connection',
  'content-length',
  'content-type',
  'date',
  'keep-alive',
  'location',
  'retry-after',
  'transfer-encoding',
])

/**
 * A transport that records the API's answers (for `-i`'s hops) and, given `write`, traces every request and
 * answer on it as curl's `-v` does (`> ` sent, `< ` received, `* ` what the session did). No token is written:
 * credential headers are redacted, every token the command has seen (sent, or in the session) is replaced by
 * `[redacted]` wherever it appears, a session call's answer shows only its status code and benign headers, and
 * no body is traced.
 */
export function createTrace(options: {
  sessionsURL: string
  write?: ((line: string) => void) | undefined
  transport?: typeof globalThis.fetch
}): Trace {
  const { write } = options
  const sessions = comparable(options.sessionsURL)
  const transport = options.transport ?? globalThis.fetch
  const secrets = new Set<string>()
  const hops: Hop[] = []
  let replays = 0
  let stats: (() => { replays: number }) | undefined

  const learn = (token: string | undefined) => {
    if (token && token.length >= 8) secrets.add(token)
  }
  // Every form of every token seen (percent-encoded, JSON-escaped), and anything shaped like one; no control
  // characters: a server's reason phrase or header value is shown on a terminal.
  const scrub = (text: string) => excerpt(text, 4_000, secretForms(secrets))
  const say = (line: string) => write?.(`${scrub(line)}\n`)

  function requestHeaders(input: RequestInfo | URL, init: RequestInit | undefined): Headers {
    const headers = new Headers(input instanceof Request ? input.headers : undefined)
    if (init?.headers) for (const [name, value] of new Headers(init.headers)) headers.set(name, value)
    return headers
  }

  function shown(name: string, value: string, session: boolean): string {
    if (name === 'authorization' || name === 'proxy-authorization') {
      const [scheme, ...rest] = value.split(' ')
      learn(rest.join(' '))
      learn(value)
      return rest.length > 0 ? `${scheme} [redacted]` : '[redacted]'
    }
    if (SECRET_HEADERS.has(name) || SECRET_NAME.test(name)) {
      learn(value)
      return '[redacted]'
    }
    if (session && !SHOWN_ON_SESSION_CALLS.has(name)) return '[not shown: a session call]'
    return value
  }

  const fetch: typeof globalThis.fetch = async (input, init) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const session = comparable(url) === sessions
    const headers = requestHeaders(input, init)
    // Learnt before anything is written: the tokens this request carries.
    const sent = [...headers].map(([name, value]) => [name, shown(name, value, false)] as const)
    if (write) {
      const replayed = stats?.().replays ?? 0
      if (replayed > replays) say(`* replaying the request with the new token`)
      replays = replayed
      say(`> ${method} ${url}`)
      for (const [name, value] of sent) say(`> ${name}: ${value}`)
    }
    let response: Response
    try {
      response = await transport(input, init)
    } catch (error) {
      say(`* ${method} ${url} failed: ${error instanceof Error ? error.message : String(error)}`)
      throw error
    }
    const received = [...response.headers].map(
      ([name, value]) => [name, shown(name, value, session)] as [string, string],
    )
    if (write) {
      say(`< HTTP ${response.status}${session ? '' : ` ${response.statusText}`}`.trimEnd())
      for (const [name, value] of received) say(`< ${name}: ${value}`)
    }
    if (!session) {
      const headers = [...response.headers] // as it came: -i prints the API's answer as curl does
      hops.push({ method, url, status: response.status, statusText: response.statusText, headers })
    }
    return response
  }

  async function watch(plantly: Pick<SessionFetch, 'on' | 'stats' | 'getSession'>): Promise<void> {
    stats = () => plantly.stats()
    replays = plantly.stats().replays
    const current = await plantly.getSession()
    learn(current?.access_token)
    learn(current?.refresh_token)
    const expiry = (seconds: number | undefined) =>
      seconds === undefined ? 'has no expiry known' : `expires in ${formatDuration(seconds * 1000)}`
    for (const event of ['login', 'refresh'] as const) {
      plantly.on(event, ({ session, source }) => {
        learn(session.access_token)
        learn(session.refresh_token)
        const by = source === 'store' ? ' by another process' : ''
        const verb = event === 'login' ? 'logged in' : 'refreshed'
        say(`* session ${verb}${by}: the access token ${expiry(session.expires_in)}`)
      })
    }
    plantly.on('logout', ({ source }) =>
      say(`* session logged out${source === 'store' ? ' by another process' : ''}`),
    )
    plantly.on('expired', ({ reason }) => say(`* session expired (${reason.replace('_', ' ')})`))
  }

  const observer: SessionObserver = {
    sessionCall(call) {
      const status = call.status === undefined ? '' : `, HTTP ${call.status}`
      const outcome = call.errorType === undefined ? call.outcome : `${call.outcome} (${call.errorType})`
      say(
        `* session-fetch ${call.kind}: trigger ${call.trigger}, ${call.waiters} waiting${status}, ${outcome} in ${seconds((call.endTime - call.startTime) / 1000)}`,
      )
    },
    wait: (waited) => say(`* waited ${seconds(waited)} for a token`),
  }

  return {
    fetch,
    hops,
    reset: () => {
      hops.length = 0
    },
    watch,
    observer,
  }
}

const seconds = (value: number) => `${Math.max(0, value).toFixed(2)} s`

// A URL as the client may write it (a trailing slash, a query) reduced to what names the resource.
function comparable(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`
  } catch {
    return url
  }
}
