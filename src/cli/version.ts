import { readFile } from 'node:fs/promises'

// Written into the bundled command by its build (tsup.config.ts); absent when the source runs through tsx.
declare const __SESSION_FETCH_VERSION__: string | undefined

/**
 * The package's version: the one the command was built from, or (the source, run through tsx) its package.json,
 * two folders up from `src/cli/version.ts`.
 */
export async function packageVersion(): Promise<string> {
  if (typeof __SESSION_FETCH_VERSION__ === 'string') return __SESSION_FETCH_VERSION__
  try {
    const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8')
    const manifest = JSON.parse(text) as { name?: unknown; version?: unknown }
    if (manifest.name === 'session-fetch' && typeof manifest.version === 'string') return manifest.version
  } catch {
    // not there
  }
  return 'unknown'
}
