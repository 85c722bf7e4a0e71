import type { InternalAxiosRequestConfig } from 'axios'
import { dropSent, hideSent } from './hide-token.js'

/** The options follow-redirects hands to a `beforeRedirect` hook: the next hop's request options. */
type HopOptions = Record<string, unknown> & {
  headers?: Record<string, unknown>
  href?: unknown
  method?: unknown
}
type Hook = (options: HopOptions, ...details: unknown[]) => void
type Transport = { request(options: HopOptions, callback?: unknown): unknown }

/**
 * Keep the session's token off the hops of a redirect that leave the origins it authorizes, in axios's Node
 * http adapter, whatever axios and follow-redirects do on their own: follow-redirects keeps `Authorization` on a
 * redirect to a subdomain, and older axios (1.6 and 1.7 among them) leaves the decision to it. Two ways in, as axios
 * takes them: `beforeRedirect`, which axios hands to its own follow-redirects (chained before the caller's),
 * and a `transport` of the caller's, whose `beforeRedirect` option is wrapped the same way. The XHR and fetch
 * adapters follow redirects in the platform, which never calls either (see docs/axios.md).
 *
 * @param sent The `Authorization` values this call sends; only these are taken off.
 * @returns A function that puts the config's own `beforeRedirect` and `transport` back.
 */
export function guardRedirects(
  config: InternalAxiosRequestConfig,
  sent: readonly string[],
  authorizes: (url: string, method: string) => boolean,
): () => void {
  const strip = (options: HopOptions) => {
    const target = typeof options.href === 'string' ? options.href : undefined
    const method = typeof options.method === 'string' ? options.method.toUpperCase() : 'GET'
    // No target to judge by: the token stays off (fail closed).
    if (target !== undefined && authorizes(target, method)) return
    dropSent(options.headers, sent)
  }
  const restore: (() => void)[] = []

  const theirs = config.beforeRedirect as Hook | undefined
  restore.push(keep(config, 'beforeRedirect'))
  const hook: Hook = (options, ...details) => {
    strip(options)
    if (typeof theirs !== 'function') return
    // The hop just made (follow-redirects' `requestDetails`) is shown to the caller's hook without the token.
    const request = details[1] as { headers?: Record<string, unknown> } | undefined
    if (request?.headers) request.headers = hideSent({ ...request.headers }, sent)
    theirs(options, ...details)
  }
  config.beforeRedirect = hook as NonNullable<InternalAxiosRequestConfig['beforeRedirect']>

  const transport = config.transport as Partial<Transport> | undefined
  if (typeof transport?.request === 'function') {
    restore.push(keep(config, 'transport'))
    config.transport = {
      request(options: HopOptions, callback?: unknown) {
        const inner = options.beforeRedirect as Hook | undefined
        options.beforeRedirect = ((hop, ...details) => {
          strip(hop)
          if (typeof inner === 'function') inner(hop, ...details)
        }) satisfies Hook
        return (transport as Transport).request(options, callback)
      },
    } satisfies Transport
  }
  return () => {
    for (const undo of restore) undo()
  }
}

// A function that puts `key` of `config` back as it was (absent, or its own value).
function keep(config: InternalAxiosRequestConfig, key: 'beforeRedirect' | 'transport'): () => void {
  const had = Object.hasOwn(config, key)
  const value = config[key]
  return () => {
    if (had) config[key] = value
    else delete config[key]
  }
}
