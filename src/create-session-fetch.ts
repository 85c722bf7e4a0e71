import { createFetchWrapper } from './adapters/fetch/fetch-wrapper.js'
import { registerPipeline } from './adapters/shared/pipeline-registry.js'
import type { Instrument } from './core/instrument.js'
import { type SessionFetchOptions as CoreOptions, resolveOptions } from './core/options.js'
import { createPipeline } from './core/pipeline.js'
import type { SessionProtocol } from './core/protocol.js'
import { createSessionCore } from './core/session-core.js'
import type { SessionFetch as CoreSessionFetch } from './core/session-fetch.js'
import { type PlantlyCredentials, plantlySessions } from './protocols/plantly/plantly-protocol.js'
import { memoryStore } from './stores/memory/memory-store.js'

/**
 * Options of {@link createSessionFetch}; only `baseURL` is required. Credentials default to Plantly's.
 * @interface
 */
export type SessionFetchOptions<Credentials = PlantlyCredentials> = CoreOptions<Credentials>

/**
 * What `createSessionFetch` returns. Every method is bound: pass them around freely. `Credentials` are what
 * `login()` takes: Plantly's unless another protocol is given.
 * @interface
 */
export type SessionFetch<Credentials = PlantlyCredentials> = CoreSessionFetch<Credentials>

/**
 * Create a fetch that keeps an API session alive: it injects the Bearer access token, refreshes it before it
 * expires and after a 401, makes one refresh call however many requests need it, and replays what waited.
 *
 * @example
 * const plantly = createSessionFetch({ baseURL: 'https://api.plantly.gr4vy.app' })
 * await plantly.login({ email_address: 'me@example.com', password: 'secret' })
 * const buyers = await plantly.fetch('/buyers').then((r) => r.json())
 */
export function createSessionFetch<Credentials = PlantlyCredentials>(
  options: SessionFetchOptions<Credentials>,
): SessionFetch<Credentials> {
  const resolved = resolveOptions(options, {
    store: memoryStore,
    protocol: (baseURL) =>
      plantlySessions({ baseURL: baseURL.href }) as unknown as SessionProtocol<Credentials>,
  })
  const core = createSessionCore(resolved)
  const pipeline = createPipeline(core, resolved.replayBufferBytes, resolved.protocol)
  const client: SessionFetch<Credentials> = {
    fetch: createFetchWrapper(pipeline, resolved.baseURL, resolved.fetch),
    login: core.login,
    refresh: core.refresh,
    accessToken: core.accessToken,
    getSession: core.getSession,
    logout: core.logout,
    on: core.on,
    stats: core.stats,
    close: core.close,
  }
  registerPipeline(client, pipeline) // the adapters (axios, undici) reach it through the client, privately
  ;(options.instrumentation as Instrument | undefined)?.(
    client as SessionFetch<unknown>,
    pipeline,
    core,
    resolved,
  )
  return client
}
