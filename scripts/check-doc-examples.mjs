// Type-checks every ```ts block of README.md and docs/*.md (and the other Markdown files users read), and checks
// that their relative links reach a file and a heading, so that no example or link can rot: each block becomes a
// module that imports the package by its public specifiers (`session-fetch`, `session-fetch/redis`, …), which
// tsconfig `paths` map to the sources, and the blocks are compiled together with the project's compiler
// options (no emit). A block must be complete: its imports, and `declare` for what the reader brings (e.g.
// `declare const plantly: SessionFetch`). A ```js block is refused, since nothing would check it.
//
// Usage: node scripts/check-doc-examples.mjs [file.md …]   (default: see documentationFiles())
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'
import { entryPoints, root } from './entry-points.mjs'

const CHECKED = new Set(['ts', 'typescript', 'tsx', 'mts'])
const REFUSED = new Set(['js', 'javascript', 'jsx', 'mjs', 'cjs'])

/**
 * The fenced code blocks of a Markdown text: `{ lang, code, line }`, `line` being the 1-based line of the
 * block's first code line. Fences may be indented (inside a list item); the indent is removed.
 */
export function extractBlocks(markdown) {
  const blocks = []
  const lines = markdown.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i])
    if (!open) continue
    const [, indent, fence, lang] = open
    const code = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const line = lines[j]
      if (line.trim().startsWith(fence) && line.trim().replaceAll(fence[0], '') === '') break
      code.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart())
    }
    blocks.push({ lang: lang.toLowerCase(), code: code.join('\n'), line: i + 2 })
    i = j
  }
  return blocks
}

/**
 * Compile the ```ts blocks of `files` (paths relative to the project root, or absolute). Returns the problems
 * as `file.md:line:column message` strings, naming each file as it was given; empty when every block compiles.
 */
export function checkDocExamples(files) {
  // Under node_modules, so that the examples resolve the packages they import; one folder per run.
  const outDir = join(root, 'node_modules/.cache/doc-examples', String(process.pid))
  try {
    return compileExamples(files, outDir)
  } finally {
    rmSync(outDir, { recursive: true, force: true })
  }
}

