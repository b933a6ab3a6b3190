// @ts-nocheck
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Jose from "jose"
import * as crypto from "node:crypto"
import type * as Http from "node:http"
import type * as Oidc from "oidc-provider"
import type * as TokenServer from "../TokenServer.js"
import { listen, pathnameOf } from "./loopback.js"
import * as MutualTls from "./mutualTls.js"
import { memoryAdapter, oidcProvider, quietly } from "./oidcProvider.js"

/** @internal */
export const defaultClient: TokenServer.ClientOptions = {
  clientId: "m2m",
  clientSecret: "secret",
  tokenEndpointAuthMethod: "client_secret_basic"
}

/** @internal */
export const defaultResource = "urn:access-token:api"

/** @internal */
export const defaultScopes: ReadonlyArray<string> = ["api"]

/** @internal */
export const defaultAccessTokenLifetime = Duration.hours(1)

const tokenEndpointAuthMethods: ReadonlyArray<TokenServer.TokenEndpointAuthMethod> = [
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt",
  "private_key_jwt"
]

/** Every algorithm a client assertion may be signed with, beyond oidc-provider's default few. */
const clientAuthSigningAlgValues: ReadonlyArray<Oidc.SigningAlgorithm> = [
  "HS256",
  "HS384",
  "HS512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "Ed25519",
  "EdDSA"
]

const routes = { token: "/token", jwks: "/jwks" } as const

const rfc8414Route = "/.well-known/oauth-authorization-server"

/** `/tenants/acme/` and `tenants/acme` both mean `/tenants/acme`; the empty path means the origin. */
const normalizePath = (path: string | undefined): string => {
  const trimmed = (path ?? "").replace(/^\/+|\/+$/g, "")
  return trimmed === "" ? "" : `/${trimmed}`
}

/**
 * The request as oidc-provider must see it when the issuer has a path, or `undefined` when the
 * request is not for this issuer. oidc-provider serves its routes relative to where it is mounted,
 * and finds the mount path as the part of `originalUrl` before `url`, which builds every endpoint
 * URL of its documents. RFC 8414 puts the issuer's path after the well-known segment
 * (`/.well-known/oauth-authorization-server/tenants/acme`), outside the mount: it is handed over
 * as the provider's own RFC 8414 route.
 */
const mountedUrl = (url: string, path: string, issuerPath: string): string | undefined => {
  if (issuerPath === "") return url
  const query = url.slice(path.length)
  if (path === `${rfc8414Route}${issuerPath}`) return `${rfc8414Route}${query}`
  return path.startsWith(`${issuerPath}/`) ? url.slice(issuerPath.length) : undefined
}

const signingKey = Effect.promise(async (): Promise<Oidc.JWK> => {
  const { privateKey } = await Jose.generateKeyPair("ES256", { extractable: true })
  const jwk = await Jose.exportJWK(privateKey)
  return { ...jwk, kid: await Jose.calculateJwkThumbprint(jwk), alg: "ES256", use: "sig" }
})

const registerClient = (scopes: ReadonlyArray<string>) => (client: TokenServer.ClientOptions): TokenServer.Client => ({
  clientId: client.clientId,
  clientSecret: client.clientSecret === undefined
    ? Redacted.make(crypto.randomBytes(32).toString("base64url"))
    : typeof client.clientSecret === "string"
    ? Redacted.make(client.clientSecret)
    : client.clientSecret,
  tokenEndpointAuthMethod: client.tokenEndpointAuthMethod ?? "client_secret_basic",
  jwks: client.jwks,
  tokenEndpointAuthSigningAlg: client.tokenEndpointAuthSigningAlg,
  scopes: client.scopes ?? scopes,
  certificate: client.certificate
})

const clientMetadata = (dpopRequired: boolean) => (client: TokenServer.Client): Oidc.ClientMetadata => ({
  ...(dpopRequired ? { dpop_bound_access_tokens: true } : {}),
  client_id: client.clientId,
  // a client authenticated by its certificate has no secret that could stand in for it
  ...(MutualTls.isCertificateMethod(client.tokenEndpointAuthMethod) ? {} : {
    client_secret: Redacted.value(client.clientSecret)
  }),
  ...MutualTls.clientMetadata(client),
  token_endpoint_auth_method: client.tokenEndpointAuthMethod,
  ...(client.jwks === undefined ? {} : { jwks: { keys: client.jwks.keys.map((key) => ({ ...key }) as Oidc.JWK) } }),
  ...(client.tokenEndpointAuthSigningAlg === undefined
    ? {}
    : { token_endpoint_auth_signing_alg: client.tokenEndpointAuthSigningAlg as Oidc.SigningAlgorithm }),
  grant_types: ["client_credentials"],
  response_types: [],
  redirect_uris: [],
  scope: client.scopes.join(" ")
})

const lifetimeInSeconds = (lifetime: Duration.DurationInput): number =>
  Math.max(1, Math.ceil(Duration.toSeconds(lifetime)))

