/**
 * The public module's errors and metrics as a user reads them: messages, schema identifiers,
 * metric names and descriptions.
 */
import { AccessTokenHttpClient } from "@access-token/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, JSONSchema, Metric, Option } from "effect"

describe("OriginNotAllowedError", () => {
  it("names the client when there is one, and every origin the token is bound to", () => {
    const error = new AccessTokenHttpClient.OriginNotAllowedError({
      client: "billing",
      origin: "https://evil.example.com",
      allowed: ["https://api.example.com", "https://files.example.com"]
    })
    assert.strictEqual(
      error.message,
      `Refused to send the access token of client "billing" to https://evil.example.com: it is bound to ` +
        `https://api.example.com, https://files.example.com`
    )
  })

  it("says so when the token is bound to no origin, and names no client when there is none", () => {
    const error = new AccessTokenHttpClient.OriginNotAllowedError({ origin: "https://api.example.com", allowed: [] })
    assert.strictEqual(
      error.message,
      "Refused to send the access token to https://api.example.com: it is bound to no origin"
    )
  })
})

describe("InsecureTransportError", () => {
  it("names no client when there is none", () => {
    const error = new AccessTokenHttpClient.InsecureTransportError({ host: "api.example.com" })
    assert.strictEqual(
      error.message,
      "Refused to send the access token over plain http to api.example.com, where anyone on the network can read " +
        "and reuse it: use https, or set allowInsecureTransport"
    )
  })
})

describe("the errors' schemas", () => {
  it("are named after the package, as JSON Schema shows them", () => {
    assert.deepStrictEqual(Object.keys(JSONSchema.make(AccessTokenHttpClient.OriginNotAllowedError).$defs ?? {}), [
      "@access-token/platform/OriginNotAllowedError"
    ])
    assert.deepStrictEqual(Object.keys(JSONSchema.make(AccessTokenHttpClient.InsecureTransportError).$defs ?? {}), [
      "@access-token/platform/InsecureTransportError"
    ])
  })
})

describe("the metrics", () => {
  const keyOf = (name: string) =>
    Effect.map(Metric.snapshot, (pairs) => pairs.find((pair) => pair.metricKey.name === name)?.metricKey)

  it.effect("are counters named and described for an exporter, which never go down", () =>
    Effect.gen(function*() {
      for (
        const [metric, name, description] of [
          [
            AccessTokenHttpClient.unauthorizedRetries,
            "access_token_unauthorized_retries",
            "Requests sent again with a renewed token after a 401"
          ],
          [
            AccessTokenHttpClient.dpopNonceRetries,
            "access_token_dpop_nonce_retries",
            "Requests sent again with a new DPoP proof carrying the nonce a resource server asked for"
          ]
        ] as const
      ) {
        const tagged = Metric.tagged(metric, "client", "errors-test")
        yield* Metric.increment(tagged)
        yield* Metric.incrementBy(tagged, -5)
        assert.strictEqual((yield* Metric.value(tagged)).count, 1, name)
        const key = yield* keyOf(name)
        assert.isDefined(key, name)
        assert.deepStrictEqual(key!.description, Option.some(description))
      }
    }))
})
