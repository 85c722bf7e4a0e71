import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

// CONTRIBUTING.md's "Source layout" table names every folder of src/ and the files at its top; this keeps the
// table and the tree from drifting apart (a folder added without a row, a row left behind by a move).
const root = fileURLToPath(new URL('../..', import.meta.url))

function folders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const path = join(dir, entry.name)
      return [`${relative(root, path)}/`, ...folders(path)]
    })
}

function tableRows(): string[] {
  const text = readFileSync(join(root, 'CONTRIBUTING.md'), 'utf8')
  const section = text.slice(text.indexOf('## Source layout'), text.indexOf('### One `fetch` call'))
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `src'))
    .map((line) => line.split('|')[1] ?? '')
}

test('the layout table in CONTRIBUTING.md names every folder of src/ and the files at its top, and nothing else', () => {
  const named = tableRows().flatMap((cell) => [...cell.matchAll(/`(src[^`]*)`/g)].map((match) => match[1]))
  const tree = [
    ...folders(join(root, 'src')),
    ...readdirSync(join(root, 'src'))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => `src/${name}`),
  ]
  expect(named.length).toBeGreaterThan(10)
  expect([...new Set(named)].sort()).toEqual([...new Set(tree)].sort())
})
