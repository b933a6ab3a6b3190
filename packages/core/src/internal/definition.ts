/**
 * When two definitions of one client are the same: a client resolved again must not count as
 * changed because its resolver built a new value.
 */
import * as Equal from "effect/Equal"
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js"

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null &&
  (Object.getPrototypeOf(u) === Object.prototype || Object.getPrototypeOf(u) === null)

const sameValue = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b)
    ? a.length === b.length && a.every((value, i) => sameValue(value, b[i]))
    : isRecord(a) && isRecord(b)
    ? sameFields(a, b)
    : Equal.equals(a, b)

const sameFields = (a: object, b: object): boolean => {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length &&
    keys.every((key) => sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
}

/**
 * Whether two definitions of a client are the same, field by field and into arrays and plain
 * objects, secrets compared by value (`Redacted` is equal by value): a resolver builds a new value
 * each time, which must not count as a change. Anything else (a key object) is compared as
 * `Equal.equals` does, so that a doubt counts as a change.
 */
export const sameDefinition = (
  a: ClientCredentialsClient.ClientCredentialsClient,
  b: ClientCredentialsClient.ClientCredentialsClient
): boolean => sameFields(a, b)
