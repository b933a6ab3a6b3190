import type { TokenError } from "@access-token/core"
import { ClientCredentialsClient } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Redacted } from "effect"
import { checkTransport, isLoopback } from "../src/internal/transport.js"
import { reservedByTheRfcs } from "./utils/reservedParameters.js"

const SECRET = "p@ss:w+rd%/ x~ Sentinel-Secret"

const input = (overrides: Partial<ClientCredentialsClient.Input> = {}): ClientCredentialsClient.Input => ({
  tokenEndpoint: "https://auth.example.com/connect/token",
  clientId: "worker",
  clientSecret: Redacted.make(SECRET),
  ...overrides
})

/** Fails the test unless `make` refuses the definition; returns the error. */
const refused = (definition: ClientCredentialsClient.Input, name?: string) =>
  Effect.flip(ClientCredentialsClient.make(definition, name))

const assertNoSecret = (error: TokenError.ClientConfigurationError) => {
  for (const rendering of [error.message, String(error), JSON.stringify(error), error.reason]) {
    assert.notInclude(rendering, SECRET)
    assert.notInclude(rendering, "Sentinel-Secret")
  }
}

describe("make", () => {
  it.effect("accepts a minimal definition, with the documented defaults", () =>
    Effect.gen(function*() {
      const client = yield* ClientCredentialsClient.make(input())
      assert.strictEqual(client.name, "worker")
      assert.strictEqual(client.tokenEndpoint, "https://auth.example.com/connect/token")
      assert.strictEqual(client.clientId, "worker")
      assert.strictEqual(Redacted.value(client.clientSecret!), SECRET)
      assert.strictEqual(client.credentialStyle, "header")
      assert.isFalse(client.allowInsecureTransport)
      assert.isUndefined(client.scope)
      assert.isUndefined(client.resource)
      assert.isUndefined(client.parameters)
    }))

  it.effect("takes the name it is registered under, then input.name, then the client id", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* ClientCredentialsClient.make(input(), "billing")).name, "billing")
      assert.strictEqual((yield* ClientCredentialsClient.make(input({ name: "search" }))).name, "search")
      assert.strictEqual((yield* ClientCredentialsClient.make(input({ name: "search" }), "search")).name, "search")
      const error = yield* refused(input({ name: "search" }), "billing")
      assert.strictEqual(error.field, "name")
      assert.strictEqual(error.client, "billing")
    }))

  it.effect("accepts every field", () =>
    Effect.gen(function*() {
      const client = yield* ClientCredentialsClient.make(
        input({
          tokenEndpoint: new URL("https://auth.example.com/t"),
          credentialStyle: "body",
          scope: "api.read api.write",
          resource: "https://api.example.com",
          parameters: { audience: "api" },
          expirationBuffer: "30 seconds",
          defaultLifetime: Duration.minutes(5)
        }),
        "billing"
      )
      assert.strictEqual(client.tokenEndpoint, "https://auth.example.com/t")
      assert.strictEqual(client.credentialStyle, "body")
      assert.strictEqual(client.scope, "api.read api.write")
      assert.deepStrictEqual(client.resource, ["https://api.example.com"])
      assert.deepStrictEqual(client.parameters, { audience: "api" })
      assert.isTrue(Duration.equals(client.expirationBuffer!, Duration.seconds(30)))
      assert.isTrue(Duration.equals(client.defaultLifetime!, Duration.minutes(5)))
    }))

  it.effect("accepts a public client declared with authentication: \"none\", without a secret", () =>
    Effect.gen(function*() {
      const client = yield* ClientCredentialsClient.make(input({ clientSecret: undefined, authentication: "none" }))
      assert.isUndefined(client.clientSecret)
    }))

  const invalid: ReadonlyArray<readonly [string, Partial<ClientCredentialsClient.Input>, string]> = [
    ["a token endpoint that is not a URL", { tokenEndpoint: "auth.example.com/token" }, "tokenEndpoint"],
    ["a relative token endpoint", { tokenEndpoint: "/connect/token" }, "tokenEndpoint"],
    ["an ftp token endpoint", { tokenEndpoint: "ftp://auth.example.com/token" }, "tokenEndpoint"],
    ["a token endpoint with a fragment", { tokenEndpoint: "https://auth.example.com/token#x" }, "tokenEndpoint"],
    ["a token endpoint with credentials", { tokenEndpoint: "https://u:p@auth.example.com/token" }, "tokenEndpoint"],
    ["an empty client id", { clientId: "" }, "clientId"],
    ["a scope with a double space", { scope: "api  read" }, "scope"],
    ["a scope with a leading space", { scope: " api" }, "scope"],
    ["an empty scope", { scope: "" }, "scope"],
    ["a scope with a quote", { scope: "api\"x" }, "scope"],
    ["a scope with a backslash", { scope: "api\\x" }, "scope"],
    ["a scope with a newline", { scope: "api\nread" }, "scope"],
    ["a resource with a fragment", { resource: "https://api.example.com/#section" }, "resource.0"],
    ["a second resource with a fragment", { resource: ["urn:api", "https://api.example.com/#s"] }, "resource.1"],
    ["a relative resource", { resource: "/api" }, "resource.0"],
    ["an unknown credential style", { credentialStyle: "query" as never }, "credentialStyle"],
    ["an unreadable expiration buffer", { expirationBuffer: "-5 parsecs" as never }, "expirationBuffer"],
    ["an unreadable default lifetime", { defaultLifetime: "soon" as never }, "defaultLifetime"],
    ["a plain-string secret", { clientSecret: SECRET as never }, "clientSecret"]
  ]
  for (const [name, overrides, field] of invalid) {
    it.effect(`rejects ${name}, naming the client and the field`, () =>
      Effect.gen(function*() {
        const error = yield* refused(input(overrides), "billing")
        assert.strictEqual(error._tag, "ClientConfigurationError")
        assert.strictEqual(error.client, "billing")
        assert.strictEqual(error.field, field)
        assert.include(error.message, `"billing"`)
        assert.include(error.message, field)
        assertNoSecret(error)
      }))
  }

  it.effect("says a plain-string secret must be Redacted, without repeating it", () =>
    Effect.gen(function*() {
      const error = yield* refused(input({ clientSecret: SECRET as never }), "billing")
      assert.include(error.reason, "Redacted")
      assertNoSecret(error)
    }))

  it.effect("says which field is missing", () =>
    Effect.gen(function*() {
      const error = yield* refused({ tokenEndpoint: "https://auth.example.com/token" } as never, "billing")
      assert.strictEqual(error.field, "clientId")
      assert.strictEqual(error.reason, "is required")
    }))

  for (const name of reservedByTheRfcs) {
    it.effect(`rejects an extra parameter named ${name}`, () =>
      Effect.gen(function*() {
        const error = yield* refused(input({ parameters: { audience: "api", [name]: "x" } }), "billing")
        assert.strictEqual(error.field, "parameters")
        assert.strictEqual(error.reason, `may not set ${name}: use the client's own fields`)
        assertNoSecret(error)
      }))
  }

  it.effect("names every reserved parameter that an extra parameter sets", () =>
    Effect.gen(function*() {
      const error = yield* refused(input({ parameters: { scope: "a", audience: "api", grant_type: "b" } }), "billing")
      assert.strictEqual(error.field, "parameters")
      assert.strictEqual(error.reason, "may not set scope, grant_type: use the client's own fields")
    }))

  it.effect("refuses an extra parameter named __proto__, which decoding would drop from the form unseen", () =>
    Effect.gen(function*() {
      // `JSON.parse` (a definition read from a file) makes `__proto__` an own key; a literal cannot.
      const parameters = JSON.parse(`{"audience":"api","__proto__":"x"}`) as Record<string, string>
      const error = yield* refused(input({ parameters }), "billing")
      assert.strictEqual(error.field, "parameters.__proto__")
      assert.strictEqual(
        error.message,
        `Client "billing" is misconfigured: parameters.__proto__ is a name that a JavaScript object does not keep ` +
          "through a copy (it becomes the prototype): rename it"
      )
      // Refused the same way by a definition that goes through the key loading first.
      const dpop = yield* refused(input({ parameters, dpop: true }), "billing")
      assert.strictEqual(dpop.field, "parameters.__proto__")
    }))

  it.effect("keeps every other extra parameter as given", () =>
    Effect.gen(function*() {
      const parameters = JSON.parse(`{"audience":"api","proto":"x","constructor":"y","toString":"z"}`)
      const client = yield* ClientCredentialsClient.make(input({ parameters }), "billing")
      assert.deepStrictEqual(client.parameters, { audience: "api", proto: "x", constructor: "y", toString: "z" })
    }))
})

