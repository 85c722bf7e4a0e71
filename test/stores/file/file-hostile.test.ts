import { execFile } from 'node:child_process'
import { chmod, chown, lchown, mkdir, readdir, readFile, symlink, unlink, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, test } from 'vitest'
import type { SessionRecord } from '../../../src/core/session.js'
import { createSessionFetch, StoreError } from '../../../src/index.js'
import { tempFolder, testFileStore } from '../../helpers/file-store.js'
import { DEMO_USER, mockServer } from '../../helpers/mock-server.js'
import { until } from '../../helpers/redis.js'
import { ATTACKER_UID, giveTo, isRoot } from '../../helpers/users.js'

// What the file store finds at its paths when someone else (another user, a mistake, a crashed tool) put it
// there: real files, folders, FIFOs, sockets and links on this machine's file system. As root (CI) another user's
// files are real (chown to uid 4242); as a normal user, the tests show that this cannot be staged (chown is
// refused) and use what a normal user can find: folders of root's.

const run = promisify(execFile)
const HANG_DETECTOR_MS = 5_000

const record: SessionRecord = {
  session: { type: 'auth.session', token_type: 'bearer', access_token: 'a', refresh_token: 'r' },
  receivedAt: 1_000,
  expiresAt: 61_000,
  issuer: 'https://api.example.test',
}
const login = { record, reason: 'login' as const, writer: 'w' }

/** `promise`'s outcome, or a failure if it takes longer than a hang detector allows. */
async function settled<T>(promise: Promise<T>): Promise<T | unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hang = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('hung (a hang detector, not a timing assertion)')),
      HANG_DETECTOR_MS,
    )
  })
  try {
    return await Promise.race([promise.catch((error: unknown) => error), hang])
  } finally {
    clearTimeout(timer)
  }
}

const servers: Server[] = []
afterEach(() => {
  for (const server of servers.splice(0)) server.close()
})

type Planted = 'a FIFO' | 'a dangling link' | 'a link to a session file' | 'a folder' | 'a socket'
const PLANTED: Planted[] = ['a FIFO', 'a dangling link', 'a link to a session file', 'a folder', 'a socket']

/** Put `what` at `path`; a link to a session file points at a valid one of this user's, elsewhere. */
async function plant(path: string, what: Planted): Promise<void> {
  switch (what) {
    case 'a FIFO':
      await run('mkfifo', ['-m', '600', path])
      return
    case 'a dangling link':
      await symlink(join(await tempFolder('elsewhere'), 'nothing'), path)
      return
    case 'a link to a session file': {
      const elsewhere = join(await tempFolder('elsewhere'), 'real.json')
      await testFileStore({ path: elsewhere }).write(login, 0)
      await symlink(elsewhere, path)
      return
    }
    case 'a folder':
      await mkdir(path, { mode: 0o700 })
      return
    case 'a socket': {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolve) => server.listen(path, resolve))
      await chmod(path, 0o600)
    }
  }
}

function expectRefused(error: unknown, path: string, what: RegExp): void {
  expect(error).toBeInstanceOf(StoreError)
  expect((error as Error).message).toContain(JSON.stringify(path))
  expect((error as Error).message).toMatch(what)
}