const stringParam = (ctx: Oidc.KoaContextWithOIDC, name: string): string | undefined => {
  const value = ctx.oidc?.params?.[name]
  return typeof value === "string" ? value : undefined
}

const formDecode = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value.replace(/\+/g, "%20"))
  } catch {
    return undefined
  }
}

// oidc-provider accepts either secret method whatever the client registered, so the method is
// read from the request itself.
const clientAuthenticationOf = (
  ctx: Oidc.KoaContextWithOIDC
): Pick<TokenServer.TokenRequest, "clientId" | "clientAuthMethod"> => {
  const registered = ctx.oidc?.client?.clientId
  const authorization = ctx.get("authorization")
  if (stringParam(ctx, "client_secret") !== undefined) {
    return { clientId: registered ?? stringParam(ctx, "client_id"), clientAuthMethod: "client_secret_post" }
  }
  if (/^basic /i.test(authorization)) {
    const basic = Buffer.from(authorization.slice(6).trim(), "base64").toString("utf8")
    const separator = basic.indexOf(":")
    const clientId = separator === -1 ? undefined : formDecode(basic.slice(0, separator))
    return { clientId: registered ?? clientId, clientAuthMethod: "client_secret_basic" }
  }
  const assertion = stringParam(ctx, "client_assertion")
  if (assertion !== undefined) {
    let symmetric = false
    try {
      symmetric = Jose.decodeProtectedHeader(assertion).alg?.startsWith("HS") === true
    } catch {
      // a malformed assertion is refused by oidc-provider; the log keeps what was attempted
    }
    return {
      clientId: registered ?? stringParam(ctx, "client_id"),
      clientAuthMethod: symmetric ? "client_secret_jwt" : "private_key_jwt"
    }
  }
  const method = ctx.oidc?.client?.clientAuthMethod as TokenServer.TokenEndpointAuthMethod | undefined
  if (method !== undefined && MutualTls.isCertificateMethod(method) && MutualTls.peerCertificate(ctx) !== undefined) {
    return { clientId: registered, clientAuthMethod: method }
  }
  return { clientId: registered ?? stringParam(ctx, "client_id"), clientAuthMethod: "none" }
}

