import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import { withVariableNames } from "./configNames.js"

/** See `LayerConfig.Wrap`. */
export type Wrap<A> =
  | Config.Config<A>
  | ([NonNullable<A>] extends [infer T] ?
    [IsPlainObject<T>] extends [true] ? { readonly [K in keyof A]: Wrap<A[K]> } | A
    : A
    : A)

type IsPlainObject<A> = [A] extends [Record<string, any>]
  ? [keyof A] extends [never] ? false : [keyof A] extends [string] ? true : false
  : false

/** An object literal, as opposed to a value with a class of its own (`Redacted`, `Duration`, an array, a function). */
const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> => {
  if (typeof u !== "object" || u === null) return false
  const prototype = Object.getPrototypeOf(u)
  return prototype === Object.prototype || prototype === null
}

const holdsConfig = (u: unknown): boolean =>
  Config.isConfig(u) || (isPlainObject(u) && Object.values(u).some(holdsConfig))

/**
 * Like `Config.unwrap`, which would read a plain `true` as an empty struct: a `Config` is read, an
 * object literal holding one is unwrapped field by field, and any other value is taken as it is.
 * Taken as it is, not copied: `Config.all` of an empty record dies (it reads its first entry), and
 * a copy by assignment turns an own `__proto__` member (as `JSON.parse` makes one) into the
 * prototype, so that the client's check of its extra parameters would never see it.
 */
export const unwrap = <A>(wrapped: Wrap<A>): Config.Config<A> => {
  if (Config.isConfig(wrapped)) return wrapped as Config.Config<A>
  if (!isPlainObject(wrapped) || !holdsConfig(wrapped)) return Config.succeed(wrapped as A)
  const fields: Record<string, Config.Config<unknown>> = {}
  for (const [key, value] of Object.entries(wrapped)) fields[key] = unwrap(value as Wrap<unknown>)
  return Config.all(fields) as Config.Config<unknown> as Config.Config<A>
}

/**
 * Reads options given as `Wrap`, a failure naming each setting as the environment variable the
 * default `ConfigProvider` reads (`API_CLIENT_ID`), not by its dotted path (`API.CLIENT_ID`).
 */
export const load = <A>(wrapped: Wrap<A>): Effect.Effect<A, ConfigError.ConfigError> =>
  Effect.mapError(unwrap(wrapped), withVariableNames)
