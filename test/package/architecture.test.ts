import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

// The layers of src/, read off the import statements: every arrow points down, and no module imports itself
// back through others.

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return modules(path)
    return entry.name.endsWith('.ts') ? [relative(SRC, path)] : []
  })
}

/** Relative imports and re-exports (static, dynamic and type-only) of a module, as paths below src/. */
function importsOf(module: string): string[] {
  // A type-only import leaves nothing behind at run time, but it is an arrow all the same: the importer depends on
  // the shape the other module declares, and a reader follows it the same way.
  const text = readFileSync(join(SRC, module), 'utf8')
  const found: string[] = []
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = relative(SRC, resolve(dirname(join(SRC, module)), match[1] as string))
    found.push(target.replace(/\.js$/, '.ts'))
  }
  return found
}

/** The layer of a module: its top folder (`cli` for the command), or `root` for src/index.ts and the factory. */
function layer(module: string): string {
  return module.includes('/') ? (module.split('/')[0] as string) : 'root'
}

// What each layer may import (besides itself).
const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  core: ['errors'],
  protocols: ['core', 'errors'],
  stores: ['core', 'errors'],
  adapters: ['core', 'errors'],
  testing: ['core', 'errors'],
  root: ['core', 'errors', 'protocols', 'stores', 'adapters'],
  // The command-line client and the server-side sessions sit on top: nothing imports them.
  // Instrumentation watches a client from outside, through the parts the factory hands it.
  otel: ['core'],
  cli: ['root', 'core', 'errors', 'protocols', 'stores', 'adapters', 'otel'],
  server: ['root', 'core', 'errors', 'protocols', 'stores'],
}

const all = modules(SRC)

test('every import points down the layers: errors ← core ← protocols, stores, adapters, testing ← the factory (no store or protocol reaches an adapter)', () => {
  const wrong: string[] = []
  for (const module of all) {
    const from = layer(module)
    for (const target of importsOf(module)) {
      const to = layer(target)
      if (to !== from && !ALLOWED[from]?.includes(to)) wrong.push(`${module} → ${target}`)
    }
  }
  expect(wrong).toEqual([])
})

test('no import cycle', () => {
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const visit = (module: string, path: string[]) => {
    if (state.get(module) === 'done') return
    if (state.get(module) === 'open') {
      cycles.push([...path.slice(path.indexOf(module)), module].join(' → '))
      return
    }
    state.set(module, 'open')
    for (const target of importsOf(module)) visit(target, [...path, module])
    state.set(module, 'done')
  }
  for (const module of all) visit(module, [])
  expect(cycles).toEqual([])
})

test('the checks can fail: a core module importing a protocol is caught', () => {
  expect(ALLOWED.core?.includes(layer('protocols/plantly/plantly-protocol.ts'))).toBe(false)
  expect(importsOf('create-session-fetch.ts')).toContain('protocols/plantly/plantly-protocol.ts')
})

test('type-only imports and re-exports are arrows too', () => {
  // discovery.ts reaches the protocol contract only through `import type`; index.ts re-exports types of options.ts.
  expect(readFileSync(join(SRC, 'protocols/oauth2/discovery.ts'), 'utf8')).toMatch(
    /import type \{ ProtocolContext \} from '\.\.\/\.\.\/core\/protocol\.js'/,
  )
  expect(importsOf('protocols/oauth2/discovery.ts')).toContain('core/protocol.ts')
  expect(importsOf('protocols/oauth2/index.ts')).toContain('protocols/oauth2/options.ts')
})
