/**
 * The server's side of a Plantly session, as one synchronous model shared by every test server: the embedded
 * mock (HTTP and msw), the scripted API the model-based test drives, and the benchmark's server. A login opens a
 * token family; a refresh rotates its refresh token (single use) and supersedes its older access tokens; a
 * rotated-out refresh token presented again is reuse, which revokes the family; a logout revokes it.
 * Times are the server's clock, in epoch ms; minting the token strings is the caller's business.
 */

/** One token as the server knows it. */
export interface TokenEntry {
  family: number
  kind: 'access' | 'refresh'
  /** The server's clock. */
  expiresAt: number
  /** A refresh token that was rotated out. */
  used: boolean
  /** An access token whose session was refreshed since (with `invalidateOnRefresh`). */
  superseded: boolean
  /** Who obtained it (an exchange id, for the tests' bookkeeping; 0 when nobody says). */
  issuedBy: number
  /** What rotated it out (a refresh token, once used). */
  rotatedBy?: number
}

export interface TokenLedgerOptions {
  /** A refresh makes the refresh token single-use. @default true */
  rotate?: boolean
  /** A rotated-out refresh token presented again revokes its whole family. @default true */
  reuseDetection?: boolean
  /** A refresh ends the family's older access tokens. @default true */
  invalidateOnRefresh?: boolean
  /** Forget tokens that can never work again when their family is refreshed (a long soak's memory). @default false */
  forgetSpent?: boolean
}

/** What a refresh with a token came to. */
export type RefreshOutcome =
  | { ok: true; entry: TokenEntry }
  | { ok: false; reason: 'unknown' | 'revoked' | 'expired' }
  | { ok: false; reason: 'reused'; entry: TokenEntry }

export class TokenLedger {
  readonly tokens = new Map<string, TokenEntry>()
  readonly #revoked = new Set<number>()
  readonly #options: Required<TokenLedgerOptions>
  #nextFamily = 1

  constructor(options: TokenLedgerOptions = {}) {
    this.#options = {
      rotate: true,
      reuseDetection: true,
      invalidateOnRefresh: true,
      forgetSpent: false,
      ...options,
    }
  }

  /** A new family (a login). */
  openFamily(): number {
    return this.#nextFamily++
  }

  /** Record a token the server issued. */
  add(token: string, entry: Pick<TokenEntry, 'family' | 'kind' | 'expiresAt'> & { issuedBy?: number }): void {
    this.tokens.set(token, { used: false, superseded: false, issuedBy: 0, ...entry })
  }

  /** The entry of an access token that works now, else undefined. */
  access(token: string | undefined, now: number): TokenEntry | undefined {
    const entry = token === undefined ? undefined : this.tokens.get(token)
    if (entry?.kind !== 'access' || entry.superseded || this.#revoked.has(entry.family)) return undefined
    return entry.expiresAt > now ? entry : undefined
  }

  /**
   * Present a refresh token: rotate it (the caller then issues the family's new tokens), or say why not. Reuse
   * of a rotated-out token revokes the family when reuse detection is on.
   */
  refresh(token: string | undefined, now: number, by = 0): RefreshOutcome {
    const entry = token === undefined ? undefined : this.tokens.get(token)
    if (entry?.kind !== 'refresh') return { ok: false, reason: 'unknown' }
    if (this.#revoked.has(entry.family)) return { ok: false, reason: 'revoked' }
    if (entry.expiresAt <= now) return { ok: false, reason: 'expired' }
    if (entry.used) {
      if (this.#options.reuseDetection) this.#revoked.add(entry.family)
      return { ok: false, reason: 'reused', entry }
    }
    if (this.#options.rotate) {
      entry.used = true
      entry.rotatedBy = by
    }
    for (const [other, info] of this.tokens) {
      if (info.family !== entry.family) continue
      if (this.#options.invalidateOnRefresh && info.kind === 'access') info.superseded = true
      if (this.#options.forgetSpent && (info.superseded || info.used)) this.tokens.delete(other)
    }
    return { ok: true, entry }
  }

  /** End a family (a logout, a revocation): none of its tokens works any more. */
  revoke(family: number): void {
    this.#revoked.add(family)
  }

  /** End every family issued so far. */
  revokeAll(): void {
    for (const entry of this.tokens.values()) this.#revoked.add(entry.family)
  }

  isRevoked(family: number): boolean {
    return this.#revoked.has(family)
  }

  /** Every access token issued so far stops working now (refresh tokens stay valid). */
  expireAccessTokens(now: number): void {
    for (const entry of this.tokens.values())
      if (entry.kind === 'access') entry.expiresAt = Math.min(entry.expiresAt, now)
  }

  /**
   * The families still live: not revoked, and holding an unused, unexpired refresh token (or, with
   * `byAccess`, an access token that still works). Family 0 (tokens outside any session) never is.
   */
  liveFamilies(now: number, { byAccess = false } = {}): number[] {
    const live = new Set<number>()
    for (const entry of this.tokens.values()) {
      if (entry.family === 0 || this.#revoked.has(entry.family) || entry.expiresAt <= now) continue
      if (entry.kind === 'refresh' ? !entry.used : byAccess && !entry.superseded) live.add(entry.family)
    }
    return [...live].sort((a, b) => a - b)
  }
}