function compileExamples(files, outDir) {
  const problems = []
  const modules = new Map() // generated file → { md, line }
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(outDir, { recursive: true })
  // ESM, so that examples may use top-level await, as the package's users do.
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n')
  // What the openapi-fetch example imports: the types openapi-typescript generates from the test fixture.
  const generated = join(root, 'test/fixtures/generated/plantly.d.ts')
  if (existsSync(generated)) writeFileSync(join(outDir, 'plantly.d.ts'), readFileSync(generated))

  for (const md of files) {
    const blocks = extractBlocks(readFileSync(resolve(root, md), 'utf8'))
    let n = 0
    for (const block of blocks) {
      if (REFUSED.has(block.lang)) {
        problems.push(
          `${md}:${block.line - 1}:1 a \`${block.lang}\` block is not checked: write it as \`ts\``,
        )
      }
      if (!CHECKED.has(block.lang)) continue
      n++
      const extension = block.lang === 'tsx' ? 'tsx' : 'ts' // a tsx block may hold JSX (the Next.js recipe's page)
      const name = `${relative(root, resolve(root, md)).replace(/[^\w]+/g, '_')}_${n}.${extension}`
      const isModule = /^\s*(import|export)\s/m.test(block.code)
      writeFileSync(join(outDir, name), isModule ? `${block.code}\n` : `${block.code}\nexport {}\n`)
      modules.set(join(outDir, name), { md, line: block.line })
    }
  }
  if (modules.size === 0) return problems

  const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile)
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'))
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root)
  const paths = {}
  for (const point of entryPoints()) paths[point.specifier] = [join(root, point.source)]
  // Next.js (a devDependency, for the app of test/next-app) has no `exports` map: under the project's NodeNext
  // resolution its modules would need a `.js` that no Next.js app writes. The recipes import them as apps do.
  for (const module of ['server', 'headers', 'navigation']) {
    paths[`next/${module}`] = [join(root, 'node_modules/next', `${module}.d.ts`)]
  }
  const program = ts.createProgram([...modules.keys()], {
    ...options,
    noEmit: true,
    paths,
    baseUrl: undefined,
    jsx: ts.JsxEmit.ReactJSX,
  })

  // Only the examples' own diagnostics: the sources are type-checked by `npm run typecheck`, and checking
  // them again here would triple the time.
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...[...modules.keys()].flatMap((fileName) => {
      const file = program.getSourceFile(fileName)
      return file ? [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)] : []
    }),
  ]
  for (const diagnostic of diagnostics) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ')
    const file = diagnostic.file
    if (file === undefined) {
      problems.push(`error TS${diagnostic.code}: ${message}`)
      continue
    }
    const { line, character } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
    const origin = modules.get(join(file.fileName))
    const where = origin
      ? `${origin.md}:${origin.line + line}:${character + 1}`
      : `${relative(root, file.fileName)}:${line + 1}:${character + 1}`
    problems.push(`${where} TS${diagnostic.code}: ${message}`)
  }
  return problems
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** The anchors of a Markdown text's headings (a repeated heading gets `-1`, `-2`, … as on GitHub). */
export function anchorsOf(markdown) {
  const seen = new Map()
  const anchors = new Set()
  for (const line of withoutBlocks(markdown).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const base = slug(heading[1].replace(/`/g, ''))
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  }
  return anchors
}

// Fenced blocks blanked out (newlines kept, so line numbers hold); and inline code too.
function withoutBlocks(markdown) {
  return markdown.replace(/^(\s*)(`{3,}|~{3,})[\s\S]*?^\s*\2\s*$/gm, (block) => block.replace(/[^\n]/g, ' '))
}
function withoutCode(markdown) {
  return withoutBlocks(markdown).replace(/``[^`]*``|`[^`\n]*`/g, (span) => ' '.repeat(span.length))
}

/**
 * Every relative link of `files` must reach a file of the repository, and a `#anchor` a heading of its target.
 * Returns the problems as `file.md:line target: why`.
 */
export function checkLinks(files) {
  const problems = []
  const anchors = new Map()
  const anchorsIn = (path) => {
    if (!anchors.has(path)) anchors.set(path, anchorsOf(readFileSync(path, 'utf8')))
    return anchors.get(path)
  }
  for (const md of files) {
    const path = resolve(root, md)
    const text = withoutCode(readFileSync(path, 'utf8'))
    for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1]
      if (/^[a-z][\w+.-]*:/i.test(target)) continue // https:, mailto:
      const line = text.slice(0, match.index).split('\n').length
      const [file, anchor] = target.split('#')
      const linked = file === '' ? path : resolve(dirname(path), decodeURIComponent(file))
      if (!existsSync(linked)) {
        problems.push(`${md}:${line} ${target}: no such file`)
      } else if (anchor !== undefined && linked.endsWith('.md') && !anchorsIn(linked).has(anchor)) {
        problems.push(`${md}:${line} ${target}: no heading with this anchor in ${relative(root, linked)}`)
      }
    }
  }
  return problems
}

/** The documentation: README.md, every docs/*.md, and the other Markdown files users and contributors read. */
export function documentationFiles() {
  const docs = existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => `docs/${name}`)
    : []
  const others = ['CONTRIBUTING.md', 'SECURITY.md', 'CHANGELOG.md', 'test/README.md', 'bench/README.md']
  return ['README.md', ...docs, ...others.filter((name) => existsSync(join(root, name)))]
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const files = process.argv.length > 2 ? process.argv.slice(2) : documentationFiles()
  const problems = [...checkLinks(files), ...checkDocExamples(files)]
  const count = files.reduce(
    (sum, md) =>
      sum + extractBlocks(readFileSync(resolve(root, md), 'utf8')).filter((b) => CHECKED.has(b.lang)).length,
    0,
  )
  if (problems.length > 0) {
    for (const problem of problems) console.error(problem)
    console.error(`docs: ${problems.length} problem(s) in the links and code examples of ${files.join(', ')}`)
    process.exit(1)
  }
  console.log(
    `docs: ${count} code examples in ${files.length} files compile, and every relative link resolves`,
  )
}
