// The API reference: `npm run docs` writes it to docs/api/ (gitignored) from the TSDoc of every public entry
// point. Entry points come from package.json `exports` + tsup.config.ts, so moving a source file needs no edit here.
import { entryPoints } from './scripts/entry-points.mjs'

const points = entryPoints()

/** @type {Partial<import('typedoc').TypeDocOptions> & { moduleNames: Record<string, string> }} */
export default {
  name: 'session-fetch',
  entryPoints: points.map((point) => point.source),
  out: 'docs/api',
  tsconfig: 'tsconfig.json',
  readme: 'none',
  excludePrivate: true,
  excludeInternal: true,
  treatWarningsAsErrors: true,
  // No source links: the package has no public repository URL to point them at (and a clone's remote is a
  // local path, which typedoc warns about).
  disableSources: true,
  // The adapters take the core's `SessionFetch` interface (they may not import the composition root), which
  // `session-fetch` exports with Plantly's credentials as its default; their TSDoc links to that one.
  intentionallyNotExported: ['src/core/session-fetch.ts:SessionFetch'],
  plugin: ['./scripts/typedoc-module-names.mjs'],
  // Read by the plugin above: each module is titled by its import specifier, not by its file name.
  moduleNames: Object.fromEntries(points.map((point) => [point.source, point.specifier])),
}
