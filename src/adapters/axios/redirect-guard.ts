import type { InternalAxiosRequestConfig } from 'axios'
import { REDACTED, swapSent } from './hide-token.js'

/** The options follow-redirects hands to a `beforeRedirect` hook: the next hop's request options. */
type Hop = { headers?: Record<string, unknown>; href?: unknown; method?: unknown }
type Hook = (options: Hop, ...details: unknown[]) => void
type Transport = { request(options: Hop & { beforeRedirect?: Hook }, callback?: unknown): unknown }

/**
 * Keep the session's token off the hops of a redirect that leave the origins it covers, in axios's Node
 * http adapter, whatever axios and follow-redirects do on their own: follow-redirects keeps `Authorization` on a
 * redirect to a subdomain, and older axios (1.6 and 1.7 among them) leaves the decision to it. Two ways in, as
 * axios takes them: `beforeRedirect`, which axios hands to its own follow-redirects (chained before the
 * caller's), and a `transport` of the caller's, whose `beforeRedirect` option is wrapped the same way. The XHR
 * and fetch adapters follow redirects in the platform, which never calls either (see docs/axios.md).
 *
 * @param sent The `Authorization` values this call sends; only these are taken off.
 * @returns A function that puts the config's own `beforeRedirect` and `transport` back.
 */
export function guardRedirects(
  config: InternalAxiosRequestConfig,
  sent: readonly string[],
  covers: (url: string, method: string) => boolean,
): () => void {
  const { beforeRedirect: theirs, transport } = config as { beforeRedirect?: Hook; transport?: Transport }
  // A hop with no target to judge by loses the token too (fail closed).
  const strip = ({ href, method = 'GET', headers }: Hop) => {
    if (typeof href !== 'string' || !covers(href, String(method).toUpperCase())) swapSent(headers, sent)
  }
  const hook: Hook = (options, ...details) => {
    strip(options)
    // The hop just made (follow-redirects' `requestDetails`) is shown to the caller's hook without the token.
    const made = details[1] as { headers?: Record<string, unknown> } | undefined
    if (made?.headers) made.headers = swapSent({ ...made.headers }, sent, REDACTED)
    theirs?.(options, ...details)
  }
  config.beforeRedirect = hook as NonNullable<InternalAxiosRequestConfig['beforeRedirect']>
  if (typeof transport?.request === 'function') {
    config.transport = {
      request(options, callback) {
        const inner = options.beforeRedirect
        options.beforeRedirect = (hop, ...details) => {
          strip(hop)
          inner?.(hop, ...details)
        }
        return transport.request(options, callback)
      },
    } satisfies Transport
  }
  return () => {
    if (theirs === undefined) delete config.beforeRedirect
    else config.beforeRedirect = theirs as NonNullable<InternalAxiosRequestConfig['beforeRedirect']>
    if (transport !== undefined) config.transport = transport
  }
}
