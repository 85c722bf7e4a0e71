import { fileURLToPath } from 'node:url'

// The repository's root: its node_modules (next, react, redis) and lockfile. The app itself lives in test/next-app.
const root = fileURLToPath(new URL('../..', import.meta.url))

/** @type {import('next').NextConfig} */
export default {
  turbopack: { root },
  outputFileTracingRoot: root,
  poweredByHeader: false,
  // `npm run typecheck` checks the app (tsconfig.check.json, against the package's sources); the build does not.
  typescript: { ignoreBuildErrors: true },
}
