// Size budgets (min+gz, with dependencies, tree-shaken), checked in `npm test`. Figures: bench/RESULTS.md.
//
// The core entry loads what only a login, refresh or logout needs (the ofetch session call, p-queue, the renewal,
// the login call, stamping records with jose, ending sessions), and what only some requests need (FormData,
// streamed and Request bodies; following a redirect; reading a refused body before its replay), with a dynamic
// import(), so the "request path" check measures what a page must load before its first fetch: every dynamic
// import is left out. The "with session calls" check measures the whole, as a bundle without code
// splitting would ship it. scripts/check-split-size.mjs (run by `npm run size` after this) measures the request
// path as a bundler that splits code ships it: the entry chunk and the chunks it imports, each gzipped.

/** esbuild: leave dynamic imports out of the bundle (they are separate chunks, loaded on first use). */
const lazyChunksApart = (config) => ({
  ...config,
  plugins: [
    ...(config.plugins ?? []),
    {
      name: 'dynamic-imports-apart',
      setup(build) {
        build.onResolve({ filter: /.*/ }, (args) =>
          args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
        )
      },
    },
  ],
})

export default [
  {
    name: 'session-fetch (core, request path)',
    path: 'src/index.ts',
    limit: '9.90 kB',
    gzip: true,
    modifyEsbuildConfig: lazyChunksApart,
  },
  // The session call reads answers itself (bounded) and redacts what a server writes (about 0.9 kB of it);
  // close() drains the session calls under way (about 0.3 kB); the rarer bodies and the redirect follower of the
  // fetch wrapper load on first use (about 0.9 kB). The renewal and ending sessions load on first use too, in their
  // own files (about 0.7 kB here: the module wrappers of one bundle, and what the files pass each other; the
  // request path lost 0.5 kB). The login call, stamping records with jose and reading a refused body load on first
  // use too (about 0.35 kB here, for the same reasons; the request path lost 1.1 kB, split 2 kB). +0.1 kB:
  // accessToken(), a few lines on the request path's own decision. +0.35 kB: answering `insufficient_…`
  // challenges (a claims challenge's refresh, the `challenge` event), loaded with the first such 401.
  // +6 B: preload(), which a short-lived process (the command) turns off. +0.14 kB: the Plantly protocol's calls
  // and reading a session from an answer load on first use (the request path lost 0.7 kB, split too). +0.07 kB:
  // the `instrumentation` option, the refresh's trigger and telling an instrumentation of each session call.
  { name: 'session-fetch (core, with session calls)', path: 'src/index.ts', limit: '25.05 kB', gzip: true },
  {
    name: 'session-fetch/mock',
    path: 'src/testing/mock/index.ts',
    limit: '7.95 kB',
    gzip: true,
    ignore: ['node:http', 'node:net'],
  },
  {
    name: 'session-fetch/msw',
    path: 'src/testing/msw/index.ts',
    limit: '7.75 kB',
    gzip: true,
    ignore: ['msw'],
  },
  {
    name: 'session-fetch/oauth2',
    path: 'src/protocols/oauth2/index.ts',
    // +0.35 kB: the server's clock (assertions and proofs stamped with its Date), token responses checked as
    // RFC 6749 §5.1 writes them, and metadata errors worded as a failed discovery. +0.25 kB: mutual TLS (the
    // methods, the `mtls` option and its checks, the endpoint aliases); +0.05 kB: client_secret_jwt. +0.1 kB: the
    // token exchange grant (its checks load on first use; here its loader, and parameters sent once per value).
    // +16 B: the protocol's preload goes through the core's preload() (off in the command).
    limit: '6.95 kB',
    gzip: true,
    modifyEsbuildConfig: lazyChunksApart,
  },
  {
    name: 'session-fetch/axios',
    path: 'src/adapters/axios/index.ts',
    // +0.5 kB: the redirect guard and the token hiding, which every axios of the peer range needs.
    limit: '3.15 kB',
    gzip: true,
    ignore: ['axios'],
  },
  {
    name: 'session-fetch/undici',
    path: 'src/adapters/undici/index.ts',
    limit: '2.72 kB',
    gzip: true,
    ignore: ['undici'],
  },
  { name: 'session-fetch/ofetch', path: 'src/adapters/ofetch/index.ts', limit: '4.45 kB', gzip: true },
  { name: 'session-fetch/browser', path: 'src/stores/browser/index.ts', limit: '4.00 kB', gzip: true },
  {
    name: 'session-fetch/redis',
    path: 'src/stores/redis/index.ts',
    limit: '16.10 kB',
    gzip: true,
    ignore: ['redis', 'node:crypto'],
  },
  {
    name: 'session-fetch/file',
    path: 'src/stores/file/index.ts',
    limit: '17.40 kB',
    gzip: true,
    ignore: ['node:async_hooks', 'node:crypto', 'node:fs', 'node:fs/promises', 'node:os', 'node:path'],
  },
  {
    // The server entry bundles a whole client (each pooled session is one) with its session calls (25.2 kB), and
    // the cookie sessions their sealing: jose's JWE (compact, dir + A256GCM) and HKDF through Web Crypto (12 kB).
    // Servers only: no page loads it. +0.4 kB with the core's challenge reader (claims challenges, step-up).
    name: 'session-fetch/server',
    path: 'src/server/index.ts',
    limit: '38.10 kB',
    gzip: true,
  },
  {
    // observe() and otel() only: @opentelemetry/api is the application's (an optional peer).
    name: 'session-fetch/otel',
    path: 'src/otel/index.ts',
    limit: '2.45 kB',
    gzip: true,
    ignore: ['@opentelemetry/api'],
  },
]
