import { randomBytes } from 'node:crypto'
import { access, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AsyncEntry } from '@napi-rs/keyring'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { cli } from '../helpers/cli.js'
import { tempFolder } from '../helpers/file-store.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'
import { type SecretService, startSecretService } from '../helpers/secret-service.js'

// `npm run test:keychain` (KEYCHAIN=1; .ci/run, after installing gnome-keyring): the CLI's `--store keychain`
// against a real credential store, the Secret Service of gnome-keyring on a D-Bus session of this suite's own.
// It fails, never skips, when gnome-keyring or D-Bus is missing.
let service: SecretService

beforeAll(async () => {
  service = await startSecretService()
  // This process reads the entries the commands write, through the same binding.
  process.env.DBUS_SESSION_BUS_ADDRESS = service.env.DBUS_SESSION_BUS_ADDRESS
}, 60_000)

afterAll(async () => {
  await service?.stop()
})

async function setup() {
  const server = await mockServer()
  const state = await tempFolder('cli-keychain')
  const folder = join(state, 'session-fetch')
  const env = { XDG_STATE_HOME: state, ...service.env }
  const login = (extra: string[] = []) =>
    cli(['login', '--base-url', server.url, '--email', DEMO_USER.email_address, ...extra], {
      ...env,
      PLANTLY_PASSWORD: DEMO_USER.password,
    })
  // The entry the command keeps the profile's session in: service session-fetch, account <folder>/<profile>.
  const entry = (profile = 'default') =>
    new AsyncEntry('session-fetch', join(folder, profile), { linux: { store: 'secret-service' } })
  const stored = async (profile = 'default') => {
    const text = await entry(profile).getPassword()
    if (text === null) return undefined
    const value = JSON.parse(text) as { version: number; data: string }
    const session = (JSON.parse(value.data) as { session: { access_token: string; refresh_token: string } })
      .session
    return { version: value.version, tokens: [session.access_token, session.refresh_token] }
  }
  return { server, env, folder, login, entry, stored }
}

/** No file in `folder` holds any of `tokens`; the session file itself does not exist. */
async function noTokenOnDisk(folder: string, tokens: string[]): Promise<string[]> {
  await expect(access(join(folder, 'default.json'))).rejects.toMatchObject({ code: 'ENOENT' })
  const names = await readdir(folder)
  for (const name of names) {
    const text = await readFile(join(folder, name), 'utf8')
    for (const token of tokens) expect(text).not.toContain(token)
  }
  return names
}

