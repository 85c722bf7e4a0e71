// Which Chromium the browser tests drive. Nothing is downloaded at run time; the candidates, in this order:
// 1. `@sparticuz/chromium`, a devDependency: a headless Chromium (Linux x64) inside the npm package,
//    brotli-compressed, unpacked once into node_modules/.cache. package-lock.json pins it, so every machine (CI,
//    developers) runs the same browser, and it needs nothing from the system but glibc: it brings its own NSS
//    libraries. Preferred for that reason.
// 2. `chromium` on PATH (e.g. Debian's package), for machines the first cannot run on (another CPU or OS).
// SESSION_FETCH_CHROMIUM=packaged or =system tries that one only. When none starts, the tests fail (never skip)
// with what each candidate answered.
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, dirname, join } from 'node:path'
import { chromium } from 'playwright-core'

/**
 * The flags every browser of the tests starts with: headless, no sandbox (CI runs as root), no GPU, and no
 * background traffic (the machine's network is closed). From @sparticuz/chromium's recommended flags, only those
 * that keep a desktop browser's behaviour: no `--single-process` or site-isolation switches (the tabs must live
 * in their own renderers, as in a real browser), no `--disable-web-security` (the tests check origins).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--no-zygote',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-domain-reliability',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--no-pings',
]

export interface ChromiumBinary {
  /** Which candidate it is, e.g. `@sparticuz/chromium 147.0.0`. */
  source: string
  executablePath: string
  /** The browser process's environment. */
  env: Record<string, string>
  /** What the browser reports, e.g. `147.0.7727.0`. */
  version: string
}

type Located = Omit<ChromiumBinary, 'version'>

const CANDIDATES: Record<'packaged' | 'system', () => Promise<Located>> = {
  packaged: packagedChromium,
  system: async () => systemChromium(),
}

let found: Promise<ChromiumBinary> | undefined

/** The first candidate that starts (tried once per test process). Throws, naming every failure, when none does. */
export function findChromium(): Promise<ChromiumBinary> {
  found ??= firstThatStarts()
  return found
}

async function firstThatStarts(): Promise<ChromiumBinary> {
  const wanted = process.env.SESSION_FETCH_CHROMIUM
  if (wanted !== undefined && wanted !== 'packaged' && wanted !== 'system') {
    throw new Error(`SESSION_FETCH_CHROMIUM must be 'packaged' or 'system', got '${wanted}'`)
  }
  const order: (keyof typeof CANDIDATES)[] = wanted ? [wanted] : ['packaged', 'system']
  const failures: string[] = []
  for (const name of order) {
    let source: string = name
    try {
      const located = await CANDIDATES[name]()
      source = located.source
      const browser = await chromium.launch({
        executablePath: located.executablePath,
        env: located.env,
        args: CHROMIUM_ARGS,
        timeout: 20_000,
      })
      const version = browser.version()
      await browser.close()
      return { ...located, version }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      failures.push(`${source}: ${message.split('\n').slice(0, 4).join(' | ')}`)
    }
  }
  throw new Error(
    `No Chromium starts for the browser tests (none is downloaded at run time). Tried:\n- ${failures.join('\n- ')}\n` +
      '`npm install` brings @sparticuz/chromium (Linux x64); elsewhere put a `chromium` on PATH ' +
      '(Debian: apt-get install chromium).',
  )
}

async function packagedChromium(): Promise<Located> {
  const require = createRequire(import.meta.url)
  let entry: string
  try {
    entry = require.resolve('@sparticuz/chromium')
  } catch {
    throw new Error('@sparticuz/chromium is not installed (it is a devDependency: run npm install)')
  }
  const root = join(dirname(entry), '..', '..') // <root>/build/cjs/index.cjs
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  const source = `@sparticuz/chromium ${version}`
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${source} ships a Linux x64 binary; this is ${process.platform} ${process.arch}`)
  }
  const dir = join(root, '..', '..', '.cache', 'session-fetch', `chromium-${version}`) // node_modules/.cache
  if (!existsSync(join(dir, 'chromium'))) await unpack(join(root, 'bin'), dir)
  const libraries = [join(dir, 'al2023', 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':')
  return {
    source,
    executablePath: join(dir, 'chromium'),
    env: { ...definedEnv(), LD_LIBRARY_PATH: libraries },
  }
}

/**
 * Unpack the package's brotli files into `dir` with its own `executablePath()`. That function unpacks into
 * `os.tmpdir()` (shared by everything on the machine, and it trusts whatever `chromium` it finds there), and
 * unpacks its NSS libraries only on AWS; it reads both from the environment synchronously when called. So for
 * that one call the environment points it at a staging folder of ours and asks for the libraries; the folder is
 * then renamed into place, so that another test process unpacking at the same time never sees half a browser.
 */
async function unpack(bin: string, dir: string): Promise<void> {
  const { default: Chromium } = await import('@sparticuz/chromium')
  mkdirSync(dirname(dir), { recursive: true })
  const staging = mkdtempSync(`${dir}.unpacking-`)
  try {
    const saved = { TMPDIR: process.env.TMPDIR, AWS_EXECUTION_ENV: process.env.AWS_EXECUTION_ENV }
    let unpacking: Promise<string>
    try {
      process.env.TMPDIR = staging
      process.env.AWS_EXECUTION_ENV = 'AWS_Lambda_nodejs20.x'
      unpacking = Chromium.executablePath(bin)
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
    const unpacked = await unpacking
    if (unpacked !== join(staging, 'chromium')) {
      throw new Error(`@sparticuz/chromium unpacked to ${unpacked}, not into ${staging}`)
    }
    try {
      renameSync(staging, dir)
    } catch (error) {
      if (!existsSync(join(dir, 'chromium'))) throw error // else another process unpacked it first
    }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

function systemChromium(): Located {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, 'chromium')
    try {
      accessSync(candidate, constants.X_OK)
      return { source: `chromium on PATH (${candidate})`, executablePath: candidate, env: definedEnv() }
    } catch {}
  }
  throw new Error('no `chromium` on PATH')
}

function definedEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value
  return env
}
