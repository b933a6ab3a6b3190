// @ts-nocheck
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"

/** The first byte of every sealed value, so that a later format can be told apart. */
const version = 1
const ivBytes = 12
const tagBytes = 16
const keyBytes = 32

const hexKey = /^[0-9a-fA-F]{64}$/
const base64Key = /^[A-Za-z0-9+/_-]{43}=?$/

/**
 * Reads a 32-byte AES-256 key written as 64 hex digits or as base64 (standard or URL-safe). The
 * reason on failure never quotes the key.
 */
export const parseKey = (key: Redacted.Redacted<string>): Either.Either<Buffer, string> => {
  const text = Redacted.value(key).trim()
  if (hexKey.test(text)) return Either.right(Buffer.from(text, "hex"))
  if (base64Key.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64")
    if (bytes.length === keyBytes) return Either.right(bytes)
  }
  const decoded = /^[A-Za-z0-9+/_=-]+$/.test(text)
    ? ` (${text.length} characters, ${Buffer.from(text, "base64").length} bytes as base64)`
    : ""
  return Either.left(
    `must be ${keyBytes} random bytes written as 64 hex digits or 44 base64 characters${decoded}; ` +
      "generate one with `openssl rand -base64 32`"
  )
}

/**
 * Encrypts `plaintext` with AES-256-GCM under a fresh 96-bit IV, bound to `context` (the cache key)
 * so that a value copied under another key does not decrypt. The result is base64 of
 * `version | iv | tag | ciphertext`.
 */
export const seal = (key: Buffer, context: string, plaintext: string): string => {
  const iv = crypto.randomBytes(ivBytes)
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv, { authTagLength: tagBytes })
  cipher.setAAD(Buffer.from(context, "utf8"))
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return Buffer.concat([Buffer.of(version), iv, cipher.getAuthTag(), ciphertext]).toString("base64")
}

/** Decrypts what {@link seal} wrote; `undefined` for anything else or a different key or context. */
export const open = (key: Buffer, context: string, sealed: string): string | undefined => {
  const bytes = Buffer.from(sealed, "base64")
  if (bytes.length < 1 + ivBytes + tagBytes || bytes[0] !== version) return undefined
  const iv = bytes.subarray(1, 1 + ivBytes)
  const tag = bytes.subarray(1 + ivBytes, 1 + ivBytes + tagBytes)
  const ciphertext = bytes.subarray(1 + ivBytes + tagBytes)
  try {
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv, { authTagLength: tagBytes })
    decipher.setAAD(Buffer.from(context, "utf8"))
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8")
  } catch {
    return undefined
  }
}
