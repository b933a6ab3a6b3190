/**
 * When two definitions of one client are the same: a client resolved again must not count as
 * changed because its resolver built a new value, nor because its key was imported again.
 */
// @ts-nocheck

import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import type * as DPoP from "../DPoP.js"
import { derOf, pemBlock } from "./certificate.js"
import { isKey } from "./dpopProof.js"
import { unescapePem } from "./privateKey.js"

/**
 * The RFC 7638 thumbprint of each private key loaded from material that shows it (a PEM, a JWK, an
 * extractable `CryptoKey`): a key imported anew from the same material is the same key. A key
 * imported here is never extractable, so its thumbprint can only be taken when it is loaded.
 */
const thumbprints = new WeakMap<CryptoKey, string>()

/** DPoP keys generated for a client (`dpop: true`), which stand for the client's identity, not for a key it was given. */
const generated = new WeakSet<DPoP.Key>()

/** Node's, Deno's and Bun's `CryptoKey` alike, without relying on a global class. */
const isCryptoKey = (u: unknown): u is CryptoKey =>
  Predicate.hasProperty(u, "algorithm") && Predicate.hasProperty(u, "usages") && Predicate.hasProperty(u, "type") &&
  Predicate.hasProperty(u, "extractable")

const thumbprintOfJwk = (jwk: Jose.JWK): Promise<string> => Jose.calculateJwkThumbprint(jwk, "sha256")

/** The material's key, imported as extractable for as long as its thumbprint takes. */
const thumbprintOfMaterial = async (material: unknown, loaded: CryptoKey): Promise<string | undefined> => {
  if (isCryptoKey(material)) {
    return material.extractable ? thumbprintOfJwk(await globalThis.crypto.subtle.exportKey("jwk", material)) : undefined
  }
  if (!Redacted.isRedacted(material)) return undefined
  const value: unknown = Redacted.value(material as Redacted.Redacted<unknown>)
  if (Predicate.isRecord(value)) return thumbprintOfJwk(value as Jose.JWK)
  if (typeof value !== "string") return undefined
  const text = unescapePem(value.trim())
  if (text.startsWith("{")) return thumbprintOfJwk(JSON.parse(text) as Jose.JWK)
  const block = [...text.matchAll(pemBlock)].find((found) => found[1] === "PRIVATE KEY")
  if (block === undefined) return undefined
  const key = await globalThis.crypto.subtle.importKey("pkcs8", derOf(block[2]), loaded.algorithm, true, ["sign"])
  return thumbprintOfJwk(await globalThis.crypto.subtle.exportKey("jwk", key))
}

/**
 * Notes the thumbprint of `loaded`, the key imported from `material`, so that a definition loaded
 * again from the same material is the same. Material it cannot read leaves the key compared by
 * identity: a doubt counts as a change.
 */
export const noteKey = (loaded: CryptoKey, material: unknown): Effect.Effect<void> =>
  Effect.promise(() =>
    thumbprintOfMaterial(material, loaded).then(
      (thumbprint) => {
        if (thumbprint !== undefined) thumbprints.set(loaded, thumbprint)
      },
      () => undefined
    )
  )

/** Notes that the DPoP key of `client` was generated for it, not given. */
export const noteGeneratedDPoPKey = (client: ClientCredentialsClient.ClientCredentialsClient): void => {
  if (client.dpop !== undefined) generated.add(client.dpop.key)
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null &&
  (Object.getPrototypeOf(u) === Object.prototype || Object.getPrototypeOf(u) === null)

const sameCryptoKey = (a: CryptoKey, b: CryptoKey): boolean => {
  const thumbprint = thumbprints.get(a)
  return thumbprint !== undefined && thumbprint === thumbprints.get(b) && a.type === b.type &&
    a.algorithm.name === b.algorithm.name
}

const sameDPoPKey = (a: DPoP.Key, b: DPoP.Key): boolean =>
  a.algorithm === b.algorithm && (a.thumbprint === b.thumbprint || (generated.has(a) && generated.has(b)))

const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return Equal.equals(a, b)
  // Before the fields: a `Redacted` shows none, and a key is compared by what it is.
  if (Redacted.isRedacted(a) || Redacted.isRedacted(b)) return Equal.equals(a, b)
  if (Equal.isEqual(a) && Equal.equals(a, b)) return true
  if (isCryptoKey(a) || isCryptoKey(b)) return isCryptoKey(a) && isCryptoKey(b) && sameCryptoKey(a, b)
  if (isKey(a) || isKey(b)) return isKey(a) && isKey(b) && sameDPoPKey(a, b)
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((value, i) => sameValue(value, b[i]))
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  // Plain objects, and Effect's data classes (an authentication, a grant, DPoP settings, a
  // `Duration`), whose own equality would compare a nested plain object or key by identity.
  return (isRecord(a) || Equal.isEqual(a)) && sameFields(a, b)
}

const sameFields = (a: object, b: object): boolean => {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length &&
    keys.every((key) => sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
}

/**
 * Whether two definitions of a client are the same, field by field into arrays, plain objects and
 * data classes; secrets by value (`Redacted` is equal by value); a private key by its thumbprint,
 * noted when it was loaded; a DPoP key by its thumbprint, and two keys generated for the client
 * alike. Anything else (a `CryptoKey` whose material could not be read) is compared by identity,
 * so that a doubt counts as a change.
 */
export const sameDefinition = (
  a: ClientCredentialsClient.ClientCredentialsClient,
  b: ClientCredentialsClient.ClientCredentialsClient
): boolean => a === b || sameFields(a, b)
