/**
 * The effective token request: a client's defaults and one request's parameters resolved once, the
 * key its token is cached under, and the form sent for it.
 */
import { ClientCredentialsClient, type TokenEndpointClient } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { createHash } from "node:crypto"
import { cacheKey, formPairs, resolve, TokenRequest } from "../src/internal/tokenRequest.js"

const ENDPOINT = "https://auth.example.com/connect/token"

const client = (overrides: Partial<ClientCredentialsClient.Input> = {}) =>
  ClientCredentialsClient.make({
    tokenEndpoint: ENDPOINT,
    clientId: "worker",
    clientSecret: Redacted.make("s3cr3t-Sentinel"),
    ...overrides
  }, "billing")

describe("resolve", () => {
  it.effect("refuses a per-request extra parameter named __proto__, which a copy would drop unseen", () =>
    Effect.gen(function*() {
      // `JSON.parse` (parameters read from a request or a file) makes `__proto__` an own key.
      const parameters = JSON.parse(`{"audience":"api","__proto__":"x"}`) as Record<string, string>
      const resolved = resolve(yield* client({ parameters: { tenant: "t" } }), { parameters })
      assert.isTrue(Either.isLeft(resolved))
      if (Either.isRight(resolved)) return
      assert.strictEqual(resolved.left.field, "parameters.__proto__")
      assert.strictEqual(
        resolved.left.message,
        `Client "billing" is misconfigured: parameters.__proto__ is a name that a JavaScript object does not keep ` +
          "through a copy (it becomes the prototype): rename it"
      )
    }))

  it.effect("says what is wrong with a per-request scope, resource or extra parameter", () =>
    Effect.gen(function*() {
      const c = yield* client()
      const reasonOf = (parameters: TokenEndpointClient.RequestParameters) => {
        const resolved = resolve(c, parameters)
        return Either.isLeft(resolved) ? resolved.left.message : "resolved"
      }
      assert.strictEqual(
        reasonOf({ scope: "a  b" }),
        `Client "billing" is misconfigured: scope must be scope tokens separated by single spaces (RFC 6749 §3.3)`
      )
      assert.strictEqual(
        reasonOf({ resource: "https://api.example.com/#f" }),
        `Client "billing" is misconfigured: resource must be an absolute URI without a fragment (RFC 8707)`
      )
      assert.strictEqual(
        reasonOf({ parameters: { grant_type: "x" } }),
        `Client "billing" is misconfigured: parameters.grant_type may not be set as an extra parameter`
      )
    }))

  it.effect("a per-request resource given as one string is one indicator", () =>
    Effect.gen(function*() {
      const resolved = Either.getOrThrow(
        resolve(yield* client({ resource: ["urn:client"] }), { resource: "https://api.example.com/x" })
      )
      assert.deepStrictEqual(resolved.resource, ["https://api.example.com/x"])
    }))

  it.effect("per-request extra parameters add to the client's, and override them by name", () =>
    Effect.gen(function*() {
      const resolved = Either.getOrThrow(
        resolve(yield* client({ parameters: { audience: "a", tenant: "t" } }), {
          parameters: { tenant: "u", region: "eu" }
        })
      )
      assert.deepStrictEqual(resolved.parameters, { audience: "a", tenant: "u", region: "eu" })
    }))
})

describe("cacheKey", () => {
  const keyOf = (
    c: ClientCredentialsClient.ClientCredentialsClient,
    parameters?: TokenEndpointClient.RequestParameters
  ) => cacheKey(c, Either.getOrThrow(resolve(c, parameters)))

  it.effect("is the client's name and the SHA-256 of the request's local key, in 64 hex digits", () =>
    Effect.gen(function*() {
      const c = yield* client({ scope: "api" })
      const request = Either.getOrThrow(resolve(c))
      const key = yield* cacheKey(c, request)
      assert.strictEqual(key, `billing:${createHash("sha256").update(request.localKey).digest("hex")}`)
      assert.match(key, /^billing:[0-9a-f]{64}$/)
    }))

  it.effect("is the same for the same resources and extra parameters given in another order", () =>
    Effect.gen(function*() {
      const c = yield* client()
      assert.strictEqual(
        yield* keyOf(c, { resource: ["urn:a", "urn:b"], parameters: { x: "1", y: "2" } }),
        yield* keyOf(c, { resource: ["urn:b", "urn:a"], parameters: { y: "2", x: "1" } })
      )
    }))

  it.effect("differs with the scope, the resources, an extra parameter's value, the client id or the issuer", () =>
    Effect.gen(function*() {
      const c = yield* client()
      const keys = [
        yield* keyOf(c),
        yield* keyOf(c, { scope: "api" }),
        yield* keyOf(c, { resource: ["urn:a"] }),
        yield* keyOf(c, { parameters: { x: "1" } }),
        yield* keyOf(c, { parameters: { x: "2" } }),
        yield* keyOf(yield* client({ clientId: "other" })),
        yield* keyOf(yield* client({ tokenEndpoint: "https://auth.example.com/other" }))
      ]
      assert.strictEqual(new Set(keys).size, keys.length)
    }))
})

describe("formPairs", () => {
  const request = new TokenRequest("api.read", ["urn:a", "urn:b"], { audience: "x", tenant: "t" }, "")
  const credentials = { headers: {}, pairs: [["client_id", "worker"]] as const }

  it("sends the grant, the credentials, the scope, each resource and the extra parameters, in that order", () => {
    assert.deepStrictEqual(
      formPairs(request, { pairs: [["grant_type", "client_credentials"]], scopeInForm: true }, credentials),
      [
        ["grant_type", "client_credentials"],
        ["client_id", "worker"],
        ["scope", "api.read"],
        ["resource", "urn:a"],
        ["resource", "urn:b"],
        ["audience", "x"],
        ["tenant", "t"]
      ]
    )
  })

  it("leaves the scope out of the form when the grant carries it (in its assertion)", () => {
    const pairs = formPairs(
      request,
      { pairs: [["grant_type", "jwt-bearer"], ["assertion", "a"]], scopeInForm: false },
      {
        headers: {},
        pairs: []
      }
    )
    assert.deepStrictEqual(pairs.map(([name]) => name), [
      "grant_type",
      "assertion",
      "resource",
      "resource",
      "audience",
      "tenant"
    ])
  })

  it("sends no scope when the request has none", () => {
    const none = new TokenRequest(undefined, [], {}, "")
    assert.deepStrictEqual(
      formPairs(none, { pairs: [["grant_type", "client_credentials"]], scopeInForm: true }, credentials),
      [["grant_type", "client_credentials"], ["client_id", "worker"]]
    )
  })
})