describe('login --store keychain, with gnome-keyring’s Secret Service', () => {
  test('the session is in the keychain entry, not on disk; api, status (--json) and profiles use it; logout removes the entry', async () => {
    const { server, env, folder, login, stored } = await setup()
    const loggedIn = await login(['--store', 'keychain'])
    expect(loggedIn).toEqual({
      code: 0,
      stdout: '',
      stderr: `Logged in as ${DEMO_USER.email_address} at ${server.url} (profile default)\n`,
    })
    const kept = await stored()
    expect(kept?.tokens).toHaveLength(2)
    const tokens = kept?.tokens ?? []
    // On disk: the profile (no secret), and at most the lock files while they are held.
    const names = await noTokenOnDisk(folder, tokens)
    expect(names.filter((name) => !name.endsWith('.lock'))).toEqual(['default.profile.json'])
    expect(JSON.parse(await readFile(join(folder, 'default.profile.json'), 'utf8'))).toMatchObject({
      store: 'keychain',
    })

    const called = await cli(['api', '/buyers'], env)
    expect(called).toMatchObject({ code: 0, stderr: '' })
    expect(JSON.parse(called.stdout)).toBeTruthy()
    const status = await cli(['status'], env)
    expect(status).toMatchObject({ code: 0, stderr: '' })
    expect(status.stdout).toMatch(/^session +active$/m)
    expect(status.stdout).toContain(
      `keychain      Secret Service, service "session-fetch", account "${join(folder, 'default')}"`,
    )
    const json = await cli(['status', '--json'], env)
    expect(JSON.parse(json.stdout).store).toEqual({
      type: 'keychain',
      location: `Secret Service, service "session-fetch", account "${join(folder, 'default')}"`,
      encrypted: false,
    })
    const listed = await cli(['profiles', '--json'], env)
    expect(JSON.parse(listed.stdout)).toMatchObject([{ name: 'default', state: 'active', store: 'keychain' }])
    for (const token of tokens) {
      expect(called.stderr + status.stdout + status.stderr + json.stdout + listed.stdout).not.toContain(token)
    }

    const loggedOut = await cli(['logout'], env)
    expect(loggedOut).toEqual({ code: 0, stdout: '', stderr: 'Logged out (profile default)\n' })
    expect(server.counters.logouts).toBe(1)
    expect(await stored()).toBeUndefined()
    const after = await cli(['status'], env)
    expect(after.code).toBe(3)
    expect(after.stdout).toMatch(/^session +none$/m)
    await noTokenOnDisk(folder, tokens)
  }, 120_000)

  test('without --store, login uses the keychain (no notice)', async () => {
    const { server, folder, login, stored } = await setup()
    const loggedIn = await login()
    expect(loggedIn).toEqual({
      code: 0,
      stdout: '',
      stderr: `Logged in as ${DEMO_USER.email_address} at ${server.url} (profile default)\n`,
    })
    expect(await stored()).toBeDefined()
    await noTokenOnDisk(folder, (await stored())?.tokens ?? [])
  }, 120_000)

  test('--encryption-key-env seals the record inside the entry; the profile remembers the variable, not the key', async () => {
    const { server, env, entry } = await setup()
    const key = randomBytes(32).toString('base64')
    const sealed = { ...env, SF_KEY: key }
    const args = [
      'login',
      '--base-url',
      server.url,
      '--email',
      DEMO_USER.email_address,
      '--store',
      'keychain',
    ]
    const loggedIn = await cli([...args, '--encryption-key-env', 'SF_KEY'], {
      ...sealed,
      PLANTLY_PASSWORD: DEMO_USER.password,
    })
    expect(loggedIn).toMatchObject({ code: 0, stdout: '' })
    const raw = (await entry().getPassword()) ?? ''
    expect(raw).not.toBe('')
    expect(raw).not.toContain('access_token')
    expect(raw).not.toContain(key)
    const called = await cli(['api', '/buyers'], sealed)
    expect(called).toMatchObject({ code: 0, stderr: '' })
    const status = await cli(['status', '--json'], sealed)
    expect(JSON.parse(status.stdout).store).toMatchObject({ type: 'keychain', encrypted: true })
    // Without the variable the profile names, the sealed entry is not read: one line naming the variable.
    const without = await cli(['api', '/buyers'], env)
    expect(without.code).toBe(2)
    expect(without.stderr).toContain('SF_KEY')
    expect(without.stderr).not.toContain(key)
    expect(server.counters.logins).toBe(1)
  }, 120_000)

  test('8 `session-fetch api` processes started together right after the expiry: 1 refresh, 0 reuse', async () => {
    const { server, env, login, stored } = await setup()
    expect((await login(['--store', 'keychain'])).code).toBe(0)
    const before = await stored()
    server.mock.expireAccessTokens()
    const started = performance.now()
    const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => cli(['api', `/storm/${i}`], env)))
    const elapsed = performance.now() - started
    expect(runs.map((run) => run.code)).toEqual(Array(8).fill(0))
    for (const run of runs) expect(JSON.parse(run.stdout)).toMatchObject({ ok: true })
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.refreshRejected).toBe(0)
    // The refreshed session is the entry's, at a newer version.
    const after = await stored()
    expect(after?.version).toBeGreaterThan(before?.version ?? Number.POSITIVE_INFINITY)
    expect(after?.tokens).not.toEqual(before?.tokens)
    const again = await cli(['api', '/buyers'], env)
    expect(again.code).toBe(0)
    expect(server.counters.refreshes).toBe(1)
    console.info(
      `session-fetch api with the keychain, 8 processes after expiry: ${server.counters.refreshes} refresh, ${server.counters.reuseDetected} reuse, ${Math.round(elapsed)} ms`,
    )
  }, 300_000)

  test('logging in again with --store file clears the keychain entry', async () => {
    const { folder, login, stored } = await setup()
    expect((await login(['--store', 'keychain'])).code).toBe(0)
    expect(await stored()).toBeDefined()
    expect((await login(['--store', 'file'])).code).toBe(0)
    expect(await stored()).toBeUndefined()
    await access(join(folder, 'default.json'))
  }, 120_000)

  // Last: the keyring stays locked (unlocking it takes a prompt, which this bus has nobody to answer).
  test('a locked keyring: --store keychain exits 1 before the login is sent; without --store, the file with the notice', async () => {
    const { server, folder, login, stored } = await setup()
    expect((await login(['--store', 'keychain'])).code).toBe(0)
    await service.lock()
    const refused = await login(['--store', 'keychain'])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toMatch(
      /^session-fetch: login: --store keychain: the OS keychain cannot be used \(.*prompt.*\): use --store file to keep the session in a 0600 file\n$/,
    )
    expect(server.counters.logins).toBe(1) // the first login only

    const fellBack = await login()
    expect(fellBack.code).toBe(0)
    const lines = fellBack.stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[1]).toMatch(
      /^session-fetch: no OS keychain \(.*prompt.*\): the session is in the 0600 file /,
    )
    // The session the profile kept in the keychain is still there: said, not hidden.
    expect(lines[2]).toMatch(
      /^session-fetch: the session this profile kept in the OS keychain before could not be cleared \(.+\)$/,
    )
    expect(server.counters.logins).toBe(2)
    await access(join(folder, 'default.json'))
    await expect(stored()).rejects.toThrow() // the entry is still there, locked
  }, 120_000)
})
