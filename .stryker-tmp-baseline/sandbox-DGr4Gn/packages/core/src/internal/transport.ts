// @ts-nocheck
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { ClientCredentialsClient } from "../ClientCredentialsClient.js"
import { ClientConfigurationError } from "../TokenError.js"

const loopbackHost = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i

/**
 * Whether `url` names this machine (`localhost`, `127.0.0.0/8`, `[::1]`), where plain `http` does
 * not expose a secret to the network.
 */
export const isLoopback = (url: URL): boolean => loopbackHost.test(url.hostname)

/**
 * Checks that a token endpoint keeps the secret off the network in clear: `https`, or `http` on
 * loopback, or `allowInsecureTransport`. The endpoint is the client's own unless another was found
 * for it (by discovery, for instance), which must pass the same check. A client configured by
 * issuer has its issuer checked alike: whoever can change its metadata chooses where the
 * credentials go.
 */
export const checkTransport = (
  client: ClientCredentialsClient,
  tokenEndpoint?: string
): Either.Either<void, ClientConfigurationError> => {
  const byIssuer = tokenEndpoint === undefined && client.tokenEndpoint === undefined
  const url = new URL(tokenEndpoint ?? client.tokenEndpoint ?? client.issuer ?? "")
  return url.protocol === "https:" || isLoopback(url) || client.allowInsecureTransport
    ? Either.void
    : Either.left(
      new ClientConfigurationError({
        client: client.name,
        field: byIssuer ? "issuer" : "tokenEndpoint",
        reason: `is plain http to ${url.host}, which would send the client's credentials in clear: use https, or set ` +
          "allowInsecureTransport"
      })
    )
}

/**
 * Keeps a transport that follows redirects itself (`fetch`) from doing so: a `307` would send the
 * form, secret included, wherever it points, and a redirected metadata document would say where to
 * send it. Other transports do not follow redirects.
 */
export const withoutRedirects = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.serviceOption(FetchHttpClient.RequestInit),
    (init) =>
      Effect.provideService(effect, FetchHttpClient.RequestInit, { ...Option.getOrUndefined(init), redirect: "manual" })
  )
