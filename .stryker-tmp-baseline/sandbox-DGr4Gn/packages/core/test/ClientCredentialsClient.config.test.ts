/**
 * The words of configuration errors: a client read by `config(prefix)` is named by the environment
 * variables the user set, one defined in code by its fields; a client without credentials must say
 * it is public.
 */
// @ts-nocheck

import { ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenError, TokenService } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import * as Crypto from "node:crypto"

const ec = Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
const pem = ec.privateKey.export({ type: "pkcs8", format: "pem" }).toString()

const base: Record<string, string> = {
  API_TOKEN_ENDPOINT: "https://auth.example.com/token",
  API_CLIENT_ID: "worker",
  API_CLIENT_SECRET: "s3cr3t-Sentinel"
}

/** Reads `config("API")` from `variables` (`undefined` removes one of `base`) and makes the client "api". */
const fromEnvironment = (variables: Record<string, string | undefined>) => {
  const entries = Object.entries({ ...base, ...variables }).filter((entry): entry is [string, string] =>
    entry[1] !== undefined
  )
  return Effect.flatMap(ClientCredentialsClient.config("API"), (input) => ClientCredentialsClient.make(input, "api"))
    .pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries), { pathDelim: "_" })))
}

const messageOf = (variables: Record<string, string | undefined>) =>
  Effect.map(Effect.flip(fromEnvironment(variables)), (error) => {
    assert.instanceOf(error, TokenError.ClientConfigurationError)
    assert.notInclude(error.message, "Sentinel")
    return error.message
  })

const inCode = (input: ClientCredentialsClient.Input) =>
  Effect.map(Effect.flip(ClientCredentialsClient.make(input, "api")), (error) => error.message)

const secret = Redacted.make("s3cr3t-Sentinel")

describe("config(prefix): errors name the environment variables", () => {
  it.effect("a missing client id names API_CLIENT_ID alone", () =>
    Effect.map(
      messageOf({ API_CLIENT_ID: undefined }),
      (message) => assert.strictEqual(message, `Client "api" is misconfigured: API_CLIENT_ID is required`)
    ))

  it.effect("an empty value is said to be empty", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* messageOf({ API_TOKEN_ENDPOINT: "" }),
        `Client "api" is misconfigured: API_TOKEN_ENDPOINT is empty`
      )
      assert.strictEqual(
        yield* messageOf({ API_CLIENT_SECRET: "" }),
        `Client "api" is misconfigured: API_CLIENT_SECRET is empty`
      )
      assert.strictEqual(yield* messageOf({ API_SCOPE: "" }), `Client "api" is misconfigured: API_SCOPE is empty`)
    }))

  it.effect("an invalid value names its variable", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* messageOf({ API_TOKEN_ENDPOINT: "auth.example.com/token" }),
        `Client "api" is misconfigured: API_TOKEN_ENDPOINT must be an absolute http(s) URL without credentials or fragment`
      )
      assert.strictEqual(
        yield* messageOf({ API_RESOURCE: "https://a.example.com https://b.example.com/#x" }),
        `Client "api" is misconfigured: API_RESOURCE must be an absolute URI without a fragment (RFC 8707)`
      )
      assert.strictEqual(
        yield* messageOf({ API_TOKEN_ENDPOINT: "http://auth.example.com/token" }),
        `Client "api" is misconfigured: API_TOKEN_ENDPOINT is plain http to auth.example.com, which would send the ` +
          `client's credentials in clear: use https, or set API_ALLOW_INSECURE_TRANSPORT=true`
      )
    }))

  it.effect("the token endpoint and the issuer: one of the two, in the variables' names", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* messageOf({ API_TOKEN_ENDPOINT: undefined }),
        `Client "api" is misconfigured: API_TOKEN_ENDPOINT is required, or set API_ISSUER to find the token endpoint ` +
          `in the issuer's metadata`
      )
      assert.strictEqual(
        yield* messageOf({ API_ISSUER: "https://auth.example.com" }),
        `Client "api" is misconfigured: API_ISSUER and API_TOKEN_ENDPOINT are both set: set one, the issuer's ` +
          `metadata names the token endpoint`
      )
    }))

  it.effect("an assertion addressed to an issuer the client does not know says which variables to set", () =>
    Effect.map(
      messageOf({ API_CLIENT_SECRET: undefined, API_PRIVATE_KEY: pem }),
      (message) =>
        assert.strictEqual(
          message,
          `Client "api" is misconfigured: API_ASSERTION_AUDIENCE is issuer (its default), which this client does ` +
            `not know: set API_ISSUER to configure the client by its issuer (its metadata gives the token ` +
            `endpoint), or API_ASSERTION_AUDIENCE=token_endpoint for a server that expects its token endpoint, or to ` +
            `the audience itself (the issuer's identifier, say)`
        )
    ))

  it.effect("without a prefix, the variables are named without one", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.flatMap(ClientCredentialsClient.config(), (input) => ClientCredentialsClient.make(input, "api")).pipe(
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["TOKEN_ENDPOINT", "https://auth.example.com/token"]]), { pathDelim: "_" })
          )
        )
      )
      assert.strictEqual(error.message, `Client "api" is misconfigured: CLIENT_ID is required`)
    }))

  it.effect("through TokenService.layerConfig, an unreadable value names its variable, not a dotted path", () =>
    Effect.gen(function*() {
      const Tokens = TokenService.layerConfig({ clients: { api: ClientCredentialsClient.config("API") } }).pipe(
        Layer.provide([TokenEndpointClient.layerTest(() => Effect.die("not called")), TokenCache.layerMemory()])
      )
      const environment = new Map(Object.entries({ ...base, API_CREDENTIAL_STYLE: "query" }))
      const error = yield* Effect.flip(
        Layer.build(Tokens).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(environment, { pathDelim: "_" })))
      )
      assert.strictEqual(
        String(error),
        `(Invalid data at API_CREDENTIAL_STYLE: "Expected one of (header, body) but received "query"")`
      )
    }).pipe(Effect.scoped))
})

