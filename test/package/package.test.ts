import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const run = promisify(execFile)
let dir: string

// Build, pack, and install the tarball in an empty project, as a user would.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'session-fetch-pack-'))
  await run('npm', ['run', 'build'], { cwd: process.cwd() })
  await run('npm', ['pack', '--pack-destination', dir], { cwd: process.cwd() })
  const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'))
  if (!tarball) throw new Error('npm pack produced no tarball')
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
  await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, tarball)], {
    cwd: dir,
  })
}, 420_000) // a hang detector: build, pack and install take 30–200 s, depending on the load

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('the published package', () => {
  test('import works from ESM', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { createSessionFetch, memoryStore, RefreshError } from 'session-fetch'; import { startMockServer } from 'session-fetch/mock'; console.log(typeof createSessionFetch, typeof memoryStore, new RefreshError(new Error('x')).name, typeof startMockServer)",
      ],
      { cwd: dir },
    )
    expect(stdout.trim()).toBe('function function RefreshError function')
  })

  test('require works from CommonJS', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '-e',
        "const { createSessionFetch, LoginError } = require('session-fetch'); const { startMockServer } = require('session-fetch/mock'); console.log(typeof createSessionFetch, new LoginError(401).status, typeof startMockServer)",
      ],
      { cwd: dir },
    )
    expect(stdout.trim()).toBe('function 401 function')
  })

  test('a packed client logs in against the packed mock server', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createSessionFetch } from 'session-fetch'
         import { startMockServer } from 'session-fetch/mock'
         const server = await startMockServer()
         const plantly = createSessionFetch({ baseURL: server.url })
         await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
         server.mock.expireAccessTokens()
         const r = await plantly.fetch('/buyers')
         console.log(r.status, server.counters.refreshes)
         await server.close()`,
      ],
      { cwd: dir },
    )
    expect(stdout.trim()).toBe('200 1')
  })

  test('session-fetch/redis loads from ESM and CommonJS next to the `redis` peer, and talks to Redis', async () => {
    // The peer dependency as a user would have it installed (linked from this checkout: no registry access).
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--no-save', join(process.cwd(), 'node_modules/redis')],
      {
        cwd: dir,
      },
    )
    const key = `session-fetch:test:package:${process.pid}:${Date.now()}`
    const script = (load: string) =>
      `${load}
       const store = redisStore({ url: 'redis://127.0.0.1:6379', key: '${key}' })
       store.read().then(async (snapshot) => { console.log(snapshot.version, new StoreError('x').code); await store.close() })`
    const esm = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        script(
          "import { redisStore } from 'session-fetch/redis'; import { StoreError } from 'session-fetch'",
        ),
      ],
      { cwd: dir },
    )
    const cjs = await run(
      process.execPath,
      [
        '-e',
        script(
          "const { redisStore } = require('session-fetch/redis'); const { StoreError } = require('session-fetch')",
        ),
      ],
      { cwd: dir },
    )
    expect([esm.stdout.trim(), cjs.stdout.trim()]).toEqual(['0 store_failed', '0 store_failed'])
  })

  test('session-fetch/file loads from ESM and CommonJS, and writes a session file 0600', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'session-fetch-pack-file-'))
    const script = (load: string, name: string) =>
      `${load}
       const store = fileStore({ path: ${JSON.stringify(folder)} + '/${name}.json' })
       store.write({ record: undefined, reason: 'logout', writer: 'w' }, 0).then(async (snapshot) => {
         const mode = require_('node:fs').statSync(store.path).mode & 0o777
         console.log(snapshot.version > 0, mode.toString(8), new StoreError('x').code)
       })`
    try {
      const esm = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          script(
            "import { fileStore } from 'session-fetch/file'; import { StoreError } from 'session-fetch'; import { createRequire } from 'node:module'; const require_ = createRequire(import.meta.url)",
            'esm',
          ),
        ],
        { cwd: dir },
      )
      const cjs = await run(
        process.execPath,
        [
          '-e',
          script(
            "const { fileStore } = require('session-fetch/file'); const { StoreError } = require('session-fetch'); const require_ = require",
            'cjs',
          ),
        ],
        { cwd: dir },
      )
      expect([esm.stdout.trim(), cjs.stdout.trim()]).toEqual([
        'true 600 store_failed',
        'true 600 store_failed',
      ])
    } finally {
      await rm(folder, { recursive: true, force: true })
    }
  })

  test('the `session-fetch` bin runs from the installed package', async () => {
    const { stdout } = await run('npx', ['--no-install', 'session-fetch', 'api', '--help'], { cwd: dir })
    expect(stdout).toMatch(/^Usage: session-fetch api \[options\] <path>/)
    const status = await run('npx', ['--no-install', 'session-fetch', 'status'], {
      cwd: dir,
      env: { ...process.env, XDG_STATE_HOME: dir },
    }).catch((error: { code?: number; stderr?: string }) => error)
    expect(status).toMatchObject({ code: 3, stderr: expect.stringContaining('is not logged in') })
  })

  test('arethetypeswrong: every entry point has the right types for ESM and CommonJS (node10, node16, bundlers)', async () => {
    const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'))
    // The strict profile: node10 (typesVersions), node16 from CJS and from ESM, bundler.
    const { stdout } = await run(
      'npx',
      ['attw', join(dir, tarball ?? ''), '--profile', 'strict', '--format', 'json'],
      { cwd: process.cwd() },
    )
    const report = JSON.parse(stdout) as {
      analysis?: {
        problems?: unknown[]
        entrypoints?: Record<string, { resolutions: Record<string, unknown> }>
      }
    }
    expect(report.analysis?.problems ?? ['no analysis']).toEqual([])
    const kinds = Object.values(report.analysis?.entrypoints ?? {}).map((entry) =>
      Object.keys(entry.resolutions).sort().join(','),
    )
    expect(new Set(kinds)).toEqual(new Set(['bundler,node10,node16-cjs,node16-esm']))
  }, 60_000)

  test.each([
    ['node10', { module: 'commonjs', moduleResolution: 'node10' }, ['cts']],
    ['node16', { module: 'node16', moduleResolution: 'node16' }, ['cts', 'mts']],
    ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, ['cts', 'mts']],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, ['ts']],
  ] as const)(
    'every entry point’s types resolve for a consumer compiled with moduleResolution %s',
    async (name, options, extensions) => {
      const pkg = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as {
        exports: Record<string, unknown>
      }
      const specifiers = Object.keys(pkg.exports)
        .filter((key) => key !== './package.json')
        .map((key) => `session-fetch${key.slice(1)}`)
      expect(specifiers.length).toBeGreaterThan(5)
      // Each module imports every entry point and names one of its exports' types, so an entry that resolves to
      // nothing, or to `any`, fails to compile.
      const source = specifiers
        .map(
          (specifier, i) =>
            `import * as entry${i} from '${specifier}'\nexport type Keys${i} = keyof typeof entry${i} & string\nexport const check${i}: Keys${i} extends never ? never : true = true`,
        )
        .join('\n')
      const folder = join(dir, `types-${name}`)
      await mkdir(folder, { recursive: true })
      const files = extensions.map((extension) => `consumer.${extension}`)
      for (const file of files) await writeFile(join(folder, file), source)
      await writeFile(
        join(folder, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            ...options,
            target: 'es2022',
            lib: ['es2023', 'dom'],
            types: [],
            strict: true,
            noEmit: true,
            skipLibCheck: true,
          },
          files,
        }),
      )
      const tsc = join(process.cwd(), 'node_modules', 'typescript', 'bin', 'tsc')
      const compiled = await run(process.execPath, [tsc, '-p', folder, '--pretty', 'false'], {
        cwd: dir,
      }).then(
        () => '',
        (error: { stdout?: string }) => error.stdout ?? String(error),
      )
      expect(compiled).toBe('')
    },
    60_000,
  )

  test('publint finds nothing wrong with package.json and the exports map', async () => {
    const { stdout } = await run('npx', ['publint', '--strict'], { cwd: process.cwd() })
    expect(stdout).not.toMatch(/error|warning/i)
  })
})
