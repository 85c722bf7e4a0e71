import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { createSessionFetch } from '../../src/index.js'
import { fileStore } from '../../src/stores/file/index.js'
import { cli, setup, tokens } from '../helpers/cli.js'

// `--encryption-key-env NAME`: the command and a program using fileStore({ encryptionKey }) share one sealed
// session file. Real processes against the mock over HTTP, and a client in this process on the same file.

test('a program with fileStore({ encryptionKey }) and the command share one sealed session: one refresh, no token in the file', async () => {
  const { server, env, folder, login } = await setup()
  const key = randomBytes(32)
  const sealed = { ...env, SF_KEY: key.toString('base64') }
  const loggedIn = await login(['--encryption-key-env', 'SF_KEY'], { SF_KEY: key.toString('base64') })
  expect(loggedIn.code).toBe(0)

  const file = join(folder, 'default.json')
  const [access, refresh] = await tokens(folder, 'default', key)
  expect(access).toBeDefined()
  const text = await readFile(file, 'utf8')
  for (const token of [access, refresh]) expect(text).not.toContain(token)
  const profile = await readFile(join(folder, 'default.profile.json'), 'utf8')
  expect(JSON.parse(profile)).toMatchObject({ encryptionKeyEnv: 'SF_KEY' }) // the variable's name, not the key
  expect(profile).not.toContain(key.toString('base64'))

  // The program refreshes the session (its token was ended at the server)...
  const store = fileStore({ path: file, encryptionKey: key })
  const plantly = createSessionFetch({ baseURL: server.url, store })
  try {
    server.mock.expireAccessTokens()
    expect((await plantly.fetch('/from-the-program')).status).toBe(200)
  } finally {
    await plantly.close()
    await store.close()
  }
  expect(server.counters.refreshes).toBe(1)
  const [renewed] = await tokens(folder, 'default', key)

  // ...and the command uses the session the program renewed (the key's variable remembered from the login).
  const run = await cli(['api', '/from-the-command'], sealed)
  expect(run.code).toBe(0)
  expect(server.log.find((entry) => entry.path === '/from-the-command')?.token).toBe(renewed)
  expect(server.counters.refreshes).toBe(1)
  expect(server.counters.reuseDetected).toBe(0)
  // The key written as hex is the same key.
  const hex = await cli(['token', '--encryption-key-env', 'SF_HEX'], { ...env, SF_HEX: key.toString('hex') })
  expect(hex).toEqual({ code: 0, stdout: `${renewed}\n`, stderr: '' })
  expect(JSON.parse((await cli(['status', '--json'], sealed)).stdout)).toMatchObject({
    session: 'active',
    store: { path: file, encrypted: true },
  })
}, 120_000)

test('a missing, malformed or wrong key: a clear error naming the variable, never its value', async () => {
  const { env, login } = await setup()
  const key = randomBytes(32)
  await login(['--encryption-key-env', 'SF_KEY'], { SF_KEY: key.toString('base64') })

  const unset = await cli(['api', '/buyers'], env)
  expect(unset).toEqual({
    code: 2,
    stdout: '',
    stderr:
      'session-fetch: profile "default" (sealed at its login): the environment variable SF_KEY is not set\n',
  })
  const short = 'c2hvcnQta2V5' // "short-key"
  const malformed = await cli(['api', '/buyers'], { ...env, SF_KEY: short })
  expect(malformed.code).toBe(2)
  expect(malformed.stderr).toBe(
    'session-fetch: profile "default" (sealed at its login): SF_KEY must hold a 32-byte key, as 64 hex digits or in base64 (it holds 9 bytes)\n',
  )
  const other = randomBytes(32).toString('base64')
  const wrong = await cli(['token'], { ...env, SF_KEY: other })
  expect(wrong).toMatchObject({ code: 1, stdout: '' })
  expect(wrong.stderr).toMatch(
    /could not be decrypted with `encryptionKey`.*: the variable --encryption-key-env names \(or the one the profile remembers\) holds another key\n$/,
  )
  for (const run of [malformed, wrong]) {
    expect(run.stderr).not.toContain(short)
    expect(run.stderr).not.toContain(other)
  }
  // A sealed file read without any key: the store's error, and how the command passes one.
  const profile = join(env.XDG_STATE_HOME, 'session-fetch', 'default.profile.json')
  const remembered = JSON.parse(await readFile(profile, 'utf8'))
  delete remembered.encryptionKeyEnv
  await writeFile(profile, JSON.stringify(remembered), { mode: 0o600 })
  const keyless = await cli(['status'], env)
  expect(keyless.code).toBe(1)
  expect(keyless.stderr).toMatch(
    /is encrypted: pass the same `encryptionKey` to fileStore\(\): the command reads the key from the environment variable --encryption-key-env names\n$/,
  )
  expect((await cli(['--encryption-key-env', 'bad name', 'status'], env)).code).toBe(2)
}, 120_000)

test('a session kept in clear is not sealed over: log out first, then log in with the key', async () => {
  const { server, env, login } = await setup()
  await login()
  const key = { SF_KEY: randomBytes(32).toString('base64') }
  const over = await login(['--encryption-key-env', 'SF_KEY'], key)
  expect(over.code).toBe(1)
  expect(over.stderr).toMatch(
    /is not encrypted, but `encryptionKey` is set: refusing to use it: it holds a session in clear; log out first \(session-fetch logout\), then log in with --encryption-key-env\n$/,
  )
  expect(server.counters.logins).toBe(1)
  expect((await cli(['logout'], env)).code).toBe(0)
  expect((await login(['--encryption-key-env', 'SF_KEY'], key)).code).toBe(0)
  expect(JSON.parse((await cli(['status', '--json'], { ...env, ...key })).stdout)).toMatchObject({
    session: 'active',
    store: { encrypted: true },
  })
}, 120_000)
