// Vitest's global setup: the `session-fetch` command, built once per test run as it is published (tsup, the
// options of tsup.config.ts) into a temporary folder of its own, which the CLI tests run as a child process
// (`inject('cli')`, see test/helpers/cli.ts). A folder of its own: test/package runs `npm run build` into dist/
// while the CLI tests run. Readable by every user (the tests run it as another uid too). A failed build fails
// the run before any test.
import { chmod, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'tsup'
import type { TestProject } from 'vitest/node'
import { cliOptions } from '../../tsup.config.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The built command's entry (`dist/cli.js` as published), in its temporary folder. */
    cli: string
  }
}

export default async function setup(project: TestProject) {
  const folder = await mkdtemp(join(tmpdir(), 'session-fetch-cli-'))
  const started = performance.now()
  try {
    await build({ ...cliOptions(folder), config: false, silent: true })
  } catch (error) {
    await rm(folder, { recursive: true, force: true })
    throw new Error(`the session-fetch command did not build (tsup): ${String(error)}`, { cause: error })
  }
  await openToAll(folder)
  // The OS keychain's binding stays external (a native optional dependency): installed, it sits in node_modules
  // next to the command, as here.
  await mkdir(join(folder, 'node_modules'), { mode: 0o755 })
  await symlink(resolve('node_modules/@napi-rs'), join(folder, 'node_modules', '@napi-rs'))
  const entry = join(folder, 'cli.js')
  if (process.env.SESSION_FETCH_BUILD_TIME) {
    console.log(`session-fetch command built in ${Math.round(performance.now() - started)} ms: ${entry}`)
  }
  project.provide('cli', entry)
  return () => rm(folder, { recursive: true, force: true })
}

async function openToAll(folder: string): Promise<void> {
  await chmod(folder, 0o755)
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) await openToAll(path)
    else await chmod(path, 0o644)
  }
}
