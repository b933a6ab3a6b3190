// @ts-nocheck
import { DPoPNonce } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { NonceStore } from "../src/internal/dpopNonce.js"

describe("DPoPNonce", () => {
  describe("nonces", () => {
    it.effect("are kept per origin and replaced by each response's DPoP-Nonce", () =>
      Effect.gen(function*() {
        const nonces = yield* DPoPNonce.make()
        assert.isUndefined(yield* nonces.get("https://as.example.com/token"))
        assert.isTrue(yield* nonces.update("https://as.example.com/token?x=1", "n1"))
        assert.isFalse(yield* nonces.update("https://as.example.com/other", "n1"))
        assert.strictEqual(yield* nonces.get("https://AS.example.com/anything"), "n1")
        assert.isUndefined(yield* nonces.get("https://api.example.com/token"))
        assert.isTrue(yield* nonces.update("https://as.example.com/token", "n2"))
        assert.strictEqual(yield* nonces.get("https://as.example.com/token"), "n2")
        assert.isFalse(yield* nonces.update("https://as.example.com/token", undefined))
        assert.strictEqual(yield* nonces.get("https://as.example.com/token"), "n2")
      }))

    it("ignore what is not a nonce, and keep the most recently used origins", () => {
      const store = new NonceStore(2)
      for (const bad of ["", " ", "has space", "quote\"d", "x".repeat(2000), "back\\slash"]) {
        assert.isFalse(store.update("https://a.example/", bad), JSON.stringify(bad))
      }
      assert.isFalse(store.update("not a url", "n"))
      assert.strictEqual(store.size, 0)
      store.update("https://a.example/", "a")
      store.update("https://b.example/", "b")
      store.update("https://a.example/", "a2")
      store.update("https://c.example/", "c")
      assert.strictEqual(store.get("https://a.example/"), "a2")
      assert.isUndefined(store.get("https://b.example/"))
      assert.strictEqual(store.get("https://c.example/"), "c")
    })

    it("are asked for by a 401 with use_dpop_nonce, under DPoP or Bearer", () => {
      const challenge = (status: number, header?: string) =>
        DPoPNonce.isChallenge({ status, headers: header === undefined ? {} : { "www-authenticate": header } })
      assert.isTrue(
        challenge(401, "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce\"")
      )
      assert.isTrue(challenge(401, "DPoP algs=\"ES256\", error=\"use_dpop_nonce\""))
      assert.isTrue(challenge(401, "Bearer error=\"use_dpop_nonce\""))
      assert.isFalse(challenge(401, "DPoP error=\"invalid_token\", error_description=\"use_dpop_nonce\""))
      assert.isFalse(challenge(401, "DPoP error=\"invalid_dpop_proof\""))
      assert.isFalse(challenge(401))
      assert.isFalse(challenge(400, "DPoP error=\"use_dpop_nonce\""))
    })
  })
})
