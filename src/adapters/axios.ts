import type { AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios'
import { OptionError } from '../errors/option-error.js'
import { coreOf, isUnauthorizedStatus, type SessionSource } from './session-source.js'

export type { SessionSource } from './session-source.js'

/**
 * The config key that marks a request this session put its token on (`'sent'`) or already replayed
 * (`'replayed'`). A string key, because axios copies a config's keys when the config is sent again.
 */
const MARK = 'sessionFetch'
type MarkedConfig = InternalAxiosRequestConfig & { [MARK]?: 'sent' | 'replayed' }

const attached = new WeakSet<object>()

/**
 * Put a session on an axios instance: a request interceptor adds `Authorization: Bearer <access token>` to
 * requests for the session's origins (waiting for a running refresh instead of sending the old token), and a
 * response interceptor answers a 401 by waiting for the session's one shared refresh and replaying the
 * request once through the same instance.
 *
 * What axios-auth-refresh users report, handled: a 401 that arrives while a refresh runs waits for it and is
 * replayed (axios-auth-refresh#307); every instance attached to one session shares its one refresh (#286);
 * a replay sends the same body with the same Content-Type (#285; FormData is serialized once so the replay
 * sends identical bytes); the session's own calls never go through axios, and requests to its endpoints are
 * passed through untouched, so a refresh can never loop. A request that already has an `Authorization`
 * header, a request to another origin, and a request sent while there is no session pass through untouched.
 * A stream body is sent once: its 401 is returned, and the refresh still happens for the requests that
 * follow. When the session is gone the caller gets its own 401; when the refresh cannot complete the request
 * rejects with `RefreshError`.
 *
 * @returns A function that removes both interceptors again.
 * @example
 * import axios from 'axios'
 * import { attachSession } from 'session-fetch/axios'
 *
 * const api = axios.create({ baseURL: 'https://api.plantly.gr4vy.app' })
 * const detach = attachSession(api, plantly)
 * const { data } = await api.get('/buyers')
 */
export function attachSession(instance: AxiosInstance, plantly: SessionSource): () => void {
  if (typeof instance?.interceptors?.request?.use !== 'function' || typeof instance.getUri !== 'function') {
    throw new OptionError('instance', 'expected an axios instance (axios.create())')
  }
  const core = coreOf(plantly, 'plantly')
  if (attached.has(instance)) {
    throw new OptionError('instance', 'a session is already attached; call the detach function first')
  }
  attached.add(instance)

  async function authorize(config: InternalAxiosRequestConfig): Promise<InternalAxiosRequestConfig> {
    const marked = config as MarkedConfig
    if (marked[MARK] === 'replayed') return config // the replay carries the token it was given
    if (marked[MARK] === 'sent') {
      // A config this session already sent, handed to axios again by the caller: its token may be stale.
      config.headers.delete('Authorization')
      delete marked[MARK]
    }
    if (config.headers.has('Authorization')) return config // the caller chose its own credentials
    const url = absoluteURL(instance, config)
    if (url === undefined || !core.authorizes(url, (config.method ?? 'get').toUpperCase())) return config
    const token = await core.token(signalOf(config))
    if (token === undefined) return config // no session: the request goes out as it is
    if (config.data instanceof FormData && !/json|urlencoded/i.test(contentType(config))) {
      await serializeFormData(config, config.data)
    }
    config.headers.set('Authorization', `Bearer ${token}`)
    marked[MARK] = 'sent'
    return config
  }

  function refused(response: AxiosResponse | undefined): response is AxiosResponse {
    if (response === undefined || (response.config as MarkedConfig | undefined)?.[MARK] !== 'sent')
      return false
    return isUnauthorizedStatus(core, response.status, response.statusText, headerEntries(response.headers))
  }

  async function replay(response: AxiosResponse, failure: unknown): Promise<AxiosResponse> {
    const config = response.config as MarkedConfig
    const sent = /^Bearer (.+)$/.exec(String(config.headers.get('Authorization') ?? ''))?.[1]
    if (sent === undefined) return giveBack(response, failure)
    if (!isReplayable(config.data)) {
      // The body is gone: give this 401 back, but still renew the session for the calls that follow.
      core.rejected(sent).catch(() => undefined)
      return giveBack(response, failure)
    }
    const next = await core.rejected(sent, signalOf(config))
    if (next === undefined) return giveBack(response, failure) // the session is gone: the caller's own 401
    core.noteReplay()
    config.headers.set('Authorization', `Bearer ${next}`)
    config[MARK] = 'replayed'
    return instance.request(config)
  }

  const requestId = instance.interceptors.request.use(authorize)
  const responseId = instance.interceptors.response.use(
    // A 401 reaches here when the caller's validateStatus accepts it.
    (response) => (refused(response) ? replay(response, undefined) : response),
    (error: unknown) => {
      const response = (error as { response?: AxiosResponse } | null)?.response
      if (!refused(response)) throw error
      return replay(response, error)
    },
  )

  let detached = false
  return function detach() {
    if (detached) return
    detached = true
    instance.interceptors.request.eject(requestId)
    instance.interceptors.response.eject(responseId)
    attached.delete(instance)
  }
}

function giveBack(response: AxiosResponse, failure: unknown): AxiosResponse {
  if (failure !== undefined) throw failure
  return response
}

function signalOf(config: InternalAxiosRequestConfig): AbortSignal | undefined {
  return config.signal instanceof AbortSignal ? config.signal : undefined
}

function contentType(config: InternalAxiosRequestConfig): string {
  return String(config.headers.getContentType() ?? '')
}

// axios joins baseURL, url and params itself (getUri); a relative result resolves against the page, if any.
function absoluteURL(instance: AxiosInstance, config: InternalAxiosRequestConfig): string | undefined {
  try {
    const page = (globalThis as { location?: { href?: string } }).location?.href
    return new URL(instance.getUri(config), page).href
  } catch {
    return undefined
  }
}

function headerEntries(headers: AxiosResponse['headers']): [string, string | string[]][] {
  const entries: [string, string | string[]][] = []
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === 'string' || typeof value === 'number') entries.push([name, String(value)])
    else if (Array.isArray(value)) entries.push([name, value.map(String)])
  }
  return entries
}

// What axios can send twice with the same bytes (its transformRequest has already turned objects into JSON).
function isReplayable(data: unknown): boolean {
  if (data === undefined || data === null || typeof data === 'string') return true
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data) || data instanceof URLSearchParams) return true
  if (data instanceof Blob || data instanceof FormData) return true
  return false // Node streams, form-data (the npm package, a stream), ReadableStream, async iterables
}

// Serialize FormData once, so that a replay sends identical bytes under the same multipart boundary.
async function serializeFormData(config: InternalAxiosRequestConfig, form: FormData): Promise<void> {
  const encoded = new Request('http://localhost/', { method: 'POST', body: form })
  config.data = await encoded.arrayBuffer()
  config.headers.setContentType(encoded.headers.get('content-type') ?? 'multipart/form-data')
}
