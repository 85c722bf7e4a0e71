// Vitest's global setup for `npm run test:next` (NEXT=1): the Next.js app of test/next-app, built once per run.
// First the package, as it is published (tsup, ESM), into the app's own node_modules/session-fetch (gitignored), so
// that the app imports `session-fetch/server` and `session-fetch/redis` through the package's `exports` like an
// installed copy; then `next build` into test/next-app/.next (gitignored). Nothing is downloaded: Next's compiler
// is the installed @next/swc binary, telemetry is off, and the app uses no next/font/google.
import { spawn } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { build } from 'tsup'
import type { TestProject } from 'vitest/node'
import { entries } from '../../tsup.config.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The built app's folder (test/next-app), for `next start`. */
    nextApp: string
    /** How long the package's build and `next build` took, in ms. */
    nextBuildMs: { package: number; next: number }
  }
}

export const APP = resolve('test/next-app')
export const NEXT_BIN = resolve('node_modules/next/dist/bin/next')

/** The environment of every `next` process: no telemetry, production. */
export function nextEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production', ...extra }
}

const USED = ['server', 'redis'] as const

export async function buildPackageForApp(): Promise<void> {
  const folder = join(APP, 'node_modules', 'session-fetch')
  await rm(folder, { recursive: true, force: true })
  await mkdir(folder, { recursive: true })
  const manifest = JSON.parse(await readFile('package.json', 'utf8')) as Record<string, unknown>
  await build({
    entry: Object.fromEntries(USED.map((name) => [name, entries[name]])),
    outDir: join(folder, 'dist'),
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    dts: false,
    splitting: true,
    treeshake: true,
    config: false,
    silent: true,
  })
  const exports = Object.fromEntries(USED.map((name) => [`./${name}`, { import: `./dist/${name}.js` }]))
  const { name, version, type, dependencies, peerDependencies } = manifest
  await writeFile(
    join(folder, 'package.json'),
    JSON.stringify({ name, version, type, dependencies, peerDependencies, exports }, null, 2),
  )
}

export function nextBuild(): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [NEXT_BIN, 'build', APP], {
      env: nextEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code === 0) resolvePromise()
      else reject(new Error(`next build exited with ${code}:\n${output.slice(-4000)}`))
    })
  })
}

export default async function setup(project: TestProject) {
  const started = performance.now()
  await buildPackageForApp()
  const packaged = performance.now()
  await rm(join(APP, '.next'), { recursive: true, force: true })
  await nextBuild()
  const built = performance.now()
  const nextBuildMs = { package: Math.round(packaged - started), next: Math.round(built - packaged) }
  console.log(
    `Next.js app built: the package in ${nextBuildMs.package} ms, next build in ${nextBuildMs.next} ms`,
  )
  project.provide('nextApp', APP)
  project.provide('nextBuildMs', nextBuildMs)
}
