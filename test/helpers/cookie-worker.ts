// One OS process serving the cookie app of test/helpers/cookie-app.ts with cookieSessions whose sessions live in
// Redis: forked by test/helpers/pool-workers.ts. SF_BASE_URL: the API; SF_REDIS_URL; SF_KEY: the prefix of each
// browser session's Redis key; SF_SECRET. Tells its parent { ready: true, port } over IPC once it listens.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from 'redis'
import { cookieSessions } from '../../src/server/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { cookieAppHandler } from './cookie-app.js'

const env = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new Error(`cookie-worker: ${name} is not set`)
  return value
}

const client = createClient({ url: env('SF_REDIS_URL'), name: 'session-fetch-cookie-worker' })
client.on('error', () => {})
await client.connect()
const prefix = env('SF_KEY')
const sessions = cookieSessions({
  baseURL: env('SF_BASE_URL'),
  secrets: [env('SF_SECRET')],
  cookie: { name: 'plantly_session', path: '/', sameSite: 'lax', secure: false },
  store: (id) => redisStore({ client, key: `${prefix}:${id}` }),
})
const server = createServer(cookieAppHandler(sessions))
server.listen(0, '127.0.0.1', () => {
  process.send?.({ ready: true, port: (server.address() as AddressInfo).port })
})
process.on('disconnect', () => process.exit(0))
