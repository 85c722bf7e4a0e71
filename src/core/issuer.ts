import { OptionError } from '../errors/option-error.js'
import { StoreError } from '../errors/store-error.js'
import type { StoreSnapshot } from './store.js'

/** A snapshot as one instance may use it, and the issuer of the session it holds when that is another one. */
export interface IssuerView {
  /** The snapshot, without its record unless this instance's issuer obtained it. */
  readonly snapshot: StoreSnapshot
  /** The issuer of another protocol's session that the store holds: nothing may be done with it. */
  readonly foreign: string | undefined
}

/**
 * What an instance of `issuer` may see of a stored snapshot. Its own session as is; another issuer's session
 * never (the record is dropped, so its tokens cannot be sent, refreshed or logged out, and the instance refuses
 * to write over it); a session without an issuer (written before sessions carried one) is never used either,
 * but counts as no session: a login may replace it, since it cannot be proven to be anyone else's and refusing
 * it would lock every upgraded store until it is cleared by hand.
 */
export function viewAs(issuer: string, snapshot: StoreSnapshot): IssuerView {
  const stored = snapshot.record?.issuer
  if (!snapshot.record || stored === issuer) return { snapshot, foreign: undefined }
  return {
    snapshot: Object.freeze({ ...snapshot, record: undefined }),
    foreign: stored,
  }
}

/** The error every call of an instance gets while its store holds another issuer's session. Names no token. */
export function foreignSessionError(stored: string, issuer: string): StoreError {
  return new StoreError(
    `The session store holds a session of ${shown(stored)}, not of this client's issuer ${shown(issuer)}, and ` +
      'will not use or overwrite it: give each API its own store (or key)',
  )
}

// A URL query in an issuer (an OAuth2 token endpoint's) tells issuers apart but is left out of messages, as
// ResponseError leaves it out of URLs: whatever it carries is not the reader's business.
function shown(issuer: string): string {
  return issuer.replace(/\?[^#]*/, '?…')
}

/**
 * A store's `bind`: the first issuer binds the store; a client of another issuer is refused when it is created
 * (an OptionError naming `store`), before anything is read or sent.
 */
export function issuerBinding(): (issuer: string) => void {
  let bound: string | undefined
  return (issuer) => {
    bound ??= issuer
    if (issuer !== bound) {
      throw new OptionError(
        'store',
        `it already holds sessions of another issuer (${shown(bound)}, not ${shown(issuer)}): give each API its own store`,
      )
    }
  }
}
