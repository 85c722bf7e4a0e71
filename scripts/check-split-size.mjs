// The core's request path measured the way an application's bundler ships it: esbuild with code splitting, the
// entry chunk plus every chunk it imports statically (transitively), each minified and gzipped on its own, as a
// browser downloads them. What is imported dynamically (the session calls, p-queue) is left out: it loads on
// first use. `npm run size` runs this after size-limit, whose single-bundle figure hides the cost of splitting.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

// Today's figure plus a small margin, under the 11 kB goal. Of it, 0.34 kB is esbuild's runtime chunk (its CommonJS
// helpers): p-queue's eventemitter3 is CommonJS, and esbuild makes every entry point import its helpers' chunk.
const BUDGETS = [
  { name: 'session-fetch (core, request path, split chunks)', entry: 'src/index.ts', limit: 10_300 },
]

export async function requestPathSize(entry) {
  const outdir = mkdtempSync(join(tmpdir(), 'session-fetch-size-'))
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      splitting: true,
      format: 'esm',
      minify: true,
      target: 'es2022',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      outdir,
      metafile: true,
      write: true,
      logLevel: 'silent',
    })
    const outputs = result.metafile.outputs
    // Every chunk loaded with import() is an entry point of the build too: pick the one of `entry`.
    const entryOut = Object.keys(outputs).find((file) => outputs[file].entryPoint === entry)
    if (!entryOut) throw new Error(`No output chunk for ${entry}`)
    const seen = new Set()
    const visit = (file) => {
      if (seen.has(file)) return
      seen.add(file)
      for (const imported of outputs[file]?.imports ?? []) {
        if (imported.kind === 'import-statement' && !imported.external) visit(imported.path)
      }
    }
    visit(entryOut)
    const chunks = [...seen].map((file) => ({
      file: relative(outdir, file),
      gzipped: gzipSync(readFileSync(file), { level: 9 }).length,
    }))
    return { total: chunks.reduce((sum, chunk) => sum + chunk.gzipped, 0), chunks }
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}

let failed = false
for (const budget of BUDGETS) {
  const { total, chunks } = await requestPathSize(budget.entry)
  const ok = total <= budget.limit
  failed ||= !ok
  const kb = (bytes) => `${(bytes / 1000).toFixed(2)} kB`
  console.log(
    `${ok ? '✔' : '✖'} ${budget.name}: ${kb(total)} of ${kb(budget.limit)} (${chunks.length} chunks: ${chunks.map((c) => kb(c.gzipped)).join(' + ')})`,
  )
}
if (failed) process.exitCode = 1
