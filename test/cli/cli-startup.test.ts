// What a run of the built command loads: `token` with a valid session loads the chunk of its own command and
// none of the others' (api's request and trace code, status, completion, version), nor the code of a refresh or
// a login (ofetch, the renewal), nor Node's own fetch (undici). `api` is the control: it loads its chunk and
// fetch. Module loading is watched by a loader hook (module.register) given with --import, which writes every
// URL Node loads to stderr, and an exit handler that says whether Node loaded its undici. How long a run takes is
// measured in bench/cli-startup.ts, not here.
import { readdir, writeFile } from 'node:fs/promises'
import module from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, test } from 'vitest'
import { CLI, runProgram, setup } from '../helpers/cli.js'
import { tempFolder } from '../helpers/file-store.js'

/** The command's chunks that a dynamic import() loads, by the source they start from. */
const COMMAND_CHUNKS = ['run-token', 'run-api', 'run-status', 'completion', 'version']
const SESSION_CALL_CHUNKS = ['ofetch-call', 'renewal', 'login-call', 'session-ending']

async function watcher(): Promise<string> {
  const folder = await tempFolder('cli-loads')
  const hooks = join(folder, 'hooks.mjs')
  await writeFile(
    hooks,
    `import { writeSync } from 'node:fs'
export async function load(url, context, next) {
  writeSync(2, 'loaded ' + url + '\\n')
  return next(url, context)
}
`,
  )
  const register = join(folder, 'register.mjs')
  await writeFile(
    register,
    `import { register } from 'node:module'
import { writeSync } from 'node:fs'
register(${JSON.stringify(pathToFileURL(hooks).href)})
process.on('exit', () => {
  const undici = process.moduleLoadList.some((name) => name.includes('internal/deps/undici'))
  writeSync(2, 'undici ' + undici + '\\n')
})
`,
  )
  return register
}

/** Which of the command's chunks a run loaded (by name), and whether Node loaded its fetch. */
async function loads(args: string[], env: Record<string, string>) {
  const register = await watcher()
  const run = await runProgram(process.execPath, ['--import', register, CLI, ...args], '', env)
  expect(run.code, run.stderr).toBe(0)
  const files = [...run.stderr.matchAll(/^loaded (file:\S+)$/gm)].map((match) => match[1] as string)
  expect(files).toContain(pathToFileURL(CLI).href) // the hook saw the command itself
  const chunks = (names: string[]) =>
    names.filter((name) => files.some((file) => new RegExp(`/cli/${name}-[A-Z0-9]+\\.js$`).test(file)))
  return {
    commands: chunks(COMMAND_CHUNKS),
    sessionCalls: chunks(SESSION_CALL_CHUNKS),
    packages: files.filter((file) => file.includes('/node_modules/')),
    undici: /^undici true$/m.test(run.stderr),
  }
}

test('token with a valid session loads its own chunk only: no other command, no session-call code, no fetch', async () => {
  const { env, login, server } = await setup()
  expect((await login()).code).toBe(0)

  const token = await loads(['token'], env)
  expect(token).toEqual({ commands: ['run-token'], sessionCalls: [], packages: [], undici: false })

  // The control: api loads its own chunk, and Node's fetch for its request (no refresh: no session-call code).
  const api = await loads(['api', '/x'], env)
  expect(api).toEqual({ commands: ['run-api'], sessionCalls: [], packages: [], undici: true })
  expect(server.counters).toMatchObject({ refreshes: 0 })
})

// Node 22.1+ has a compile cache; Node 20 has none, and the command runs the same there. Each Node the suite
// runs on checks its own case.
test('the compile cache (Node 22.1+): in the user’s cache folder (XDG_CACHE_HOME), or where NODE_COMPILE_CACHE says', async () => {
  const { env, login } = await setup()
  expect((await login()).code).toBe(0)
  const cache = await tempFolder('cli-cache')
  const elsewhere = await tempFolder('cli-cache-elsewhere')
  const hasCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function'

  const first = await runProgram(process.execPath, [CLI, 'token'], '', { ...env, XDG_CACHE_HOME: cache })
  expect(first.code, first.stderr).toBe(0)
  const inCache = await filesUnder(join(cache, 'session-fetch', 'node-compile-cache'))
  const chosen = await runProgram(process.execPath, [CLI, 'token'], '', {
    ...env,
    XDG_CACHE_HOME: cache,
    NODE_COMPILE_CACHE: elsewhere,
  })
  expect(chosen.code, chosen.stderr).toBe(0)
  if (hasCache) {
    expect(inCache.length).toBeGreaterThan(0)
    expect((await filesUnder(elsewhere)).length).toBeGreaterThan(0)
  } else {
    expect(inCache).toEqual([])
    expect(await filesUnder(elsewhere)).toEqual([])
  }
  expect(await readdir(cache)).toEqual(hasCache ? ['session-fetch'] : [])
})

async function filesUnder(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}