describe("a client without credentials is declared public", () => {
  it.effect("a missing secret is a configuration error naming the variable, or the field", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* messageOf({ API_CLIENT_SECRET: undefined }),
        `Client "api" is misconfigured: API_CLIENT_SECRET is required: set it, or set API_AUTHENTICATION=none for a ` +
          `public client`
      )
      assert.strictEqual(
        yield* inCode({ tokenEndpoint: "https://auth.example.com/token", clientId: "worker" }),
        `Client "api" is misconfigured: clientSecret is required: set it, or set authentication: "none" for a ` +
          `public client`
      )
    }))

  it.effect(`authentication: "none" and API_AUTHENTICATION=none make a public client`, () =>
    Effect.gen(function*() {
      const fromCode = yield* ClientCredentialsClient.make({
        tokenEndpoint: "https://auth.example.com/token",
        clientId: "worker",
        authentication: "none"
      }, "api")
      assert.isUndefined(fromCode.clientSecret)
      assert.isUndefined(fromCode.authentication)
      const fromEnv = yield* fromEnvironment({ API_CLIENT_SECRET: undefined, API_AUTHENTICATION: "none" })
      assert.isUndefined(fromEnv.clientSecret)
      assert.strictEqual(fromEnv.clientId, "worker")
    }))

  it.effect("a public client with a secret is refused: one of the two is a mistake", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* messageOf({ API_AUTHENTICATION: "none" }),
        `Client "api" is misconfigured: API_CLIENT_SECRET is set, but API_AUTHENTICATION=none declares a public ` +
          `client: remove one`
      )
      assert.strictEqual(
        yield* inCode({
          tokenEndpoint: "https://auth.example.com/token",
          clientId: "worker",
          clientSecret: secret,
          authentication: "none"
        }),
        `Client "api" is misconfigured: clientSecret is set, but authentication: "none" declares a public client: ` +
          `remove one`
      )
    }))
})

/** What `TokenService.layerConfig` fails with for `config("API")` read from `variables`, as it prints. */
const configErrorOf = (variables: Record<string, string | undefined>) =>
  Effect.gen(function*() {
    const Tokens = TokenService.layerConfig({ clients: { api: ClientCredentialsClient.config("API") } }).pipe(
      Layer.provide([TokenEndpointClient.layerTest(() => Effect.die("not called")), TokenCache.layerMemory()])
    )
    const entries = Object.entries({ ...base, ...variables }).filter((entry): entry is [string, string] =>
      entry[1] !== undefined
    )
    const error = yield* Effect.flip(
      Layer.build(Tokens).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries), { pathDelim: "_" })))
    )
    assert.notInclude(String(error), "PRIVATE KEY")
    return String(error)
  }).pipe(Effect.scoped)

