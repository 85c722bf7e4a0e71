// Token handling for the peers and the baselines: a login and a refresh against the Plantly Sessions API.
// The peers call `refresh` from their own hooks, the way their docs show; nothing here is shared between
// concurrent calls, because their docs do not do that either.

export interface Tokens {
  access: string
  refresh: string
}

function parse(body: unknown): Tokens {
  const { access_token, refresh_token } = body as { access_token?: unknown; refresh_token?: unknown }
  if (typeof access_token !== 'string' || typeof refresh_token !== 'string')
    throw new Error('bad session body')
  return { access: access_token, refresh: refresh_token }
}

export async function login(url: string, credentials: object): Promise<Tokens> {
  const response = await fetch(`${url}/auth/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credentials),
  })
  if (response.status !== 200) throw new Error(`login answered ${response.status}`)
  return parse(await response.json())
}

/** Parse a refresh answer's body (peers fetch it with their own client). */
export const parseSession = parse
