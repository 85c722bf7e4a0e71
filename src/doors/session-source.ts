import { defaultIsUnauthorized, isInsufficientScope } from '../core/options.js'
import type { SessionCore } from '../core/session-core.js'
import { OptionError } from '../errors/option-error.js'

/** The part of the session core an adapter uses: what to send, and what to do after a refused token. */
export type AdapterCore = Pick<
  SessionCore<unknown>,
  'authorizes' | 'isUnauthorized' | 'token' | 'rejected' | 'noteReplay' | 'noteRefused'
>

/** What adapters accept: the object `createSessionFetch` returns (only its `core` is used). */
export interface SessionSource {
  readonly core: AdapterCore
}

/** The session core of `plantly`, or an OptionError naming `argument` when it is not a session. */
export function coreOf(plantly: SessionSource, argument: string): AdapterCore {
  const core = (plantly as Partial<SessionSource> | null | undefined)?.core
  if (
    typeof core?.authorizes !== 'function' ||
    typeof core.token !== 'function' ||
    typeof core.rejected !== 'function'
  ) {
    throw new OptionError(argument, 'expected the object returned by createSessionFetch()')
  }
  return core
}

/**
 * `core.isUnauthorized` for clients that do not produce a fetch `Response` (axios, undici): it is asked with a
 * bodiless Response carrying the status and headers.
 */
export function isUnauthorizedStatus(
  core: AdapterCore,
  status: number,
  statusText: string | undefined,
  headers: Iterable<[string, string | readonly string[] | undefined]>,
): boolean {
  if (!Number.isInteger(status) || status < 200 || status > 599) return false
  if (core.isUnauthorized === defaultIsUnauthorized) {
    if (status !== 401) return false // the common case, without a Response
    for (const [name, value] of headers) {
      if (name.toLowerCase() !== 'www-authenticate' || value === undefined) continue
      for (const item of typeof value === 'string' ? [value] : value)
        if (isInsufficientScope(item)) return false
    }
    return true
  }
  const copy = new Headers()
  for (const [name, value] of headers) {
    try {
      if (typeof value === 'string') copy.append(name, value)
      else if (value !== undefined) for (const item of value) copy.append(name, item)
    } catch {
      // A header a fetch Headers cannot hold (odd characters) is no reason to fail the request.
    }
  }
  return core.isUnauthorized(new Response(null, { status, statusText: statusText ?? '', headers: copy }))
}