/** @internal */
export const make = (
  options: TokenServer.Options = {}
): Effect.Effect<TokenServer.TokenServer.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { default: Provider, errors } = yield* oidcProvider
    const mutualTls = options.tls?.clientCertificates !== undefined
    const aliased = mutualTls && options.mtlsEndpointAliases === true
    // With aliases, client certificates are asked for on the alias port only, as on a separate host.
    const { origin, server } = yield* listen({
      tls: aliased ? { ...options.tls!, clientCertificates: undefined } : options.tls
    })
    const alias = aliased ? yield* listen({ tls: options.tls }) : undefined
    const key = yield* signingKey

    const resource = options.resource ?? defaultResource
    const scopes = options.scopes ?? defaultScopes
    const accessTokenTTL = lifetimeInSeconds(options.accessTokenLifetime ?? defaultAccessTokenLifetime)
    const clients = (options.clients ?? [defaultClient]).map(registerClient(scopes))
    const allowedScopes = new Map(clients.map((client) => [client.clientId, new Set(client.scopes)]))

    const resourceServer: Oidc.ResourceServer = {
      audience: resource,
      scope: scopes.join(" "),
      accessTokenTTL,
      accessTokenFormat: "jwt",
      jwt: { sign: { alg: "ES256" } }
    }

    const configuration: Oidc.Configuration = {
      adapter: memoryAdapter(),
      clients: clients.map(clientMetadata(options.dpop?.required === true)),
      clientAuthMethods: [...tokenEndpointAuthMethods, ...(mutualTls ? MutualTls.certificateMethods : [])],
      // the default, RS256, has no key in this key set, which would make every client invalid
      clientDefaults: { id_token_signed_response_alg: "ES256" },
      jwks: { keys: [key] },
      enabledJWA: { clientAuthSigningAlgValues: [...clientAuthSigningAlgValues] },
      ...(options.strictAssertionAudience === true ?
        {
          // oidc-provider accepts the issuer, the token endpoint or an array holding either; the
          // current rule (OpenID Connect Core errata, draft-ietf-oauth-rfc7523bis) is the issuer alone.
          assertJwtClientAuthClaimsAndHeader: (ctx: Oidc.KoaContextWithOIDC, claims: Record<string, unknown>) => {
            if (claims.aud !== ctx.oidc.issuer) {
              throw new errors.InvalidClientAuth("audience (aud) must be the issuer identifier, as one string")
            }
          }
        } :
        {}),
      scopes: [...scopes],
      routes,
      // also set here, as oidc-provider's default TTL function prints a notice when called
      ttl: { ClientCredentials: accessTokenTTL },
      clientBasedCORS: () => false,
      renderError: (ctx, out) => {
        ctx.type = "json"
        ctx.body = out
      },
      ...(alias === undefined ? {} : {
        discovery: {
          mtls_endpoint_aliases: {
            token_endpoint: `${alias.origin}${normalizePath(options.issuerPath)}${routes.token}`
          }
        }
      }),
      features: {
        ...(mutualTls ? MutualTls.feature : {}),
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        dPoP: {
          enabled: true,
          // Nonces are HMACs under this secret, rotating every minute (RFC 9449 §8).
          nonceSecret: crypto.randomBytes(32),
          requireNonce: () => options.dpop?.requireNonce === true
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (ctx, indicator, client) => {
            if (indicator !== resource) {
              throw new errors.InvalidTarget()
            }
            // oidc-provider silently drops requested scopes the resource does not know; RFC 6749
            // §5.2 wants them refused, and a test server must make such a mistake visible.
            const allowed = allowedScopes.get(client.clientId) ?? new Set<string>()
            const refused = (stringParam(ctx, "scope") ?? "").split(" ").filter((scope) =>
              scope !== "" && !allowed.has(scope)
            )
            if (refused.length > 0) {
              throw new errors.InvalidScope(`requested scope is not allowed: ${refused.join(" ")}`, refused.join(" "))
            }
            return resourceServer
          }
        }
      }
    }

    const issuerPath = normalizePath(options.issuerPath)
    const issuer = `${origin}${issuerPath}`
    const provider = quietly(() => new Provider(issuer, configuration))

    const tokenRequests: Array<TokenServer.TokenRequest> = []
    let tokenRequestCount = 0
    let metadataRequestCount = 0
    let metadataAvailable = true
    const wellKnown = new Set([`${rfc8414Route}${issuerPath}`, `${issuerPath}/.well-known/openid-configuration`])

    const record = (
      ctx: Oidc.KoaContextWithOIDC,
      outcome: Pick<TokenServer.TokenRequest, "outcome" | "status" | "scope" | "resource" | "error">
    ) => {
      tokenRequests.push({
        ...clientAuthenticationOf(ctx),
        grantType: stringParam(ctx, "grant_type"),
        requestedScope: stringParam(ctx, "scope"),
        ...outcome,
        // Only on requests with a proof, so that records of plain requests keep their shape.
        ...(ctx.get("dpop") === "" ? {} : { dpop: { jkt: ctx.oidc.entities.ClientCredentials?.jkt } })
      })
    }

    provider.on("grant.success", (ctx) => {
      const token = ctx.oidc.entities.ClientCredentials
      record(ctx, {
        outcome: "success",
        status: ctx.status,
        scope: token?.scope,
        resource: token?.resourceServer?.identifier(),
        error: undefined
      })
    })
    provider.on("grant.error", (ctx, error) => {
      record(ctx, { outcome: "error", status: ctx.status, scope: undefined, resource: undefined, error: error.message })
    })
    provider.on("server_error", (ctx) => {
      if (ctx.oidc?.route === "token") {
        record(ctx, { outcome: "error", status: 500, scope: undefined, resource: undefined, error: "server_error" })
      }
    })

    const callback = provider.callback()
    const handle = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      const path = pathnameOf(request)
      if (request.method === "POST" && path === `${issuerPath}${routes.token}`) {
        tokenRequestCount++
      }
      if (wellKnown.has(path)) {
        metadataRequestCount++
        if (!metadataAvailable) {
          response.writeHead(503, { "content-type": "application/json" })
          response.end(JSON.stringify({ error: "temporarily_unavailable" }))
          return
        }
      }
      const url = request.url ?? "/"
      const mounted = mountedUrl(url, path, issuerPath)
      if (mounted === undefined) {
        response.writeHead(404, { "content-type": "application/json" })
        response.end(JSON.stringify({ error: "invalid_request", error_description: "unrecognized route" }))
        return
      }
      if (mounted !== url) {
        Object.assign(request, { originalUrl: `${issuerPath}${mounted}`, url: mounted })
      }
      callback(request, response)
    }
    server.on("request", handle)
    alias?.server.on("request", handle)

    return {
      issuer,
      tokenEndpoint: `${issuer}${routes.token}`,
      jwksUri: `${issuer}${routes.jwks}`,
      mtlsTokenEndpoint: alias === undefined ? undefined : `${alias.origin}${issuerPath}${routes.token}`,
      resource,
      scopes,
      clients,
      tokenRequests: Effect.sync(() => [...tokenRequests]),
      tokenRequestCount: Effect.sync(() => tokenRequestCount),
      metadataRequestCount: Effect.sync(() => metadataRequestCount),
      setMetadataAvailable: (available: boolean) =>
        Effect.sync(() => {
          metadataAvailable = available
        }),
      // oidc-provider keeps each static client as one instance once found, and compares the secret
      // sent with that instance's: changing it there is what a rotation at the server amounts to.
      setClientSecret: (clientId: string, secret: Redacted.Redacted<string>) =>
        Effect.promise(() => provider.Client.find(clientId)).pipe(
          Effect.flatMap((client) =>
            client === undefined
              ? Effect.dieMessage(`No client "${clientId}" is registered at the token server`)
              : Effect.sync(() => {
                ;(client as { clientSecret?: string }).clientSecret = Redacted.value(secret)
              })
          )
        )
    }
  })
