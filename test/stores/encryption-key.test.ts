import { randomBytes } from 'node:crypto'
import { expect, test } from 'vitest'
import { OptionError } from '../../src/index.js'
import { parseEncryptionKey } from '../../src/stores/encryption-key.js'
import { fileStore } from '../../src/stores/file/index.js'
import { redisStore } from '../../src/stores/redis/index.js'

// One check serves both stores that seal a session: the same key is refused the same way by each.
const refusals = (encryptionKey: unknown) =>
  [
    () => fileStore({ path: '/tmp/never-created.json', encryptionKey: encryptionKey as Uint8Array }),
    () => redisStore({ url: 'redis://127.0.0.1:1', key: 'k', encryptionKey: encryptionKey as Uint8Array }),
  ].map((create) => {
    try {
      create()
    } catch (error) {
      return error
    }
    throw new Error('the store was created')
  })

test.each([
  ['16 bytes', new Uint8Array(16), /^expected 32 bytes for A256GCM, got 16$/],
  ['an empty Buffer', Buffer.alloc(0), /^expected 32 bytes for A256GCM, got 0$/],
  ['a string (the key itself, never echoed)', 'c2VjcmV0LWtleS1pbi1iYXNlNjQtMzItYnl0ZXMhIQ==', /a string/],
  ['an array of numbers', Array(32).fill(1), /^expected 32 bytes \(a Uint8Array or Buffer\), got/],
])(
  'an encryptionKey of %s is refused by fileStore() and redisStore() alike, naming the option',
  (_, key, why) => {
    const [file, redis] = refusals(key)
    expect(file).toBeInstanceOf(OptionError)
    expect(file).toMatchObject({ option: 'encryptionKey' })
    expect((file as OptionError).message).toMatch(/encryptionKey/)
    expect(redis).toEqual(file)
    expect((redis as OptionError).message).toBe((file as OptionError).message)
    if (typeof key === 'string') expect((file as OptionError).message).not.toContain(key)
    const [, detail] = /: (expected .*)$/.exec((file as OptionError).message) ?? []
    expect(detail).toMatch(why)
  },
)

test('a 32-byte key is taken as a copy: the caller reusing its buffer does not change it', () => {
  const given = randomBytes(32)
  const original = Uint8Array.from(given)
  const kept = parseEncryptionKey(given)
  given.fill(0)
  expect(kept).toEqual(original)
  expect(parseEncryptionKey(undefined)).toBeUndefined()
})