describe('only the user’s own files', () => {
  test('a folder of another user is refused, 0700 or 1777: nothing is read from it or created in it', async () => {
    if (!isRoot) {
      // A normal user cannot give a folder away (so cannot be handed one either, short of root): shown here,
      // and the check is run on a folder of root's.
      const folder = await tempFolder()
      await expect(chown(folder, ATTACKER_UID, ATTACKER_UID)).rejects.toMatchObject({ code: 'EPERM' })
      const error = await settled(testFileStore({ path: '/etc/session-fetch-test.json' }).read())
      expectRefused(error, '/etc', /belongs to another user \(uid 0; .*chown it to yourself and chmod 700 it/)
      return
    }
    for (const mode of [0o700, 0o1777]) {
      const folder = join(await tempFolder(), 'session-fetch')
      await mkdir(folder)
      await chmod(folder, mode)
      // The other user's own session file, which they could read and rewrite at will.
      await writeFile(join(folder, 's.json'), await readFile(await sessionFile(), 'utf8'), { mode: 0o644 })
      await giveTo(join(folder, 's.json'), ATTACKER_UID)
      await giveTo(folder, ATTACKER_UID)
      const store = testFileStore({ path: join(folder, 's.json') })
      const calls: (() => Promise<unknown>)[] = [
        () => store.read(),
        () => store.write(login, 0),
        () => store.lock(async () => 1, { leaseMs: 1_000 }),
      ]
      for (const call of calls) {
        expectRefused(
          await settled(call()),
          folder,
          new RegExp(
            `belongs to another user \\(uid ${ATTACKER_UID}; .*remove it .*chown it to yourself and chmod 700 it`,
          ),
        )
      }
      expect(await readdir(folder)).toEqual(['s.json'])
    }
  })

  test('a session file or lock file of another user, or one others can write, is refused', async () => {
    const folder = await tempFolder()
    const path = join(folder, 's.json')
    const store = testFileStore({ path })
    await store.write(login, 0)
    // Others can write it: the same refusal as another user's file would get, staged without root.
    await chmod(path, 0o622)
    expectRefused(
      await settled(store.read()),
      path,
      /can be read or written by other users \(mode 0622\).*chmod 600/,
    )
    await chmod(path, 0o600)
    await writeFile(`${path}.lock`, 'planted', { mode: 0o666 })
    await chmod(`${path}.lock`, 0o666)
    expectRefused(
      await settled(store.lock(async () => 'ran', { leaseMs: 1_000 })),
      `${path}.lock`,
      /can be written by other users \(mode 0666\)/,
    )
    await chmod(`${path}.lock`, 0o600)
    if (!isRoot) {
      await expect(chown(path, ATTACKER_UID, ATTACKER_UID)).rejects.toMatchObject({ code: 'EPERM' })
      return
    }
    await giveTo(path, ATTACKER_UID)
    expectRefused(
      await settled(store.read()),
      path,
      new RegExp(`belongs to another user \\(uid ${ATTACKER_UID};`),
    )
    await giveTo(path, 0)
    await giveTo(`${path}.lock`, ATTACKER_UID)
    expectRefused(
      await settled(store.lock(async () => 'ran', { leaseMs: 1_000 })),
      `${path}.lock`,
      new RegExp(`belongs to another user \\(uid ${ATTACKER_UID};`),
    )
  })

  test('the folders above: another user’s, or one everyone can write to without the sticky bit, are refused; /tmp-like and group-writable ones are fine', async () => {
    const top = await tempFolder()
    const parent = join(top, 'shared')
    const folder = join(parent, 'mine')
    await mkdir(folder, { recursive: true, mode: 0o700 })
    const path = join(folder, 's.json')
    await chmod(parent, 0o777)
    expectRefused(
      await settled(testFileStore({ path }).read()),
      folder,
      new RegExp(
        `is inside "${parent}", which every user can write to without the sticky bit \\(mode 0777\\)`,
      ),
    )
    await chmod(parent, 0o1777) // like /tmp: others cannot move what is not theirs
    expect((await testFileStore({ path }).read()).version).toBe(0)
    await chmod(parent, 0o775) // a group of one's own, as a umask of 002 makes it
    expect((await testFileStore({ path }).read()).version).toBe(0)
    await chmod(parent, 0o755)
    const linked = join(top, 'link')
    await symlink(folder, linked)
    expect((await testFileStore({ path: join(linked, 's.json') }).read()).version).toBe(0)
    if (!isRoot) {
      await expect(chown(parent, ATTACKER_UID, ATTACKER_UID)).rejects.toMatchObject({ code: 'EPERM' })
      return
    }
    await lchown(linked, ATTACKER_UID, ATTACKER_UID) // a link another user made, to a folder of yours
    expectRefused(
      await settled(testFileStore({ path: join(linked, 's.json') }).read()),
      linked,
      new RegExp(`is inside "${linked}", which belongs to another user \\(uid ${ATTACKER_UID}\\)`),
    )
    await giveTo(parent, ATTACKER_UID)
    expectRefused(
      await settled(testFileStore({ path }).read()),
      folder,
      new RegExp(`is inside "${parent}", which belongs to another user \\(uid ${ATTACKER_UID}\\)`),
    )
    expect(await readdir(folder)).toEqual([])
  })
})

/** A valid session file of this user's, elsewhere. */
async function sessionFile(): Promise<string> {
  const path = join(await tempFolder('elsewhere'), 'real.json')
  await testFileStore({ path }).write(login, 0)
  return path
}

describe('never a hang, never a busy loop: what is not a regular file is refused', () => {
  const refusal: Record<Planted, RegExp> = {
    'a FIFO': /is a FIFO \(named pipe\), not a file: refusing to use it/,
    'a dangling link': /is a symbolic link, not a file: refusing to use it/,
    'a link to a session file': /is a symbolic link, not a file: refusing to use it/,
    'a folder': /is a folder, not a file: refusing to use it/,
    'a socket': /is a socket, not a file: refusing to use it/,
  }
  const message = (what: Planted) => refusal[what]

  test.each(PLANTED)(
    '%s at the session file’s path: a StoreError naming it, and no request sent',
    async (what) => {
      const server = await mockServer()
      const path = join(await tempFolder(), 's.json')
      await plant(path, what)
      const plantly = createSessionFetch({ baseURL: server.url, store: testFileStore({ path }) })
      expectRefused(await settled(plantly.fetch('/buyers')), path, message(what))
      expectRefused(await settled(plantly.login(DEMO_USER)), path, message(what))
      expect(server.counters.apiRequests + server.counters.logins).toBe(0)
      plantly.close()
    },
  )

  test.each(PLANTED)(
    '%s at the refresh lock’s path: a StoreError naming it, the refresh never runs',
    async (what) => {
      const path = join(await tempFolder(), 's.json')
      const store = testFileStore({ path })
      await store.write(login, 0)
      await plant(`${path}.lock`, what)
      let ran = false
      const error = await settled(
        store.lock(
          async () => {
            ran = true
          },
          { leaseMs: 10_000 },
        ),
      )
      expectRefused(error, `${path}.lock`, message(what))
      expect(ran).toBe(false)
    },
  )

  test.each(PLANTED)('%s at the write lock’s path: a StoreError naming it, nothing written', async (what) => {
    const path = join(await tempFolder(), 's.json')
    const store = testFileStore({ path })
    await plant(`${path}.write.lock`, what)
    expectRefused(await settled(store.write(login, 0)), `${path}.write.lock`, message(what))
    expect((await store.read()).version).toBe(0)
  })

  test.each(PLANTED)(
    '%s at the break lock’s path: a StoreError naming it when a stale lock is to be removed',
    async (what) => {
      const path = join(await tempFolder(), 's.json')
      const store = testFileStore({ path })
      const dead = { owner: 'dead', pid: 2 ** 22 + 12_345, host: hostname(), until: 0 }
      await writeFile(`${path}.lock`, JSON.stringify(dead), { mode: 0o600 })
      await plant(`${path}.lock.break`, what)
      expectRefused(
        await settled(store.lock(async () => 'ran', { leaseMs: 10_000 })),
        `${path}.lock.break`,
        message(what),
      )
    },
  )

  test('a temporary file swapped for a link while the refresh is on its way: the write does not follow it', async () => {
    const server = await mockServer()
    const folder = await tempFolder()
    const path = join(folder, 's.json')
    const target = join(await tempFolder('elsewhere'), 'target')
    await writeFile(target, 'untouched', { mode: 0o600 })
    const planted: string[] = []
    const handle = server.mock.handle.bind(server.mock)
    server.mock.handle = async (request) => {
      const reply = await handle(request)
      if (request.method === 'PUT') {
        // The room made for the write (the session's temporary file and the write lock's record) becomes a link.
        for (const name of await readdir(folder)) {
          if (!name.endsWith('.tmp')) continue
          await unlink(join(folder, name))
          await symlink(target, join(folder, name))
          planted.push(name)
        }
      }
      return reply
    }
    const errors: Error[] = []
    const plantly = createSessionFetch({
      baseURL: server.url,
      store: testFileStore({ path, onError: (error) => errors.push(error) }),
    })
    await plantly.login(DEMO_USER)
    server.mock.expireAccessTokens()
    expect((await plantly.fetch('/after')).status).toBe(200)
    expect(planted).toHaveLength(2)
    expect(await readFile(target, 'utf8')).toBe('untouched')
    expect(errors.map((error) => error.message)).toEqual([
      expect.stringMatching(/Could not write the new session to the session file .*keeps using it/),
    ])
    // Written later, through files of its own; the links it did not follow are removed.
    const session = await plantly.getSession()
    await until(
      async () =>
        (await testFileStore({ path }).read()).record?.session.access_token === session?.access_token,
      'the kept session to be written',
    )
    await until(async () => (await readdir(folder)).every((name) => !name.endsWith('.tmp')), 'no link left')
    expect(server.counters.reuseDetected).toBe(0)
    plantly.close()
  })
})
