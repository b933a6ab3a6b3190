import { AccessToken, TokenError, TokenService } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Redacted } from "effect"

describe("TokenService.layerTest", () => {
  it.effect("hands out the fixed token of each client, as a Bearer token", () =>
    Effect.gen(function*() {
      const tokens = yield* TokenService.TokenService
      assert.deepStrictEqual(tokens.clients, ["api", "billing"])
      assert.strictEqual((yield* tokens.getToken("api")).authorization, "Bearer token-a")
      const billing = yield* tokens.getToken("billing", { scope: "invoices:read" })
      assert.strictEqual(Redacted.value(billing.value), "token-b")
      assert.isTrue(billing.expiresAt !== undefined)
      assert.isTrue((yield* tokens.readiness).ready)
      assert.strictEqual((yield* tokens.client("api")).name, "api")
    }).pipe(Effect.provide(TokenService.layerTest({ api: "token-a", billing: "token-b" }))))

  it.effect("fails for a client it does not know, as the real service does", () =>
    Effect.gen(function*() {
      const unknown = yield* Effect.flip(TokenService.getToken("biling"))
      assert.instanceOf(unknown, TokenError.UnknownClientError)
      assert.strictEqual(unknown.message, `No client named "biling" is registered (known clients: "api", "billing")`)
      const unnamed = yield* Effect.flip(TokenService.getToken())
      assert.instanceOf(unnamed, TokenError.UnknownClientError)
    }).pipe(Effect.provide(TokenService.layerTest({ api: "token-a", billing: "token-b" }))))

  it.effect("with one client, a call without a name gets its token", () =>
    Effect.map(TokenService.getToken(), (token) => assert.strictEqual(token.authorization, "Bearer only")).pipe(
      Effect.provide(TokenService.layerTest({ api: "only" }))
    ))

  it.effect("computes tokens from the client name and the request's parameters, afresh on every call", () => {
    let calls = 0
    const Tokens = TokenService.layerTest((client, { scope }) => `${client}-${scope ?? "default"}-${++calls}`)
    return Effect.gen(function*() {
      assert.strictEqual((yield* TokenService.getToken("api")).authorization, "Bearer api-default-1")
      const admin = yield* TokenService.getToken("api", { scope: "admin", forceRenewal: true })
      assert.strictEqual(admin.authorization, "Bearer api-admin-2")
    }).pipe(Effect.provide(Tokens))
  })

  it.effect("hands out an AccessToken as given, and fails with the TokenError a function returns", () => {
    const dpop = Effect.map(
      DateTime.now,
      (receivedAt) => AccessToken.make({ value: "bound", type: "DPoP", receivedAt, expiresIn: "5 minutes" })
    )
    const Tokens = TokenService.layerTest((client) =>
      client === "refused"
        ? Effect.fail(new TokenError.TokenRefusedError({ client, status: 401, error: "invalid_client" }))
        : dpop
    )
    return Effect.gen(function*() {
      assert.strictEqual((yield* TokenService.getToken("api")).authorization, "DPoP bound")
      const refused = yield* Effect.flip(TokenService.getToken("refused"))
      assert.instanceOf(refused, TokenError.TokenRefusedError)
    }).pipe(Effect.provide(Tokens))
  })
})