describe("transport security", () => {
  it.effect("refuses plain http to a host off loopback", () =>
    Effect.gen(function*() {
      const error = yield* refused(input({ tokenEndpoint: "http://auth.example.com/token" }), "billing")
      assert.strictEqual(error.field, "tokenEndpoint")
      assert.include(error.message, "auth.example.com")
      assert.include(error.message, "https")
      assertNoSecret(error)
    }))

  it.effect("accepts plain http off loopback with allowInsecureTransport", () =>
    Effect.gen(function*() {
      const client = yield* ClientCredentialsClient.make(
        input({ tokenEndpoint: "http://auth.example.com/token", allowInsecureTransport: true })
      )
      assert.isTrue(client.allowInsecureTransport)
    }))

  for (
    const url of [
      "https://auth.example.com/token",
      "https://auth.example.com:8443/token",
      "http://127.0.0.1/token",
      "http://127.0.0.1:8080/token",
      "http://127.10.20.30/token",
      "http://localhost/token",
      "http://LOCALHOST:3000/token",
      "http://[::1]/token",
      "http://[::1]:4000/token"
    ]
  ) {
    it.effect(`accepts ${url}`, () => Effect.asVoid(ClientCredentialsClient.make(input({ tokenEndpoint: url }))))
  }

  for (
    const url of [
      "http://auth.example.com/token",
      "http://127.0.0.1.nip.io/token",
      "http://localhost.example.com/token",
      "http://128.0.0.1/token",
      "http://10.0.0.1/token",
      "http://[::2]/token"
    ]
  ) {
    it.effect(`refuses ${url}`, () =>
      Effect.gen(function*() {
        const error = yield* refused(input({ tokenEndpoint: url }))
        assert.strictEqual(error.field, "tokenEndpoint")
      }))
  }

  it("isLoopback", () => {
    assert.isTrue(isLoopback(new URL("http://127.0.0.1")))
    assert.isTrue(isLoopback(new URL("http://localhost:1")))
    assert.isTrue(isLoopback(new URL("http://[::1]")))
    assert.isFalse(isLoopback(new URL("http://127.0.0.1.example.com")))
    assert.isFalse(isLoopback(new URL("http://example.com")))
  })

  it("checkTransport", () => {
    const client = (tokenEndpoint: string, allowInsecureTransport = false) =>
      ClientCredentialsClient.ClientCredentialsClient.make({
        name: "billing",
        tokenEndpoint,
        clientId: "worker",
        credentialStyle: "header",
        allowInsecureTransport
      })
    assert.isTrue(Either.isRight(checkTransport(client("https://a.example/t"))))
    assert.isTrue(Either.isLeft(checkTransport(client("http://a.example/t"))))
    assert.isTrue(Either.isRight(checkTransport(client("http://a.example/t", true))))
  })
})

