/**
 * The effective token request: a client's defaults and one request's parameters resolved once, the
 * key its token is cached under, and the form sent for it.
 */
import { ClientCredentialsClient } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { resolve } from "../src/internal/tokenRequest.js"

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
})
