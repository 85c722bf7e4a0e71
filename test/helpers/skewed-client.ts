// An OAuth2 client in a process whose clock is off: `node --import tsx test/helpers/skewed-client.ts`, with the plan
// as JSON in SF_PLAN. The process's `Date` (Date.now and `new Date()`, what jose and the library read) runs
// `skewMs` off the machine's; the authorization server in the test's process keeps the true time. Each step's
// outcome is printed as one JSON line, then the process exits.
import type { OAuth2Credentials, OAuth2Options } from '../../src/protocols/oauth2/index.js'

interface Plan {
  /** How far this process's clock is ahead of the machine's (negative: behind). */
  skewMs: number
  baseURL: string
  /** The oauth2() options, with `clientAssertionKey` as a private JWK. */
  options: OAuth2Options & { clientAssertionKey: JsonWebKey }
  steps: ({ login: OAuth2Credentials } | { refresh: true } | { fetch: string })[]
}

const plan = JSON.parse(process.env.SF_PLAN ?? '') as Plan

const TrueDate = Date
class SkewedDate extends TrueDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(TrueDate.now() + plan.skewMs)
    else super(...(args as [string | number | Date]))
  }
  static override now(): number {
    return TrueDate.now() + plan.skewMs
  }
}
globalThis.Date = SkewedDate as DateConstructor

// Loaded once the clock is off, so that nothing has read the true time before.
const { createSessionFetch } = await import('../../src/index.js')
const { oauth2 } = await import('../../src/protocols/oauth2/index.js')

const api = createSessionFetch<OAuth2Credentials>({ baseURL: plan.baseURL, protocol: oauth2(plan.options) })
for (const step of plan.steps) {
  try {
    if ('login' in step) await api.login(step.login)
    else if ('refresh' in step) await api.refresh()
    const status = 'fetch' in step ? (await api.fetch(step.fetch)).status : undefined
    console.log(JSON.stringify({ ok: true, status }))
  } catch (error) {
    const { name, code, cause } = error as { name: string; code?: string; cause?: { serverCode?: string } }
    console.log(JSON.stringify({ ok: false, name, code, serverCode: cause?.serverCode }))
  }
}
await api.close()
