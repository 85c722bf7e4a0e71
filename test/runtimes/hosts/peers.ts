// The newest majors of the peers, on Node 22+ (they need it): undici 8 through `session-fetch/undici`, ky 2 over
// `plantly.fetch`. The runner bundles this file with `undici` and `ky` taken from the runtimes cache (not the
// project's own undici 7 and ky 1) and the built package, and runs it with Node 24: `node peers.mjs <mock URL>`.
import ky from 'ky'
import { createSessionFetch } from 'session-fetch'
import { sessionInterceptor } from 'session-fetch/undici'
import { Agent, request, fetch as undiciFetch } from 'undici'
import type { ScenarioResult, StepResult } from '../scenario.js'
import { crashed, report } from './report.js'

const base = process.argv[2]
if (!base) throw new Error('usage: node peers.mjs <mock URL>')

const control = async <T>(path: string, body?: unknown): Promise<T> => {
  const init = body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }
  const res = await fetch(`${base}/__runtime/${path}`, init)
  return (await res.json()) as T
}
const refreshes = async () => (await control<{ refreshes: number }>('counters')).refreshes

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message)
}

async function main(url: string): Promise<ScenarioResult> {
  const plantly = createSessionFetch({ baseURL: url })
  await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
  const steps: [string, () => Promise<void>][] = [
    [
      'undici 8: request() and fetch() through sessionInterceptor, a storm across an expiry',
      async () => {
        const dispatcher = new Agent().compose(sessionInterceptor(plantly))
        const before = await refreshes()
        await control('expire', { afterRequests: 5 })
        const statuses = await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const { statusCode, body } = await request(`${url}/undici/${i}`, { dispatcher })
            await body.text()
            return statusCode
          }),
        )
        check(
          statuses.every((status) => status === 200),
          `undici statuses ${statuses.join(',')}`,
        )
        check((await refreshes()) - before === 1, `${(await refreshes()) - before} refreshes, expected 1`)
        const res = await undiciFetch(`${url}/undici-fetch`, { dispatcher })
        check(res.status === 200, `undici fetch answered ${res.status}`)
        await res.text()
        await dispatcher.close()
      },
    ],
    [
      'ky 2 over plantly.fetch: a storm across an expiry, a replayed JSON POST',
      async () => {
        const before = await refreshes()
        await control('expire', { afterRequests: 5 })
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            ky.get(`${url}/ky/${i}`, { fetch: plantly.fetch, retry: 0 }).json<{ ok: boolean }>(),
          ),
        )
        check(
          answers.every((answer) => answer.ok),
          'a ky call of the storm failed',
        )
        await control('expire', { afterRequests: 0 })
        const posted = await ky
          .post(`${url}/ky-post`, { fetch: plantly.fetch, retry: 0, json: { plant: 'fern' } })
          .json<{ bodyLength: number; contentType: string }>()
        check(posted.contentType.startsWith('application/json'), `ky POST arrived as ${posted.contentType}`)
        check(posted.bodyLength === 16, `ky POST sent ${posted.bodyLength} bytes`)
        check((await refreshes()) - before === 2, `${(await refreshes()) - before} refreshes, expected 2`)
      },
    ],
    ['logout', () => plantly.logout()],
  ]
  const results: StepResult[] = []
  for (const [step, run] of steps) {
    try {
      await run()
      results.push({ step, ok: true, detail: '' })
    } catch (error) {
      results.push({ step, ok: false, detail: error instanceof Error ? error.message : String(error) })
      break
    }
  }
  return { ok: results.length === steps.length && results.every((r) => r.ok), steps: results, userAgent: '' }
}

await report(base, 'peers', await main(base).catch(crashed))
