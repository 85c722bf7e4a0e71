import { type $Fetch, type FetchOptions, ofetch } from 'ofetch'
import type { SessionFetch } from '../../core/session-fetch.js'
import { describe } from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'

/**
 * An ofetch instance whose transport is the session's fetch (`ofetch.create(defaults, { fetch: session.fetch })`),
 * so the Bearer token, the shared refresh and the one replay after a 401 live below ofetch's hooks. ofetch's
 * per-call hooks replace the instance's hooks (they are not merged), so an auth step in an `onRequest` hook is
 * dropped by any call that passes its own `onRequest`; the transport cannot be dropped that way.
 *
 * `defaults` are ofetch's instance options (`baseURL`, `headers`, `retry`, `timeout`, hooks, …). Relative
 * requests without a `baseURL` resolve against the session's `baseURL`.
 *
 * @param session A {@link index.SessionFetch | createSessionFetch()} client, of any protocol.
 * @example
 * import { createSessionOfetch } from 'session-fetch/ofetch'
 *
 * const api = createSessionOfetch(plantly, { retry: 2 })
 * const buyers = await api<Buyer[]>('/buyers', { onRequest: ({ options }) => options.headers.set('x-trace', id) })
 */
export function createSessionOfetch(session: SessionFetch<unknown>, defaults: FetchOptions = {}): $Fetch {
  const transport = (session as Partial<{ fetch: unknown }> | null | undefined)?.fetch
  if (typeof transport !== 'function') {
    throw new OptionError('session', 'expected the object returned by createSessionFetch()')
  }
  if (typeof defaults !== 'object' || defaults === null) {
    throw new OptionError('defaults', `expected ofetch options (an object), got ${describe(defaults)}`)
  }
  return ofetch.create(defaults, { fetch: transport as typeof globalThis.fetch })
}
