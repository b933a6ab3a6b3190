// @ts-nocheck
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import * as MutualTls from "../MutualTls.js"
import { ClientConfigurationError } from "../TokenError.js"

/** Where a token request goes, as far as the aliases are concerned. */
interface Target {
  readonly tokenEndpoint: string
  readonly metadata?: { readonly mtls_endpoint_aliases?: Readonly<Record<string, string>> | undefined } | undefined
}

/**
 * Where a certificate-authenticated client sends its token requests: the token endpoint's alias
 * for mutual TLS when the metadata names one (RFC 8705 §5), as the server may ask for client
 * certificates on another host or port only.
 */
export const mtlsTarget = <T extends Target>(client: ClientCredentialsClient.ClientCredentialsClient, target: T): T => {
  const alias = target.metadata?.mtls_endpoint_aliases?.token_endpoint
  return alias === undefined || MutualTls.certificateOf(client) === undefined
    ? target
    : { ...target, tokenEndpoint: alias }
}

/** A client whose requests end when their scope closes (`HttpClient.withScope`). */
type Scoped = HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>

/**
 * The `HttpClient` of a client's token requests: `httpClient`, or for a certificate-authenticated
 * client the one of the `MutualTls` transport that presents its certificate. Without such a
 * transport, the client fails before anything is sent: without its certificate, the server would
 * refuse it anyway, with a less helpful message.
 */
export const transportFor = (
  httpClient: Scoped,
  mutualTls: Option.Option<MutualTls.MutualTls.Service>
) =>
(client: ClientCredentialsClient.ClientCredentialsClient): Either.Either<Scoped, ClientConfigurationError> => {
  const certificate = MutualTls.certificateOf(client)
  if (certificate === undefined) return Either.right(httpClient)
  return Option.match(mutualTls, {
    onNone: () =>
      Either.left(
        new ClientConfigurationError({
          client: client.name,
          field: "authentication",
          reason: `is ${
            client.authentication!.method
          }, which needs a transport that presents the client certificate: provide MutualTls (on Node.js, NodeMutualTls.layer of @access-token/platform-node)`
        })
      ),
    onSome: (transport) => Either.right(HttpClient.withScope(transport.httpClient(certificate)))
  })
}
