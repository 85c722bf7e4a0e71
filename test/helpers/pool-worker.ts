// One OS process serving HTTP with a sessionPool whose sessions live in Redis (a back end for front ends): forked
// by test/helpers/pool-workers.ts (node --import tsx). SF_BASE_URL: the API; SF_REDIS_URL; SF_KEY: the prefix of
// every user's Redis key. Routes:
//   POST /login/<i>        logs user i in (the mock's user-<i>@plantly.test), answers { family }
//   GET  /call/<user>/<n>  pool.for(user).fetch(`/u/<user>/<n>`), answers { status } or { error }
//   GET  /stats            { refreshes, logins, live }: what this process's clients did
// Tells its parent { ready: true, port } over IPC once it listens.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from 'redis'
import { sessionPool } from '../../src/server/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { familyOf, userCredentials } from './users-ledger.js'

const env = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new Error(`pool-worker: ${name} is not set`)
  return value
}

const client = createClient({ url: env('SF_REDIS_URL'), name: 'session-fetch-pool-worker' })
client.on('error', () => {}) // the stores report what matters
await client.connect()
const prefix = env('SF_KEY')
const pool = sessionPool({
  baseURL: env('SF_BASE_URL'),
  store: (key) => redisStore({ client, key: `${prefix}:${key}` }),
})
const seen = new Set<string>()

const server = createServer(async (req, res) => {
  const answer = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  const [, route, user, n] = (req.url ?? '/').split('/')
  try {
    if (route === 'login' && user !== undefined) {
      const session = await pool.for(`u${user}`).login(userCredentials(Number(user)))
      seen.add(`u${user}`)
      return answer(200, { family: familyOf(session.access_token) })
    }
    if (route === 'call' && user !== undefined && n !== undefined) {
      seen.add(user)
      const response = await pool.for(user).fetch(`/u/${user}/${n}`)
      await response.arrayBuffer()
      return answer(200, { status: response.status })
    }
    if (route === 'stats') {
      let refreshes = 0
      let logins = 0
      for (const user of seen) {
        const stats = pool.for(user).stats()
        refreshes += stats.refreshes
        logins += stats.logins
      }
      return answer(200, { refreshes, logins, live: pool.size })
    }
    answer(404, { error: 'no such route' })
  } catch (error) {
    answer(200, { error: (error as Error).name })
  }
})
server.listen(0, '127.0.0.1', () => {
  process.send?.({ ready: true, port: (server.address() as AddressInfo).port })
})
process.on('disconnect', () => process.exit(0)) // the test runner went away: do not linger
process.once('SIGTERM', async () => {
  server.close()
  await pool.close()
  await client.close()
  process.exit(0)
})
