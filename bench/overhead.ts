// The wrapper's own cost per call, without the network: the same in-process transport called directly
// (with a fixed Authorization header) and through `plantly.fetch`, interleaved rounds in one process. Over
// loopback the platform's fetch costs hundreds of µs of CPU per call on this machine, so a few µs of
// wrapper are lost in the noise there; here they are measured on their own.
import { createSessionFetch } from '../src/index.js'

export interface OverheadResult {
  calls: number
  rounds: number
  /** Median CPU µs per call, transport called directly. */
  directUs: number
  /** Median CPU µs per call through plantly.fetch. */
  wrappedUs: number
  /** Median over rounds of (wrapped − direct) per call. */
  overheadUs: number
}

const BASE = 'http://plantly.bench'
const BODY = JSON.stringify({ id: 42, name: 'Monstera deliciosa' })
const TOKEN = 'access-1'

// Answers at once: what is left to measure is the work around the transport call.
const stub: typeof fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
  if (url === `${BASE}/auth/sessions`) {
    const session = { type: 'auth.session', token_type: 'bearer', access_token: TOKEN, refresh_token: 'r' }
    const body = JSON.stringify({ ...session, expires_in: 3600 })
    return Promise.resolve(
      new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }),
    )
  }
  // The same cheap read on both paths, so the wrapper's own Headers work is all counted against it.
  const headers = init?.headers
  const auth =
    headers instanceof Headers
      ? headers.get('authorization')
      : (headers as Record<string, string>).authorization
  return Promise.resolve(new Response(BODY, { status: auth === `Bearer ${TOKEN}` ? 200 : 401 }))
}

async function loop(call: () => Promise<Response>, calls: number): Promise<number> {
  const start = process.cpuUsage()
  for (let i = 0; i < calls; i++) {
    const response = await call()
    if (response.status !== 200) throw new Error(`status ${response.status}`)
    await response.text()
  }
  const used = process.cpuUsage(start)
  return (used.user + used.system) / calls
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

export async function overhead(calls: number, rounds: number): Promise<OverheadResult> {
  const plantly = createSessionFetch({ baseURL: BASE, fetch: stub })
  await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
  const headers = { authorization: `Bearer ${TOKEN}` }
  const direct = () => stub(`${BASE}/plants/42`, { headers })
  const wrapped = () => plantly.fetch('/plants/42')
  await loop(direct, calls / 4) // warm both paths up
  await loop(wrapped, calls / 4)
  const directs: number[] = []
  const wrappeds: number[] = []
  const diffs: number[] = []
  for (let round = 0; round < rounds; round++) {
    const first = round % 2 === 0
    const a = await loop(first ? direct : wrapped, calls)
    const b = await loop(first ? wrapped : direct, calls)
    const [d, w] = first ? [a, b] : [b, a]
    directs.push(d)
    wrappeds.push(w)
    diffs.push(w - d)
  }
  return { calls, rounds, directUs: median(directs), wrappedUs: median(wrappeds), overheadUs: median(diffs) }
}

if (process.send) {
  overhead(Number(process.argv[2] ?? 100_000), Number(process.argv[3] ?? 7)).then(
    (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
    (error: unknown) => process.send?.({ ok: false, error: String(error) }, () => process.exit(1)),
  )
}
