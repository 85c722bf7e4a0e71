import {
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosResponse,
  getAdapter,
  type InternalAxiosRequestConfig,
} from 'axios'
import type { Answer } from '../../core/pipeline.js'
import type { SessionFetch } from '../../core/session-fetch.js'
import { OptionError } from '../../errors/option-error.js'
import { type BodyCopy, copyingIterable, createBodyCopy, isAsyncIterable } from '../shared/body-copy.js'
import { serializeFormData } from '../shared/form-data.js'
import { pipelineOf } from '../shared/pipeline-registry.js'
import { isReplayableBody } from '../shared/replayable-body.js'
import { responseFrom } from '../shared/response-from.js'
import { hideToken, REDACTED } from './hide-token.js'
import { guardRedirects } from './redirect-guard.js'

export type { SessionSource } from '../shared/pipeline-registry.js'

/**
 * The config key where the session keeps, per request, the adapter it wraps and the header value it left on
 * the config. A string key, because axios copies a config's keys when the caller sends `error.config` again; a
 * class, so that axios keeps it by reference, and the value in a private field, so that no JSON of the config
 * shows it.
 */
const MARK = 'sessionFetch'
class Mark {
  #placed: string | undefined
  constructor(
    readonly adapter: InternalAxiosRequestConfig['adapter'],
    readonly sessionAdapter: AxiosAdapter,
  ) {}
  /** The session set `Authorization` to `value` (its token while it sends, the placeholder once it is over). */
  placed(value: string): void {
    this.#placed = value
  }
  /** Whether `authorization` is the header this session put on the request. */
  isOurs(authorization: unknown): boolean {
    return this.#placed !== undefined && authorization === this.#placed
  }
}
type MarkedConfig = InternalAxiosRequestConfig & { [MARK]?: Mark }

const attached = new WeakSet<object>()
/** axios's own default adapters, for a config whose instance has none set (as dispatchRequest falls back). */
const FALLBACK = ['xhr', 'http', 'fetch']

/**
 * Put a session on an axios instance. Each request goes out through a session adapter wrapped around the
 * request's own adapter: after every request interceptor and `transformRequest` have run, it adds
 * `Authorization: Bearer <access token>` to requests for the session's origins (waiting for a running refresh
 * instead of sending the old token), and answers a 401 by waiting for the session's one shared refresh and
 * sending the same, already serialized request once more. Interceptors and transforms therefore run once per
 * call, replay or not, and they see only the final response.
 *
 * What interceptor-based refreshers get wrong, handled: a 401 that arrives while a refresh runs waits for it and
 * is replayed; every instance attached to one session shares its one refresh; a replay sends the same body with
 * the same Content-Type (FormData is serialized once so the replay sends identical bytes); the session's own calls never go through axios, and requests to its endpoints are
 * passed through untouched, so a refresh can never loop. A request that already has an `Authorization`
 * header, a request to another origin, and a request sent while there is no session pass through untouched.
 * A stream body is sent once: its 401 is returned, and the refresh still happens for the requests that
 * follow. When the session is gone the caller gets its own 401; when the refresh cannot complete the request
 * rejects with `RefreshError`; an aborted wait rejects as axios reports any abort (`axios.isCancel`).
 *
 * @param instance The axios instance (`axios.create()`); one session at a time.
 * @param session A {@link index.SessionFetch | createSessionFetch()} client (a Plantly or an `oauth2()` one; not
 * one whose protocol binds tokens to a proof per request, DPoP).
 * @returns A function that detaches the session again.
 * @example
 * import axios from 'axios'
 * import { attachSession } from 'session-fetch/axios'
 *
 * const api = axios.create({ baseURL: 'https://api.plantly.gr4vy.app' })
 * const detach = attachSession(api, plantly)
 * const { data } = await api.get('/buyers')
 */
