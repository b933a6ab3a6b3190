// @ts-nocheck
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { AccessToken, make as makeToken } from "../AccessToken.js"
import { ClientCredentialsClient } from "../ClientCredentialsClient.js"
import type * as TokenEndpointClient from "../TokenEndpointClient.js"
import { type TokenError, UnknownClientError } from "../TokenError.js"
import type * as TokenReadiness from "../TokenReadiness.js"
import type * as TokenService from "../TokenService.js"

/** A token as a test gives it: its value, or a whole `AccessToken`. */
type TestToken = string | AccessToken

/** See `TokenService.TestTokens`. */
export type Tokens =
  | Readonly<Record<string, TestToken>>
  | ((
    client: string,
    parameters: TokenEndpointClient.RequestParameters
  ) => TestToken | Effect.Effect<TestToken, TokenError>)

const lifetime = "1 hour"

const asToken = (token: TestToken): Effect.Effect<AccessToken> =>
  token instanceof AccessToken
    ? Effect.succeed(token)
    : Effect.map(DateTime.now, (receivedAt) => makeToken({ value: token, receivedAt, expiresIn: lifetime }))

/** The own token of a client of the test service: always at hand, so ready, whatever was asked before. */
const readyToken = (lastSuccess: DateTime.Utc | undefined): TokenReadiness.TokenState => ({
  scope: undefined,
  resource: [],
  usable: true,
  usableUntil: undefined,
  refreshFrom: undefined,
  renewing: false,
  lastSuccess,
  lastFailure: undefined,
  consecutiveFailures: 0,
  ready: true,
  reason: undefined
})

/**
 * A token service with no token endpoint behind it: every `getToken` asks `tokens` afresh (so that a
 * renewal after a rejection hands out the function's next answer), nothing is cached, and every client
 * is always ready. With a record, its keys are the registered clients; with a function, any name is,
 * and the readiness lists the names asked for so far (a service with `resolveClient` lists none).
 */
export const make = (tokens: Tokens): TokenService.TokenService.Service => {
  const fixed = typeof tokens === "function" ? undefined : tokens
  const clients = fixed === undefined ? [] : Object.keys(fixed)
  // The clients of the readiness, in the order they were registered or first asked for, and when
  // each was last handed a token.
  const handedOut = new Map<string, DateTime.Utc | undefined>(clients.map((client) => [client, undefined]))
  const note = (client: string) => (token: AccessToken) => Effect.sync(() => handedOut.set(client, token.receivedAt))
  const resolve = (client: string | undefined): Effect.Effect<string, UnknownClientError> => {
    if (client === undefined) {
      return clients.length === 1
        ? Effect.succeed(clients[0]!)
        : Effect.fail(new UnknownClientError({ known: clients }))
    }
    return fixed === undefined || Object.hasOwn(fixed, client)
      ? Effect.succeed(client)
      : Effect.fail(new UnknownClientError({ client, known: clients }))
  }
  const tokenOf = (client: string, parameters: TokenEndpointClient.RequestParameters): Effect.Effect<
    AccessToken,
    TokenError
  > => {
    if (typeof tokens !== "function") return asToken(tokens[client]!)
    const token = tokens(client, parameters)
    return Effect.isEffect(token) ? Effect.flatMap(token, asToken) : asToken(token)
  }
  const readiness = Effect.sync((): TokenReadiness.Readiness => ({
    ready: true,
    clients: Array.from(
      handedOut,
      ([client, lastSuccess]) => ({ client, ready: true, reason: undefined, tokens: [readyToken(lastSuccess)] })
    ),
    resolved: undefined
  }))
  return {
    clients,
    readiness,
    // A definition for code that reads the client (its name), pointing at no real server.
    client: (client) =>
      Effect.map(resolve(client), (name) =>
        new ClientCredentialsClient({
          name,
          clientId: name,
          tokenEndpoint: "https://token-endpoint.invalid/token",
          credentialStyle: "header",
          allowInsecureTransport: false
        })),
    getToken: (client, parameters) => {
      const { forceRenewal: _, rejected: __, ...request } = parameters ?? {}
      return Effect.flatMap(resolve(client), (name) => {
        if (!handedOut.has(name)) handedOut.set(name, undefined)
        return Effect.tap(tokenOf(name, request), note(name))
      })
    },
    drop: () => Effect.void,
    invalidate: (client) => Effect.asVoid(resolve(client))
  }
}