describe("config", () => {
  /** Environment variables as `ConfigProvider.fromEnv` reads them: path segments joined by `_`. */
  const env = (entries: ReadonlyArray<readonly [string, string]>) =>
    ConfigProvider.fromMap(new Map(entries), { pathDelim: "_" })

  it.effect("reads a client under a prefix, with the secret redacted", () =>
    Effect.gen(function*() {
      const read = yield* ClientCredentialsClient.config("IDENTITYSERVER").pipe(
        Effect.withConfigProvider(env([
          ["IDENTITYSERVER_TOKEN_ENDPOINT", "https://demo.duendesoftware.com/connect/token"],
          ["IDENTITYSERVER_CLIENT_ID", "m2m"],
          ["IDENTITYSERVER_CLIENT_SECRET", SECRET],
          ["IDENTITYSERVER_SCOPE", "api"],
          ["IDENTITYSERVER_RESOURCE", "urn:a https://b.example,https://c.example"],
          ["IDENTITYSERVER_CREDENTIAL_STYLE", "body"],
          ["IDENTITYSERVER_ALLOW_INSECURE_TRANSPORT", "false"],
          ["IDENTITYSERVER_EXPIRATION_BUFFER", "30 seconds"],
          ["IDENTITYSERVER_DEFAULT_LIFETIME", "5 minutes"],
          ["OTHER_CLIENT_ID", "not-this-one"]
        ]))
      )
      assert.strictEqual(read.tokenEndpoint, "https://demo.duendesoftware.com/connect/token")
      assert.strictEqual(read.clientId, "m2m")
      assert.isTrue(Redacted.isRedacted(read.clientSecret))
      assert.strictEqual(Redacted.value(read.clientSecret!), SECRET)
      assert.notInclude(String(read.clientSecret), SECRET)
      assert.notInclude(JSON.stringify(read), SECRET)
      assert.strictEqual(read.scope, "api")
      assert.deepStrictEqual(read.resource, ["urn:a", "https://b.example", "https://c.example"])
      assert.strictEqual(read.credentialStyle, "body")
      assert.strictEqual(read.allowInsecureTransport, false)

      const client = yield* ClientCredentialsClient.make(read, "IDENTITYSERVER")
      assert.strictEqual(client.name, "IDENTITYSERVER")
      assert.isTrue(Duration.equals(client.expirationBuffer!, Duration.seconds(30)))
      assert.isTrue(Duration.equals(client.defaultLifetime!, Duration.minutes(5)))
      assert.deepStrictEqual(client.resource, ["urn:a", "https://b.example", "https://c.example"])
    }))

  it.effect("leaves the optional fields undefined and reads without a prefix", () =>
    Effect.gen(function*() {
      const read = yield* ClientCredentialsClient.config().pipe(
        Effect.withConfigProvider(
          env([["TOKEN_ENDPOINT", "https://a.example/t"], ["CLIENT_ID", "m2m"], ["CLIENT_SECRET", SECRET]])
        )
      )
      assert.deepStrictEqual({ ...read, clientSecret: undefined }, {
        tokenEndpoint: "https://a.example/t",
        issuer: undefined,
        clientId: "m2m",
        clientSecret: undefined,
        credentialStyle: undefined,
        scope: undefined,
        resource: undefined,
        allowInsecureTransport: undefined,
        expirationBuffer: undefined,
        defaultLifetime: undefined,
        dpop: undefined
      })
      const client = yield* ClientCredentialsClient.make(read)
      assert.strictEqual(client.credentialStyle, "header")
    }))

  it.effect("fails naming the missing variable when the client is made", () =>
    Effect.gen(function*() {
      const error = yield* ClientCredentialsClient.config("IDENTITYSERVER").pipe(
        Effect.withConfigProvider(env([["IDENTITYSERVER_TOKEN_ENDPOINT", "https://a.example/t"]])),
        Effect.flatMap((input) => ClientCredentialsClient.make(input, "identityserver")),
        Effect.flip
      )
      assert.strictEqual(
        error.message,
        `Client "identityserver" is misconfigured: IDENTITYSERVER_CLIENT_ID is required`
      )
    }))

  it.effect("fails on an unknown credential style without showing the secret", () =>
    Effect.gen(function*() {
      const error = yield* ClientCredentialsClient.config("IDENTITYSERVER").pipe(
        Effect.withConfigProvider(env([
          ["IDENTITYSERVER_TOKEN_ENDPOINT", "https://a.example/t"],
          ["IDENTITYSERVER_CLIENT_ID", "m2m"],
          ["IDENTITYSERVER_CLIENT_SECRET", SECRET],
          ["IDENTITYSERVER_CREDENTIAL_STYLE", "query"]
        ])),
        Effect.flip
      )
      assert.include(String(error), "CREDENTIAL_STYLE")
      assert.notInclude(String(error), SECRET)
    }))
})
