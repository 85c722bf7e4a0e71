// One OS process sharing a session through Redis (SF_REDIS_URL, SF_KEY) or a file (SF_FILE): forked by test/helpers/workers.ts (node --import tsx), driven
// over the IPC channel. Replies { id, ok, value | error }; reports session events as { event, source }.
import { createHash } from 'node:crypto'
import { createSentinel } from 'redis'
import { createSessionFetch, type SessionEventName } from '../../src/index.js'
import { fileStore } from '../../src/stores/file/index.js'
import { redisStore } from '../../src/stores/redis/index.js'

const env = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new Error(`redis-worker: ${name} is not set`)
  return value
}

const DEMO_USER = { email_address: 'demo@plantly.test', password: 'plantly' }
// With SF_SENTINEL: a node-redis sentinel client, connected here and passed as `client`.
async function sentinelClient() {
  const { name, ports } = JSON.parse(process.env.SF_SENTINEL as string) as { name: string; ports: number[] }
  const client = createSentinel({
    name,
    sentinelRootNodes: ports.map((port) => ({ host: '127.0.0.1', port })),
  })
  client.on('error', () => {}) // the store reports what matters to onError
  await client.connect()
  return client
}

const onError = (error: Error) => process.send?.({ storeError: error.message })
const store = process.env.SF_FILE
  ? fileStore({
      path: process.env.SF_FILE,
      ...(process.env.SF_LOCK_LEASE_MS ? { lockLeaseMs: Number(process.env.SF_LOCK_LEASE_MS) } : {}),
      onError,
    })
  : redisStore({
      ...(process.env.SF_SENTINEL
        ? { client: await sentinelClient() }
        : process.env.SF_ROOT_NODES
          ? {
              // Both shapes a user may copy: URLs, and node-redis's own `{ url }`.
              rootNodes: (JSON.parse(process.env.SF_ROOT_NODES) as string[]).map((url, i) =>
                i % 2 === 0 ? url : { url },
              ),
            }
          : { url: env('SF_REDIS_URL') }),
      key: env('SF_KEY'),
      ...(process.env.SF_LOCK_LEASE_MS ? { lockLeaseMs: Number(process.env.SF_LOCK_LEASE_MS) } : {}),
      onError,
    })
const plantly = createSessionFetch({
  baseURL: env('SF_BASE_URL'),
  store,
  refreshTimeoutMs: Number(process.env.SF_REFRESH_TIMEOUT_MS ?? 10_000),
  ...(process.env.SF_CREDENTIALS ? { credentials: () => DEMO_USER } : {}),
})
const send = (message: unknown) => process.send?.(message)
for (const event of ['login', 'refresh', 'logout', 'expired'] as Exclude<SessionEventName, 'challenge'>[]) {
  plantly.on(event, ({ source }) => send({ event, source }))
}

// What a test may compare across processes without passing tokens around.
const fingerprint = (token: string | undefined) =>
  token && createHash('sha256').update(token).digest('hex').slice(0, 16)

type Call = { id: number; op: string; path?: string; count?: number }

async function handle(call: Call): Promise<unknown> {
  switch (call.op) {
    case 'login':
      await plantly.login(DEMO_USER)
      return fingerprint((await plantly.getSession())?.access_token)
    case 'session':
      return fingerprint((await plantly.getSession())?.access_token)
    case 'fetch':
      return (await plantly.fetch(call.path ?? '/')).status
    case 'storm': {
      // Each request's status, or the name of the error it failed with.
      const responses = await Promise.allSettled(
        Array.from({ length: call.count ?? 1 }, (_, i) => plantly.fetch(`${call.path ?? '/storm'}/${i}`)),
      )
      return responses.map((settled) =>
        settled.status === 'fulfilled' ? settled.value.status : String((settled.reason as Error)?.name),
      )
    }
    case 'refresh':
      return fingerprint((await plantly.refresh()).access_token)
    case 'logout':
      await plantly.logout()
      return null
    case 'stats':
      return plantly.stats()
    case 'exit':
      await plantly.close()
      await store.close()
      setImmediate(() => process.exit(0))
      return null
    default:
      throw new Error(`redis-worker: unknown op ${call.op}`)
  }
}

process.on('message', (call: Call) => {
  handle(call).then(
    (value) => send({ id: call.id, ok: true, value }),
    (error: unknown) =>
      send({
        id: call.id,
        ok: false,
        error: {
          name: (error as Error)?.name,
          message: (error as Error)?.message,
          code: (error as { code?: string })?.code,
        },
      }),
  )
})
process.on('disconnect', () => process.exit(0)) // the test runner went away: do not linger
// What a service does on a rolling deploy's SIGTERM: let the session calls under way land and be stored, close
// the store after the client, exit. The test hears { closing: true }, then { closed: true }.
process.once('SIGTERM', async () => {
  send({ closing: true })
  await plantly.close()
  await store.close()
  if (process.send) process.send({ closed: true }, () => process.exit(0))
  else process.exit(0)
})
send({ ready: true })
