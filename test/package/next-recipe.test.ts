import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

// docs/server.md's Next.js recipe is the app of test/next-app, which `npm run test:next` builds and drives: each
// block introduced by a file's path (**`proxy.ts`: …**) must hold that file's code. Comments, blank lines, the
// imports of the app's own files and the `declare`s standing for them may differ; nothing else.

const ROOT = new URL('../../', import.meta.url)
const read = (path: string) => readFileSync(fileURLToPath(new URL(path, ROOT)), 'utf8')

/** The code that runs: no comment, blank line, import of the app's own files, or `declare`. */
function code(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\s+\/\/ .*$/, '').trimEnd())
    .filter((line) => {
      const trimmed = line.trim()
      return (
        trimmed !== '' &&
        !trimmed.startsWith('//') &&
        !trimmed.startsWith('declare ') &&
        !/^import .* from '\.{1,2}\//.test(trimmed) &&
        trimmed !== "import type { CookieSessions } from 'session-fetch/server'"
      )
    })
}

function recipeBlocks(): Map<string, string> {
  const doc = read('docs/server.md')
  const start = doc.indexOf('### Next.js (App Router)')
  const section = doc.slice(start, doc.indexOf('\n## ', start))
  const blocks = new Map<string, string>()
  for (const match of section.matchAll(/\*\*`([\w./-]+)`[^*]*\*\*[\s\S]*?```tsx?\n([\s\S]*?)```/g)) {
    blocks.set(match[1] as string, match[2] as string)
  }
  return blocks
}

test("the Next.js recipe's blocks hold the code of test/next-app's files", () => {
  const blocks = recipeBlocks()
  expect([...blocks.keys()]).toEqual([
    'lib/plantly.ts',
    'proxy.ts',
    'app/page.tsx',
    'app/api/buyers/route.ts',
    'app/actions.ts',
  ])
  for (const [path, block] of blocks) {
    expect(code(block), path).toEqual(code(read(`test/next-app/${path}`)))
  }
})

test('a block that parts from its file fails the check', () => {
  const blocks = recipeBlocks()
  const proxy = (blocks.get('proxy.ts') as string).replace(
    'if (renewed.length === 0)',
    'if (renewed.length < 2)',
  )
  expect(code(proxy)).not.toEqual(code(read('test/next-app/proxy.ts')))
})
