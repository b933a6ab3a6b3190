/**
 * JSON from outside the process (a token endpoint, a shared cache), parsed so that no member can
 * change a prototype.
 *
 * `JSON.parse` keeps a member named `__proto__` as a plain member, but a decoder that copies
 * members one by one by assignment (as `Schema` does for the members of a record, and as
 * `AccessToken.fromResponse` does for the members it keeps) would give the copy that prototype.
 * Such a member is dropped wherever it is, before anything copies it.
 */
// @ts-nocheck


/** A `JSON.parse` reviver that drops every member named `__proto__`. */
export const withoutProto = (key: string, value: unknown): unknown => key === "__proto__" ? undefined : value

/** `JSON.parse` without `__proto__` members; throws as `JSON.parse` does on invalid JSON. */
export const parse = (text: string): unknown => JSON.parse(text, withoutProto)

/** The pairs of a form-urlencoded body as an object, without a `__proto__` pair. */
export const fromForm = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of new URLSearchParams(text)) {
    if (name !== "__proto__") out[name] = value
  }
  return out
}