describe("config(prefix): the settings of client authentication name their variables", () => {
  it.effect("API_CERTIFICATE_X5T without a certificate names API_CERTIFICATE", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* messageOf({ API_CLIENT_SECRET: undefined, API_PRIVATE_KEY: pem, API_CERTIFICATE_X5T: "true" }),
        `Client "api" is misconfigured: API_CERTIFICATE_X5T needs API_CERTIFICATE: x5t is the certificate's SHA-1 ` +
          `thumbprint`
      )
      assert.strictEqual(
        yield* inCode({
          tokenEndpoint: "https://auth.example.com/token",
          clientId: "worker",
          authentication: { method: "private_key_jwt", privateKey: Redacted.make(pem), x5t: true }
        }),
        `Client "api" is misconfigured: authentication.x5t needs certificate: x5t is the certificate's SHA-1 thumbprint`
      )
    }))

  it.effect("an empty API_ASSERTION_AUDIENCE is said to be empty, with the keywords of the environment", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* messageOf({ API_CLIENT_SECRET: undefined, API_PRIVATE_KEY: pem, API_ASSERTION_AUDIENCE: "" }),
        `Client "api" is misconfigured: API_ASSERTION_AUDIENCE is empty: set it to issuer, token_endpoint or the ` +
          `audience itself`
      )
      assert.strictEqual(
        yield* messageOf({
          API_GRANT_TYPE: "urn:ietf:params:oauth:grant-type:jwt-bearer",
          API_PRIVATE_KEY: pem,
          API_ASSERTION_AUDIENCE: ""
        }),
        `Client "api" is misconfigured: API_ASSERTION_AUDIENCE is empty: set it to issuer, token_endpoint or the ` +
          `audience itself`
      )
      assert.strictEqual(
        yield* inCode({
          tokenEndpoint: "https://auth.example.com/token",
          clientId: "worker",
          authentication: { method: "private_key_jwt", privateKey: Redacted.make(pem), audience: "" }
        }),
        `Client "api" is misconfigured: authentication.audience must not be empty: give issuer, tokenEndpoint or the ` +
          `audience itself`
      )
    }))

  it.effect("API_AUTHENTICATION=none beside a client credential names every variable it contradicts", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* configErrorOf({
          API_CLIENT_SECRET: undefined,
          API_AUTHENTICATION: "none",
          API_TOKEN_ENDPOINT_AUTH_METHOD: "private_key_jwt",
          API_PRIVATE_KEY: pem
        }),
        `(Invalid data at API_AUTHENTICATION: "none declares a public client, which API_TOKEN_ENDPOINT_AUTH_METHOD ` +
          `and API_PRIVATE_KEY contradict: remove API_AUTHENTICATION, or them")`
      )
      // Ignored before: the certificate of a public client that the server would never see.
      assert.strictEqual(
        yield* configErrorOf({ API_CLIENT_SECRET: undefined, API_AUTHENTICATION: "none", API_CERTIFICATE: "PEM" }),
        `(Invalid data at API_AUTHENTICATION: "none declares a public client, which API_CERTIFICATE contradicts: ` +
          `remove one of the two")`
      )
      assert.strictEqual(
        yield* configErrorOf({ API_AUTHENTICATION: "none", API_CREDENTIAL_STYLE: "body" }),
        `(Invalid data at API_AUTHENTICATION: "none declares a public client, which API_CLIENT_SECRET and ` +
          `API_CREDENTIAL_STYLE contradict: remove API_AUTHENTICATION, or them")`
      )
    }))

  it.effect("API_AUTHENTICATION=none with the JWT bearer grant: the key variables are the grant's", () =>
    Effect.gen(function*() {
      const client = yield* fromEnvironment({
        API_CLIENT_SECRET: undefined,
        API_AUTHENTICATION: "none",
        API_GRANT_TYPE: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        API_PRIVATE_KEY: pem,
        API_ASSERTION_AUDIENCE: "token_endpoint"
      })
      assert.isUndefined(client.authentication)
      assert.isDefined(client.grant)
    }))

  it.effect("the JWT bearer grant's settings name the variables under the prefix", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* configErrorOf({ API_GRANT_TYPE: "urn:ietf:params:oauth:grant-type:jwt-bearer" }),
        `(Missing data at API_PRIVATE_KEY: "API_GRANT_TYPE is the JWT bearer grant, which needs API_PRIVATE_KEY: ` +
          `the key that signs its assertions")`
      )
      assert.strictEqual(
        yield* configErrorOf({
          API_GRANT_TYPE: "urn:ietf:params:oauth:grant-type:jwt-bearer",
          API_TOKEN_ENDPOINT_AUTH_METHOD: "client_secret_post",
          API_PRIVATE_KEY: pem
        }),
        `(Invalid data at API_TOKEN_ENDPOINT_AUTH_METHOD: "with the JWT bearer grant, API_PRIVATE_KEY signs the ` +
          `grant's assertions: authenticate the client with API_CLIENT_SECRET and API_CREDENTIAL_STYLE")`
      )
      assert.strictEqual(
        yield* configErrorOf({ API_SERVICE_ACCOUNT_KEY: "{}", API_PRIVATE_KEY: pem }),
        `(Invalid data at API_PRIVATE_KEY: "API_SERVICE_ACCOUNT_KEY holds the private key: remove API_PRIVATE_KEY")`
      )
    }))
})
