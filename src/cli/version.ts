import { readFile } from 'node:fs/promises'

/**
 * The package's version, from its package.json: one folder up from the bundled command (`dist/cli.js`), two from
 * its source (`src/cli/version.ts`, run through tsx in the tests). Read only when asked for.
 */
export async function packageVersion(): Promise<string> {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const text = await readFile(new URL(up, import.meta.url), 'utf8')
      const manifest = JSON.parse(text) as { name?: unknown; version?: unknown }
      if (manifest.name === 'session-fetch' && typeof manifest.version === 'string') return manifest.version
    } catch {
      // not this one
    }
  }
  return 'unknown'
}