export function attachSession(instance: AxiosInstance, session: SessionFetch<unknown>): () => void {
  if (typeof instance?.interceptors?.request?.use !== 'function' || typeof instance.getUri !== 'function') {
    throw new OptionError('instance', 'expected an axios instance (axios.create())')
  }
  const pipeline = pipelineOf(session, 'session')
  if (attached.has(instance)) {
    throw new OptionError('instance', 'a session is already attached; call the detach function first')
  }
  attached.add(instance)
  let detached = false

  // Synchronous (axios then dispatches without a promise turn): it only routes the request through `sessionAdapter`.
  function route(config: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
    const marked = config as MarkedConfig
    const earlier = marked[MARK] instanceof Mark ? marked[MARK] : undefined
    // A config this session already sent (`error.config`), handed to axios again: its token may be stale.
    if (earlier?.isOurs(config.headers.get('Authorization'))) config.headers.delete('Authorization')
    const adapter =
      earlier !== undefined && config.adapter === earlier.sessionAdapter ? earlier.adapter : config.adapter
    marked[MARK] = new Mark(adapter, sessionAdapter)
    config.adapter = sessionAdapter
    return config
  }

  // The session adapter: axios calls it with the final config (body already transformed), once per call.
  async function sessionAdapter(config: InternalAxiosRequestConfig): Promise<AxiosResponse> {
    const mark = (config as MarkedConfig)[MARK] as Mark
    const send = getAdapter(mark.adapter ?? FALLBACK, config)
    if (detached || config.headers.has('Authorization')) return send(config) // the caller's own credentials
    const url = absoluteURL(config)
    const method = (config.method ?? 'get').toUpperCase()
    if (url === undefined || !pipeline.covers(url, method)) return send(config)
    // The Authorization values this call sends: kept off other origins while it runs, hidden once it is over.
    const sent: string[] = []
    const unguard = guardRedirects(config, sent, pipeline.covers)
    let outcome: Outcome | undefined
    try {
      outcome = await exchange(config, mark, send, method, sent, url)
      return giveBack(outcome)
    } finally {
      unguard()
      if (sent.length > 0) {
        hideToken(config, sent, outcome?.response, outcome?.failure?.error)
        mark.placed(REDACTED)
      }
    }
  }

  // The attempt, and the one replay after a refusal. Settles with the outcome to give back; rejects only when a
  // wait for the session did (an abort, or a refresh that could not complete).
  async function exchange(
    config: InternalAxiosRequestConfig,
    mark: Mark,
    send: AxiosAdapter,
    method: string,
    sent: string[],
    url: string,
  ): Promise<Outcome> {
    const signal = signalOf(config)
    const pending = pipeline.tokenFor(signal)
    const token = typeof pending === 'object' ? await pending : pending
    if (config.data instanceof FormData) {
      // Serialized once, so that a replay sends identical bytes under the same multipart boundary.
      const { bytes, contentType } = await serializeFormData(config.data)
      config.data = bytes
      config.headers.setContentType(contentType)
    }
    const fixed = isReplayableBody(config.data)
    const copy = fixed ? undefined : copyNodeStream(config, pipeline.replayBufferBytes)
    const attempt = async (with_: string | undefined): Promise<Outcome> => {
      if (with_ !== undefined) {
        const value = `Bearer ${with_}`
        config.headers.set('Authorization', value)
        mark.placed(value)
        sent.push(value)
      }
      // An adapter rejects on a status validateStatus refuses, and resolves on one it accepts (a 401 too).
      try {
        return { response: await send(config), failure: undefined }
      } catch (error) {
        return { response: (error as { response?: AxiosResponse } | null)?.response, failure: { error } }
      }
    }

    const first = await attempt(token)
    const response = first.response
    // A streamed body that went out whole within the bound can be sent again from its copy.
    const replayable = fixed || copy?.bytes() !== undefined
    if (response === undefined || !pipeline.mayRefuse(response.status)) {
      copy?.release()
      return first
    }
    const decided = pipeline.after(
      { token, method, replayable, replay: false, url },
      answerOf(response),
      signal,
    )
    const next = decided === undefined ? undefined : await decided
    if (next === undefined) {
      copy?.release()
      return first // the caller's own answer (the session may be gone)
    }
    discard(response.data)
    if (copy) {
      config.data = (copy.bytes() as Uint8Array<ArrayBuffer>).buffer // axios sends an ArrayBuffer as is
      copy.release()
    }
    const replay = await attempt(next) // the one replay: whatever it answers is the caller's
    if (replay.response && pipeline.mayRefuse(replay.response.status)) {
      pipeline.after({ token: next, method, replayable, replay: true, url }, answerOf(replay.response))
    }
    return replay
  }

  const requestId = instance.interceptors.request.use(route, undefined, { synchronous: true })

  return function detach() {
    if (detached) return
    detached = true
    instance.interceptors.request.eject(requestId)
    attached.delete(instance)
  }
}

type NodeReadable = AsyncIterable<Uint8Array | string> & {
  pipe(destination: unknown): unknown
  getHeaders?: () => Record<string, string>
}

// Node's stream module, where there is one, without importing it (this adapter also runs in browsers, where axios
// sends no Node streams): process.getBuiltinModule (Node >= 20.16).
interface NodeStreamModule {
  Readable: {
    from(iterable: AsyncIterable<Uint8Array>): unknown
    new (): { wrap(stream: unknown): AsyncIterable<Uint8Array | string> }
  }
}
function nodeStream(): NodeStreamModule | undefined {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule
  return get?.('node:stream') as NodeStreamModule | undefined
}

