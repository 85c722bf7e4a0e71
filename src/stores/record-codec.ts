import { CompactEncrypt, compactDecrypt } from 'jose'
import { parseSession } from '../core/parse-session.js'
import type { SessionRecord } from '../core/session.js'
import { StoreError } from '../errors/store-error.js'

/**
 * How the Redis and file stores keep a session record: JSON, or a JWE (`dir` + `A256GCM`, jose) when an encryption
 * key is set, sealed together with the store's key (the Redis key, the file's name) and the version it was written
 * for. The times are moved from the writer's clock to the store's (`offsetMs` = store time − local time: Redis'
 * clock; 0 for a file), so instances whose clocks disagree still agree on when the access token expires.
 */
export interface RecordCodec {
  encode(record: SessionRecord, version: number, offsetMs: number): Promise<string>
  decode(data: string, version: number, offsetMs: number): Promise<SessionRecord>
}

// The issuer travels inside `data`, so with an encryption key it is sealed with the session: whoever can write to
// the store cannot relabel another issuer's session to have it sent.
interface Stored {
  session: unknown
  receivedAt: number
  expiresAt?: number
  issuer?: string
}

// What is sealed: the record plus the key and version it was written for, so a sealed value copied to another
// key, or an older one put back, is refused rather than sent.
interface Sealed {
  key: string
  version: number
  record: Stored
}

// A stored session's token type: Bearer, or DPoP for a session whose tokens are bound to a key (oauth2 dpop).
const STORED_TOKEN_TYPES = ['bearer', 'dpop']
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** How a codec's errors name the place a session is kept, and the store function to give the key to. */
export interface CodecLabels {
  /** e.g. `the session stored at Redis key "k"` */
  where: string
  /** e.g. `redisStore()` */
  factory: string
}

/** The codec of the session kept under `key`, sealed with `encryptionKey` when one is given. */
export function createCodec(
  key: string,
  encryptionKey: Uint8Array | undefined,
  labels: CodecLabels,
): RecordCodec {
  const { where, factory } = labels

  function toStored(record: SessionRecord, offsetMs: number): Stored {
    const stored: Stored = { session: record.session, receivedAt: Math.round(record.receivedAt + offsetMs) }
    if (record.expiresAt !== undefined) stored.expiresAt = Math.round(record.expiresAt + offsetMs)
    if (record.issuer !== undefined) stored.issuer = record.issuer
    return stored
  }

  function fromStored(value: unknown, offsetMs: number): SessionRecord {
    const stored = value as Partial<Stored> | null
    if (
      typeof stored !== 'object' ||
      stored === null ||
      typeof stored.receivedAt !== 'number' ||
      (stored.expiresAt !== undefined && typeof stored.expiresAt !== 'number') ||
      (stored.issuer !== undefined && (typeof stored.issuer !== 'string' || stored.issuer === ''))
    ) {
      throw new StoreError(`${where} is not a session record`)
    }
    let session: SessionRecord['session']
    try {
      session = parseSession(stored.session, STORED_TOKEN_TYPES)
    } catch (error) {
      throw new StoreError(`${where} does not hold a usable session`, { cause: error })
    }
    return Object.freeze({
      session: Object.freeze(session),
      receivedAt: stored.receivedAt - offsetMs,
      expiresAt: stored.expiresAt === undefined ? undefined : stored.expiresAt - offsetMs,
      ...(stored.issuer === undefined ? {} : { issuer: stored.issuer }),
    })
  }

  function parse(text: string): unknown {
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new StoreError(`${where} is not JSON`, { cause: error })
    }
  }

  if (!encryptionKey) {
    return {
      encode: async (record, _version, offsetMs) => JSON.stringify(toStored(record, offsetMs)),
      async decode(data, _version, offsetMs) {
        if (!data.startsWith('{')) {
          throw new StoreError(`${where} is encrypted: pass the same \`encryptionKey\` to ${factory}`)
        }
        return fromStored(parse(data), offsetMs)
      },
    }
  }

  return {
    async encode(record, version, offsetMs) {
      const sealed: Sealed = { key, version, record: toStored(record, offsetMs) }
      return new CompactEncrypt(encoder.encode(JSON.stringify(sealed)))
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'session-fetch.session+json' })
        .encrypt(encryptionKey)
    },
    async decode(data, version, offsetMs) {
      if (data.startsWith('{')) {
        throw new StoreError(`${where} is not encrypted, but \`encryptionKey\` is set: refusing to use it`)
      }
      let plaintext: Uint8Array
      try {
        ;({ plaintext } = await compactDecrypt(data, encryptionKey, {
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
        }))
      } catch (error) {
        throw new StoreError(`${where} could not be decrypted with \`encryptionKey\``, { cause: error })
      }
      const sealed = parse(decoder.decode(plaintext)) as Partial<Sealed> | null
      if (sealed?.key !== key || sealed.version !== version) {
        throw new StoreError(`${where} was sealed for another key or version: refusing to use it`)
      }
      return fromStored(sealed.record, offsetMs)
    },
  }
}
