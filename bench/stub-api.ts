// A Plantly API in-process for the server-side benchmarks (bench/server-child.ts, bench/client-memory.ts): it
// answers at once, each user's login gets their own tokens, and an API call is 200 with a token it issued, else 401.

export const STUB_BASE = 'http://plantly.bench'
const BODY = JSON.stringify({ id: 42, name: 'Monstera deliciosa' })

/** Tokens of one shape for every user (44 characters, as a short opaque token): `access-<user>-<serial>`. */
export const pad = (text: string) => text.padEnd(44, '.')

export interface StubApi {
  fetch: typeof fetch
  /** Forget the tokens it issued (its own record is not what a measurement of clients should count). */
  forget(): void
}

export function stubApi(): StubApi {
  let serial = 0
  const issued = new Set<string>()
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url === `${STUB_BASE}/auth/sessions`) {
      const body = JSON.parse(String(init?.body ?? '{}')) as { email_address?: string }
      const user = body.email_address ?? 'nobody'
      const access = pad(`access-${user}-${++serial}`)
      issued.add(access)
      const session = {
        type: 'auth.session',
        token_type: 'bearer',
        access_token: access,
        refresh_token: pad(`refresh-${user}-${serial}`),
        expires_in: 3600,
      }
      return new Response(JSON.stringify(session), { headers: { 'content-type': 'application/json' } })
    }
    const headers = init?.headers
    const auth =
      headers instanceof Headers
        ? headers.get('authorization')
        : (headers as Record<string, string> | undefined)?.authorization
    return new Response(BODY, { status: auth && issued.has(auth.slice(7)) ? 200 : 401 })
  }
  return { fetch, forget: () => issued.clear() }
}

/** The users' tokens alone: session objects with strings of the same shape as the stub issues, for a baseline. */
export function tokensAlone(keys: readonly string[]): object[] {
  return keys.map((key, i) =>
    Object.freeze({
      type: 'auth.session',
      token_type: 'bearer',
      access_token: pad(`access-${key}-${i + 1}`),
      refresh_token: pad(`refresh-${key}-${i + 1}`),
      expires_in: 3600,
    }),
  )
}
