// The package's public entry points, as [{ specifier, source }]: `session-fetch/redis` → `src/stores/redis/index.ts`.
// Read from package.json's `exports` (the specifiers and the dist file each one loads) and tsup.config.ts's
// `entries` (the source each dist file is built from), so the docs check and the API reference follow the
// sources wherever they move. tsup.config.ts is parsed, not run: TypeScript's parser finds the object literal.
import { readFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** tsup's entry map: dist name → source path, from `export const entries = {…}` or `entry: {…}`. */
export function tsupEntries(file = join(root, 'tsup.config.ts')) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  let literal
  const visit = (node) => {
    if (literal) return
    const named =
      (ts.isVariableDeclaration(node) && node.name.getText() === 'entries') ||
      (ts.isPropertyAssignment(node) && node.name.getText() === 'entry')
    if (named && node.initializer && ts.isObjectLiteralExpression(node.initializer))
      literal = node.initializer
    else ts.forEachChild(node, visit)
  }
  visit(source)
  if (!literal) {
    throw new Error(
      `${relative(root, file)}: no \`entries\` (or \`entry\`) object literal mapping names to sources`,
    )
  }
  const entries = {}
  for (const property of literal.properties) {
    if (!ts.isPropertyAssignment(property) || !ts.isStringLiteralLike(property.initializer)) {
      throw new Error(`${relative(root, file)}: entry \`${property.getText()}\` is not \`name: 'path'\``)
    }
    const name = ts.isStringLiteralLike(property.name) ? property.name.text : property.name.getText()
    entries[name] = property.initializer.text
  }
  return entries
}

/** Every import specifier of the package with the source file it is built from. */
export function entryPoints() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const entries = tsupEntries()
  const points = []
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    if (subpath === './package.json') continue
    const file = typeof target === 'string' ? target : (target.import?.default ?? target.default)
    if (typeof file !== 'string') throw new Error(`package.json exports["${subpath}"]: no import path`)
    const name = basename(file).replace(/\.(c|m)?js$/, '')
    const sourcePath = entries[name]
    if (sourcePath === undefined) {
      throw new Error(
        `package.json exports["${subpath}"] loads ${file}, but tsup.config.ts has no entry "${name}"`,
      )
    }
    points.push({
      specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
      source: sourcePath,
    })
  }
  return points
}
