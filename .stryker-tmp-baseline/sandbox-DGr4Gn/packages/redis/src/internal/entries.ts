// @ts-nocheck
import type * as AccessToken from "@access-token/core/AccessToken"
import * as TokenCache from "@access-token/core/TokenCache"
import { TokenCacheError } from "@access-token/core/TokenError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { compareAndDelete, type Run } from "./connection.js"
import * as Encryption from "./encryption.js"

/** An entry that is there but cannot be used: it is dropped, and `get` reports it. */
export class Unreadable extends Data.TaggedError("Unreadable")<{ readonly reason: string }> {}

/**
 * The tokens under `<prefix>token:`, in `TokenCache`'s stored-token encoding, sealed with
 * AES-256-GCM when there is an encryption key.
 */
export const make = (run: Run, prefix: string, encryptionKey: Buffer | undefined) => {
  const tokenKey = (key: string) => `${prefix}token:${key}`

  const read = (key: string): Effect.Effect<Option.Option<AccessToken.AccessToken>, TokenCacheError | Unreadable> =>
    Effect.gen(function*() {
      const redisKey = tokenKey(key)
      const raw = yield* run("get", "GET", (client) => client.get(redisKey))
      if (raw === null) return Option.none()
      const json = encryptionKey === undefined ? raw : Encryption.open(encryptionKey, key, raw)
      const token = json === undefined ? Option.none() : yield* Effect.option(TokenCache.decodeStoredToken(json))
      if (Option.isNone(token)) {
        // Only this value is dropped: a token another replica writes meanwhile stays.
        yield* Effect.ignore(run("get", "EVAL", (client) => client.eval(compareAndDelete, 1, redisKey, raw)))
        return yield* new Unreadable({
          reason: json === undefined
            ? "dropped an entry that could not be decrypted (written with another encryption key, or without one)"
            : encryptionKey === undefined
            ? "dropped an entry that could not be decoded (written with an encryption key, or corrupt)"
            : "dropped an entry that could not be decoded"
        })
      }
      return token.value
    })

  return {
    /** The stored token; an unreadable entry is a miss. */
    stored: (key: string) => Effect.catchTag(read(key), "Unreadable", () => Effect.succeedNone),
    /** The stored token; an unreadable entry is reported. */
    get: (key: string) =>
      Effect.catchTag(
        read(key),
        "Unreadable",
        ({ reason }) => Effect.fail(new TokenCacheError({ operation: "get", description: reason }))
      ),
    set: (key: string, token: AccessToken.AccessToken, timeToLive: Duration.Duration) =>
      Effect.gen(function*() {
        const entry = yield* TokenCache.encodeStoredToken(token, timeToLive)
        const value = encryptionKey === undefined ? entry.value : Encryption.seal(encryptionKey, key, entry.value)
        const millis = Duration.toMillis(entry.timeToLive)
        yield* run("set", "SET", (client) => client.set(tokenKey(key), value, "PX", millis))
      }),
    remove: (key: string) => Effect.asVoid(run("remove", "DEL", (client) => client.del(tokenKey(key))))
  }
}
