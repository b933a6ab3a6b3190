// @ts-nocheck
import { AccessToken, TokenError, TokenService } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Redacted, TestClock } from "effect"

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

describe("TokenService.layerTest readiness", () => {
  const readyToken = {
    scope: undefined,
    resource: [],
    usable: true,
    usableUntil: undefined,
    refreshFrom: undefined,
    renewing: false,
    lastFailure: undefined,
    consecutiveFailures: 0,
    ready: true,
    reason: undefined
  }

  it.effect("reports each fixed client ready with one token, its own, and when one was last handed out", () =>
    Effect.gen(function*() {
      const before = yield* TokenService.readiness
      assert.deepStrictEqual(before, {
        ready: true,
        clients: [
          { client: "api", ready: true, reason: undefined, tokens: [{ ...readyToken, lastSuccess: undefined }] },
          { client: "billing", ready: true, reason: undefined, tokens: [{ ...readyToken, lastSuccess: undefined }] }
        ],
        resolved: undefined
      })
      yield* TestClock.adjust("1 minute")
      yield* TokenService.getToken("billing")
      const after = yield* TokenService.readiness
      assert.deepStrictEqual(after.clients[1]!.tokens, [{ ...readyToken, lastSuccess: DateTime.unsafeMake(60_000) }])
      assert.deepStrictEqual(after.clients[0]!.tokens, [{ ...readyToken, lastSuccess: undefined }])
    }).pipe(Effect.provide(TokenService.layerTest({ api: "token-a", billing: "token-b" }))))

  it.effect("with a function, reports the clients asked for so far, each layer afresh", () => {
    const Tokens = TokenService.layerTest((client) => `${client}-token`)
    return Effect.gen(function*() {
      const first = yield* Effect.gen(function*() {
        assert.deepStrictEqual(yield* TokenService.readiness, { ready: true, clients: [], resolved: undefined })
        yield* TokenService.getToken("tenant-b")
        yield* TokenService.getToken("tenant-a")
        yield* TokenService.getToken("tenant-b", { scope: "admin" })
        return yield* TokenService.readiness
      }).pipe(Effect.provide(Tokens))
      assert.deepStrictEqual(first.clients.map(({ client, ready, tokens }) => [client, ready, tokens.length]), [
        ["tenant-b", true, 1],
        ["tenant-a", true, 1]
      ])
      const second = yield* Effect.provide(TokenService.readiness, Tokens)
      assert.deepStrictEqual(second.clients, [])
    })
  })
})
