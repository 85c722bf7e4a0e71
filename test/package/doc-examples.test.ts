// The documentation check (scripts/check-doc-examples.mjs), run as `npm test` runs it: a Markdown file whose
// ```ts blocks do not compile, or whose relative links lead nowhere, fails it, naming the file and line.
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const run = promisify(execFile)
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'doc-examples-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function check(markdown: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.md`)
  await writeFile(file, markdown)
  try {
    const { stdout, stderr } = await run(process.execPath, ['scripts/check-doc-examples.mjs', file])
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

describe('the docs check', () => {
  test('passes blocks that compile against the package, whatever the fence or indent, and links that resolve', async () => {
    const result = await check(
      [
        '# Guide',
        '',
        '```ts',
        "import { createSessionFetch } from 'session-fetch'",
        "const plantly = createSessionFetch({ baseURL: 'https://api.example.com' })",
        "const res: Response = await plantly.fetch('/buyers')",
        '```',
        '',
        '- in a list:',
        '',
        '  ~~~typescript',
        "  const n: number = 1 + Number('2')",
        '  ~~~',
        '',
        '```sh',
        'npm test',
        '```',
        '',
        'See [the guide](#guide) and [`SessionFetch`](#guide).',
      ].join('\n'),
    )
    expect(result.stderr).toBe('')
    expect(result.stdout).toContain('2 code examples in 1 files compile')
    expect(result.code).toBe(0)
  }, 60_000)

  test('fails on a block that does not compile and on a broken link, naming the Markdown line', async () => {
    const result = await check(
      [
        '# Guide', // 1
        '', // 2
        '```ts', // 3
        "import { createSessionFetch } from 'session-fetch'", // 4
        '', // 5
        "const plantly = createSessionFetch({ baseUrl: 'https://api.example.com' })", // 6: not an option
        '```', // 7
        '', // 8
        '```js', // 9: nothing would check it
        'console.log(1)', // 10
        '```', // 11
        'See [a guide](missing.md) and [a section](#nowhere).', // 12
      ].join('\n'),
    )
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      /\.md:6:\d+ TS2561: Object literal may only specify known properties.*'baseUrl'/,
    )
    expect(result.stderr).toMatch(/\.md:9:1 a `js` block is not checked/)
    expect(result.stderr).toMatch(/\.md:12 missing\.md: no such file/)
    expect(result.stderr).toMatch(/\.md:12 #nowhere: no heading with this anchor/)
  }, 60_000)

  test('a tsx block may hold JSX, and the Next.js modules resolve as an app imports them', async () => {
    const result = await check(
      [
        '# Next.js', // 1
        '', // 2
        '```tsx', // 3
        "import { headers } from 'next/headers'", // 4
        "import { type NextRequest, NextResponse } from 'next/server'", // 5
        'export const proxy = (request: NextRequest) => NextResponse.next({ request })', // 6
        'export default async function Page() {', // 7
        "  return <main title={(await headers()).get('host') ?? ''}>{1}</main>", // 8
        '}', // 9
        '```', // 10
        '', // 11
        '```tsx', // 12
        'export const wrong = <main title={1} />', // 13: a number is no title
        '```', // 14
      ].join('\n'),
    )
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/\.md:13:\d+ TS2322: Type 'number' is not assignable to type 'string'/)
    expect(result.stderr.match(/\.md:\d+/g)).toHaveLength(1) // the first block compiles
  }, 60_000)
})
