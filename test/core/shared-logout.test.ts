// A logout by one instance sharing a store logs out every instance, including those that could log in unattended.
import { expect, test } from 'vitest'
import { createSessionFetch, memoryStore } from '../../src/index.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

test("a logout by one instance stops the others' unattended logins until someone logs in again", async () => {
  const server = await mockServer()
  const store = memoryStore()
  const credentials = () => DEMO_USER
  const a = createSessionFetch({ baseURL: server.url, store, credentials })
  const b = createSessionFetch({ baseURL: server.url, store, credentials })
  const bLogouts: string[] = []
  b.on('logout', ({ source }) => bLogouts.push(source))

  expect((await a.fetch('/buyers/a1')).status).toBe(200) // unattended login by a
  expect((await b.fetch('/buyers/b1')).status).toBe(200) // b shares it
  expect(server.counters.logins).toBe(1)

  await a.logout()
  expect(bLogouts).toEqual(['store'])
  const after = await b.fetch('/buyers/b2')
  expect(after.status).toBe(401)
  expect(server.log.find((entry) => entry.path === '/buyers/b2')?.token).toBeUndefined()
  expect(server.counters.logins).toBe(1) // b did not log back in behind the user's back
  expect(await a.getSession()).toBeUndefined()

  // A login anywhere re-enables unattended logins everywhere: a's re-login after the server revokes the session.
  await b.login(DEMO_USER)
  expect((await a.fetch('/buyers/a2')).status).toBe(200)
  server.mock.revokeAll()
  expect((await a.fetch('/buyers/a3')).status).toBe(200)
  expect(server.counters.logins).toBe(3)
  a.close()
  b.close()
})
