// What a run of the model test is made of: the configurations, the commands and their arbitraries.
import fc from 'fast-check'
import type { ExpiresInStyle, Fault, TokenFormat } from '../../helpers/scripted-api.js'

export const BASE = 'https://api.test/v1'
export const FILES = 'https://files.test'
// Passwords no other string of a run can contain by chance, so that finding one anywhere is a leak.
export const DEMO = { email_address: 'demo@plantly.test', password: 'pw-demo-5Qe8Lm' }
export const ROBOT = { email_address: 'robot@plantly.test', password: 'pw-robot-Kx3zVw' }
export const WRONG_PASSWORD = 'pw-wrong-Zt7uNb'
export const PASSWORDS = [DEMO.password, ROBOT.password, WRONG_PASSWORD]
export const USERS = { [DEMO.email_address]: DEMO.password, [ROBOT.email_address]: ROBOT.password }
export const encoder = new TextEncoder()

// ---- what a run is made of -------------------------------------------------------------------------------

export const TARGETS = {
  relative: '/buyers?page=1',
  bare: 'buyers',
  absolute: 'https://api.test/v1/transactions',
  'url-object': 'https://api.test/other',
  allowed: 'https://files.test/upload',
  'own-endpoint': 'https://api.test/v1/auth/sessions',
  foreign: 'https://evil.test/collect',
  'other-scheme': 'http://api.test/v1/buyers',
  'other-port': 'https://api.test:8443/v1/buyers',
  lookalike: 'https://api.test.evil.test/v1/buyers',
  userinfo: 'https://api.test@evil.test/v1/buyers',
  redirect: 'https://evil.test/?next=https://api.test/v1/buyers',
} as const
export type Target = keyof typeof TARGETS
export const BODIES = [
  'none',
  'string',
  'params',
  'form',
  'blob',
  'buffer',
  'typed',
  'request',
  'stream',
] as const
export type BodyKind = (typeof BODIES)[number]
export const FAULTS: Fault[] = [
  '500',
  '502',
  '503',
  '429',
  '400',
  '401',
  '403',
  'drop',
  'drop-after',
  'drop-after', // twice: the one fault after which a client may present a rotated refresh token again
  'hang',
  'html',
  'no-access-token',
  'crlf-token',
]

export interface Config {
  tokenFormat: TokenFormat
  expiresIn: ExpiresInStyle
  ttlSeconds: number
  skewMs: number
  refreshWindowMs: number
  /** The must-refresh margin (clamped to refreshWindowMs); undefined: the client's default. */
  mustRefreshMs?: number | undefined
  refreshTimeoutMs: number
  retry: number
  /** The protocol's first retry delay (200 by default: with jitter, near short refresh timeouts). */
  retryDelayMs?: number
  credentials: boolean
  /** `credentials()` starts out answering a wrong password (the `credentials` command switches it). */
  credentialsWrong?: boolean
  /** Instances sharing one memoryStore(). */
  instances: 1 | 2 | 3
  startLoggedIn: boolean
  /** The client's first backoff after a failed unattended login (8 times that is its cap). @default 1_000 */
  loginBackoffMs?: number
  /** The instance that calls the last logout(), once everything else has settled. @default 0 */
  finalLogout?: number
}

export type Command =
  | {
      t: 'fetch'
      instance: number
      target: Target
      input: 'string' | 'url' | 'request'
      body: BodyKind
      signal: 'none' | 'live' | 'aborted'
      payload: string
    }
  /** Answer a pending call (`session`: a login, refresh or logout when one is pending) with `fault`. */
  | { t: 'deliver'; pick: number; fault: Fault; session?: boolean }
  | { t: 'abort'; pick: number }
  | { t: 'tick'; ms: number }
  | { t: 'jump'; percentOfTtl: number }
  | { t: 'expire-server' }
  | { t: 'revoke' }
  | { t: 'login'; instance: number; wrongPassword: boolean }
  | { t: 'logout'; instance: number }
  | { t: 'refresh'; instance: number }
  /** What `credentials()` answers from now on: the robot's password, or a wrong one (unattended logins refused). */
  | { t: 'credentials'; wrong: boolean }
  /** login() on one instance, then logout() on one (the same or a sibling) in the same tick, neither awaited. */
  | { t: 'login-logout'; instance: number; other: number }
  /** A request (which may start an unattended login, or a refresh), then an explicit login() in the same tick. */
  | { t: 'fetch-login'; instance: number; other: number }

export const configArb: fc.Arbitrary<Config> = fc.record({
  tokenFormat: fc.constantFrom<TokenFormat>('jwt', 'jwt', 'jwt-no-iat', 'jwt-no-exp', 'opaque'),
  expiresIn: fc.constantFrom<ExpiresInStyle>('ttl', 'ttl', 'missing', 'string', 'negative'),
  ttlSeconds: fc.oneof(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 120, max: 7200 })),
  skewMs: fc.oneof(fc.constant(0), fc.integer({ min: -7_200_000, max: 7_200_000 })),
  refreshWindowMs: fc.oneof(fc.constant(30_000), fc.integer({ min: 0, max: 600_000 })),
  mustRefreshMs: fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
  refreshTimeoutMs: fc.integer({ min: 50, max: 10_000 }),
  retry: fc.integer({ min: 0, max: 2 }),
  retryDelayMs: fc.constantFrom(10, 200),
  credentials: fc.boolean(),
  credentialsWrong: fc.boolean(),
  instances: fc.constantFrom<1 | 2 | 3>(1, 1, 2, 3),
  startLoggedIn: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
  loginBackoffMs: fc.constantFrom(1, 100, 1_000),
  finalLogout: fc.nat(2),
})

export const instanceArb = fc.nat(2)
export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('fetch' as const),
      instance: instanceArb,
      target: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom<Target>('relative', 'bare', 'absolute', 'url-object') },
        {
          weight: 2,
          arbitrary: fc.constantFrom<Target>(
            'allowed',
            'own-endpoint',
            'foreign',
            'other-scheme',
            'other-port',
            'lookalike',
            'userinfo',
            'redirect',
          ),
        },
      ),
      input: fc.constantFrom('string' as const, 'url' as const, 'request' as const),
      body: fc.constantFrom(...BODIES),
      signal: fc.constantFrom('none' as const, 'none' as const, 'live' as const, 'aborted' as const),
      payload: fc.string({ maxLength: 24 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant('deliver' as const),
      pick: fc.nat(),
      fault: fc.oneof({ weight: 5, arbitrary: fc.constant<Fault>('ok') }, fc.constantFrom(...FAULTS)),
      session: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('abort' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('jump' as const), percentOfTtl: fc.integer({ min: 1, max: 150 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'expire-server' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'revoke' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('login' as const),
      instance: instanceArb,
      wrongPassword: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('logout' as const), instance: instanceArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('refresh' as const), instance: instanceArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('credentials' as const), wrong: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('login-logout' as const),
      instance: instanceArb,
      other: instanceArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('fetch-login' as const),
      instance: instanceArb,
      other: instanceArb,
    }),
  },
)
