// The JWTs an OAuth2 client signs, client assertions (RFC 7523) and DPoP proofs (RFC 9449), and the keys it signs
// them with. Loaded on first use (load-signing.ts): jose's signing code stays out of the entry bundle.
import { base64url, importJWK, SignJWT } from 'jose'
import { algOf, checkKeyPair } from './options.js'

/** A signing key ready for jose, with the `alg` it signs with and the `kid` to name it by. */
export interface SigningKey {
  key: CryptoKey | Uint8Array
  alg: string
  kid?: string | undefined
}

/** A private JWK imported once (a CryptoKey is used as it is), with the `alg` it signs with. */
export async function signingKey(key: CryptoKey | JsonWebKey): Promise<SigningKey> {
  const alg = algOf(key) as string
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) return { key, alg }
  const jwk = key as JsonWebKey & { kid?: string }
  return { key: await importJWK(jwk as Parameters<typeof importJWK>[0], alg), alg, kid: jwk.kid }
}

/**
 * A client assertion (RFC 7523 §3): `iss` = `sub` = the client id, `aud` the authorization server, a 60 s life and
 * a `jti` never used before (servers refuse a repeated one).
 */
export function clientAssertion(signer: SigningKey, clientId: string, audience: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader(signer.kid === undefined ? { alg: signer.alg } : { alg: signer.alg, kid: signer.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('60s')
    .setJti(crypto.randomUUID())
    .sign(signer.key)
}

/** A DPoP key pair with the public JWK its proofs carry. */
export interface ProofKey {
  privateKey: CryptoKey
  alg: string
  jwk: Record<string, string>
}

/**
 * The key a DPoP client signs its proofs with: its own key pair, or (`true`) one made now, not extractable: ES256,
 * unless the algorithms the server lists (`supported`) have EdDSA and not ES256. The proof header carries only the
 * members of the public JWK that define the key.
 */
export async function proofKey(
  keyPair: CryptoKeyPair | Promise<CryptoKeyPair> | true,
  supported: unknown,
): Promise<ProofKey> {
  const edwards = Array.isArray(supported) && !supported.includes('ES256') && supported.includes('EdDSA')
  const pair =
    keyPair === true
      ? ((await crypto.subtle.generateKey(
          edwards ? { name: 'Ed25519' } : ({ name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams),
          false,
          ['sign', 'verify'],
        )) as CryptoKeyPair)
      : checkKeyPair(await keyPair)
  const full = await crypto.subtle.exportKey('jwk', pair.publicKey)
  const members = full.kty === 'RSA' ? ['kty', 'n', 'e'] : ['kty', 'crv', 'x', 'y']
  const jwk: Record<string, string> = {}
  for (const name of members) {
    const value = full[name as keyof JsonWebKey]
    if (typeof value === 'string') jwk[name] = value
  }
  return { privateKey: pair.privateKey, alg: algOf(pair.privateKey) as string, jwk }
}

/**
 * A DPoP proof (RFC 9449 §4.2) for one request: `htm`, `htu` (the URL as fetch sends it, without query and
 * fragment), `iat`, a unique `jti`, `ath` (the access token's SHA-256) on resource requests, and the server's
 * `nonce` when one is known.
 */
export async function dpopProof(
  key: ProofKey,
  method: string,
  url: string,
  nonce: string | undefined,
  accessToken: string | undefined,
): Promise<string> {
  // The URL parsed as fetch parses it before sending (§4.3 compares it so, RFC 3986 §6.2.2-3): scheme and host
  // lower-cased, dot segments resolved, spaces and the like percent-encoded, the default port left out.
  const target = new URL(url)
  const claims: Record<string, string> = { htm: method.toUpperCase(), htu: target.origin + target.pathname }
  if (nonce !== undefined) claims.nonce = nonce
  if (accessToken !== undefined) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))
    claims.ath = base64url.encode(new Uint8Array(digest))
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .sign(key.privateKey)
}
