import { redact } from '../errors/redact.js'
import type { RedirectError } from '../errors/redirect-error.js'
import { secretForms, shownOrigin } from '../errors/server-text.js'

/** Redirects a session call follows before it gives up (a loop on the endpoint's own origin). */
export const MAX_REDIRECTS = 5

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

/**
 * Send a session call without letting the transport follow redirects (`redirect: 'manual'`), and follow the
 * endpoint's own-origin redirects here, keeping method, headers and body (307/308, and 301/302 for a method other
 * than POST, as the fetch spec does). Refused, with a RedirectError and nothing sent there:
 * - a redirect to another origin: it would hand the credentials, refresh token or access token to a third party;
 * - a 303, or a 301/302 after a POST: fetch would turn the call into a GET without its body, which cannot log in;
 * - more than {@link MAX_REDIRECTS} hops;
 * - an opaque redirect: browsers answer `redirect: 'manual'` without saying where it goes, so session calls do
 *   not follow redirects in browsers at all.
 * A transport that follows redirects anyway (ignoring `redirect`) and lands on another origin has already sent
 * the call there; its answer is refused all the same, so a session from elsewhere is never taken.
 */
export async function fetchSameOrigin(
  transport: typeof globalThis.fetch,
  url: string,
  init: RequestInit,
  secrets: readonly (string | undefined)[],
  Refusal: typeof RedirectError,
): Promise<Response> {
  const origin = new URL(url).origin
  const method = (init.method ?? 'GET').toUpperCase()
  // Messages name the endpoint without its query (it may hold anything), and never a token. The server names
  // the origin it redirects to: it is shown (and kept as `targetOrigin`) with every secret the call sent redacted.
  const refused = (why: (origin?: string) => string, to?: string) => {
    const forms = secretForms(secrets)
    const origin = to === undefined ? undefined : shownOrigin(to, forms)
    return new Refusal(redact(`${method} ${url.replace(/[?#].*$/, '')} ${why(origin)}`, forms), origin)
  }
  let target = url
  for (let hop = 0; ; hop++) {
    const response = await transport(target, { ...init, redirect: 'manual' })
    const { status } = response
    // Where the answer came from: another origin only when the transport followed a redirect itself.
    const from = response.redirected && response.url ? new URL(response.url).origin : origin
    const location = REDIRECT_STATUSES.has(status) ? response.headers.get('location') : null
    const opaque = response.type === 'opaqueredirect'
    if (from === origin && location === null && !opaque) return response
    response.body?.cancel().catch(() => undefined)
    if (opaque) {
      throw refused(
        () => 'answered with a redirect the browser hides (it may be another origin): browsers follow none',
      )
    }
    if (from !== origin) {
      throw refused(
        (shown) => `was redirected to another origin (${shown}) by the transport: its answer is refused`,
        from,
      )
    }
    const next = resolve(location as string, target)
    if (!next) throw refused(() => `answered ${status} with an unusable Location: refused`)
    if (next.origin !== origin) {
      throw refused(
        (shown) => `redirected to another origin (${shown}): refused, nothing was sent there`,
        next.origin,
      )
    }
    if (status === 303 || (method === 'POST' && status < 307)) {
      throw refused(() => `answered ${status}, which would make it a GET without its body: refused`)
    }
    if (hop === MAX_REDIRECTS) throw refused(() => `redirected more than ${MAX_REDIRECTS} times: refused`)
    target = next.href
  }
}

function resolve(location: string, base: string): URL | undefined {
  try {
    return new URL(location, base)
  } catch {
    return undefined
  }
}