// A Node stream body (fs.createReadStream, the form-data package) is sent through a copy of what it sends, up to
// `limit` bytes, so a refused request can be replayed with the same bytes. The multipart headers of a form-data
// body are set from it first, as axios would.
function copyNodeStream(config: InternalAxiosRequestConfig, limit: number): BodyCopy | undefined {
  const data = config.data as Partial<NodeReadable> | null | undefined
  if (limit <= 0 || typeof data?.pipe !== 'function') return undefined
  const stream = nodeStream()
  if (!stream) return undefined
  const { getHeaders } = data
  if (typeof getHeaders === 'function') config.headers.set(getHeaders.call(data))
  // An old-style stream (form-data is one) is read through a Readable that wraps it, and started: form-data
  // sends nothing until it is resumed (what piping it would do).
  let source: AsyncIterable<Uint8Array | string>
  if (isAsyncIterable(data)) source = data
  else {
    source = new stream.Readable().wrap(data)
    ;(data as { resume?: () => void }).resume?.()
  }
  const copy = createBodyCopy(limit)
  config.data = stream.Readable.from(copyingIterable(source, copy))
  return copy
}

/** What one attempt came to: the answer (also the one an adapter rejects with), or the adapter's error. */
interface Outcome {
  response: AxiosResponse | undefined
  failure: { error: unknown } | undefined
}

function giveBack(outcome: Outcome): AxiosResponse {
  if (outcome.failure !== undefined) throw outcome.failure.error
  return outcome.response as AxiosResponse
}

// An axios response as the pipeline reads it.
function answerOf(response: AxiosResponse): Answer {
  return {
    status: response.status,
    header(name) {
      const value = (response.headers as Record<string, unknown> | undefined)?.[name]
      if (value === undefined || value === null) return undefined
      return Array.isArray(value) ? value.map(String).join(', ') : String(value)
    },
    url: finalURL(response),
    response: () => responseFrom(response.status, response.statusText, headerEntries(response.headers)),
  }
}

function signalOf(config: InternalAxiosRequestConfig): AbortSignal | undefined {
  return config.signal instanceof AbortSignal ? config.signal : undefined
}

// The URL axios sends to (its buildFullPath: baseURL joined unless the url is absolute and allowed); the query
// is left out, it does not change the origin or the path. A relative result resolves against the page, if any.
function absoluteURL(config: InternalAxiosRequestConfig): string | undefined {
  const url = config.url ?? ''
  const base = config.baseURL
  const full =
    base && (!/^([a-z][a-z\d+\-.]*:)?\/\//i.test(url) || config.allowAbsoluteUrls === false)
      ? url
        ? `${base.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`
        : base
      : url
  const page = (globalThis as { location?: { href?: string } }).location?.href
  // Consecutive requests mostly go to the same URL: the last one is parsed once (a pure function of its input).
  if (full === parsed.full && page === parsed.page) return parsed.href
  let href: string | undefined
  try {
    href = new URL(full, page).href
  } catch {
    href = undefined
  }
  parsed = { full, page, href }
  return href
}
let parsed: { full: string; page: string | undefined; href: string | undefined } = {
  full: '',
  page: undefined,
  href: undefined,
}

// The URL that answered, when axios followed redirects and says where to: Node's http adapter
// (follow-redirects' `responseUrl`) and XMLHttpRequest (`responseURL`). axios's fetch adapter does not say.
function finalURL(response: AxiosResponse): string | undefined {
  const request = response.request as
    | { res?: { responseUrl?: unknown }; responseURL?: unknown }
    | null
    | undefined
  const url = request?.res?.responseUrl ?? request?.responseURL
  return typeof url === 'string' && url !== '' ? url : undefined
}

function headerEntries(headers: AxiosResponse['headers']): [string, string | string[]][] {
  const entries: [string, string | string[]][] = []
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === 'string' || typeof value === 'number') entries.push([name, String(value)])
    else if (Array.isArray(value)) entries.push([name, value.map(String)])
  }
  return entries
}

// A refused response read as a stream (responseType 'stream') is closed before the replay.
function discard(data: unknown): void {
  const body = data as { destroy?: () => void; cancel?: () => Promise<void> } | null
  if (typeof body?.destroy === 'function') body.destroy()
  else if (typeof body?.cancel === 'function') body.cancel().catch(() => undefined)
}
