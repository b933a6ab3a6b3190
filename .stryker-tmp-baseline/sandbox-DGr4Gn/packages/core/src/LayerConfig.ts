/**
 * The options of every `layerConfig`: each field a `Config` (read from the environment) or a plain
 * value, so that `TokenService.layerConfig({ clients: { api: ClientCredentialsClient.config("API") },
 * warmUp: true })` needs no `Config.succeed`.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import type * as Config from "effect/Config"
import * as internal from "./internal/layerConfig.js"

/**
 * `Config.Wrap` that also takes plain values: options whose fields are each a `Config` or a value,
 * nested objects field by field.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenService } from "@access-token/core"
 * import { Config } from "effect"
 *
 * const Tokens = TokenService.layerConfig({
 *   clients: { api: ClientCredentialsClient.config("API") },
 *   expirationBuffer: Config.duration("TOKEN_EXPIRATION_BUFFER").pipe(Config.withDefault("1 minute")),
 *   warmUp: true,
 *   failFast: true
 * })
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Wrap<A> = internal.Wrap<A>

/**
 * The `Config` of options given as {@link Wrap}: `Config`s are read, object literals unwrapped field by
 * field, other values (`true`, a `Redacted`, an array, a function) taken as they are.
 *
 * @example
 * ```ts
 * import { LayerConfig } from "@access-token/core"
 * import { Config, ConfigProvider, Effect } from "effect"
 *
 * const options = LayerConfig.unwrap<{ readonly url: string; readonly retries: number }>({
 *   url: Config.string("URL"),
 *   retries: 3
 * })
 * const read = Effect.withConfigProvider(options, ConfigProvider.fromMap(new Map([["URL", "https://api.example.com"]])))
 * assert.deepStrictEqual(Effect.runSync(read), { url: "https://api.example.com", retries: 3 })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const unwrap: <A>(wrapped: Wrap<A>) => Config.Config<A> = internal.unwrap
