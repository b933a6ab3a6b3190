import { DPoPNonce } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { NonceStore, originOf } from "../src/internal/dpopNonce.js"

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

    it("are kept by origin: scheme, host and port, lower-cased, of an absolute URL only", () => {
      assert.strictEqual(originOf("https://AS.Example.com:8443/token?x=1#y"), "https://as.example.com:8443")
      assert.strictEqual(originOf("https://as.example.com?x=1"), "https://as.example.com")
      assert.strictEqual(originOf("https://as.example.com#y"), "https://as.example.com")
      assert.strictEqual(originOf("coap+tcp.v2-x://device.local/p"), "coap+tcp.v2-x://device.local")
      assert.strictEqual(originOf("s3://bucket/key"), "s3://bucket")
      for (
        const notAbsolute of [
          "/token",
          "as.example.com/token",
          "1https://a.example/",
          " https://a.example/",
          "https:/a"
        ]
      ) {
        assert.isUndefined(originOf(notAbsolute), notAbsolute)
      }
      const store = new NonceStore(10)
      assert.isTrue(store.update("https://as.example.com/token", "n1"))
      assert.isTrue(store.update("https://as.example.com:8443/token", "n2"))
      assert.isTrue(store.update("http://as.example.com/token", "n3"))
      assert.strictEqual(store.get("https://as.example.com/other"), "n1")
      assert.strictEqual(store.get("https://as.example.com:8443/"), "n2")
      assert.strictEqual(store.get("http://as.example.com"), "n3")
      assert.isUndefined(store.get("/token"))
      assert.strictEqual(store.size, 3)
    })

    it("take the whole nonce of the RFC 9449 syntax, trimmed, up to 1024 characters", () => {
      const store = new NonceStore(10)
      const url = "https://as.example.com/token"
      assert.isTrue(store.update(url, "  n-1  "))
      assert.strictEqual(store.get(url), "n-1")
      // NQCHAR: %x21 / %x23-5B / %x5D-7E, one or more.
      for (const nonce of ["!", "#", "[", "]", "~", "AZaz09", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", "x".repeat(1024)]) {
        assert.isTrue(store.update(url, nonce), nonce)
        assert.strictEqual(store.get(url), nonce)
      }
      for (const bad of ["x".repeat(1025), "a\"b", "ab\\", "a\u007fb", "a\tb", "\"", "\\", "é", "a é"]) {
        assert.isFalse(store.update(url, bad), JSON.stringify(bad))
        assert.strictEqual(store.get(url), "x".repeat(1024))
      }
    })

    it("say whether a nonce is new to its origin, and keep as many origins as the capacity", () => {
      const store = new NonceStore(2)
      assert.isTrue(store.update("https://a.example/", "a"))
      assert.isTrue(store.update("https://b.example/", "b"))
      assert.strictEqual(store.size, 2)
      assert.strictEqual(store.get("https://a.example/"), "a")
      assert.strictEqual(store.get("https://b.example/"), "b")
      assert.isFalse(store.update("https://a.example/x", "a"))
      // a was updated last: c evicts b, then b evicts a.
      assert.isTrue(store.update("https://c.example/", "c"))
      assert.strictEqual(store.size, 2)
      assert.strictEqual(store.get("https://a.example/"), "a")
      assert.isUndefined(store.get("https://b.example/"))
      assert.isTrue(store.update("https://b.example/", "b"))
      assert.isUndefined(store.get("https://a.example/"))
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

    it("are asked for by an error parameter equal to use_dpop_nonce, quoted or not, wherever it stands", () => {
      const challenge = (header: string) =>
        DPoPNonce.isChallenge({ status: 401, headers: { "www-authenticate": header } })
      for (
        const header of [
          "error=\"use_dpop_nonce\"",
          "DPoP error=use_dpop_nonce",
          "DPoP error = \"use_dpop_nonce\"",
          "DPoP error\t=\t\"use_dpop_nonce\"",
          "DPoP,error=\"use_dpop_nonce\",algs=\"ES256\"",
          "DPoP realm=\"api\",error=\"use_dpop_nonce\" ",
          "DPoP ERROR=\"USE_DPOP_NONCE\""
        ]
      ) assert.isTrue(challenge(header), header)
      for (
        const header of [
          "DPoP xerror=\"use_dpop_nonce\"",
          "DPoP error=\"use_dpop_nonce_please\"",
          "DPoP error=\"use_dpop_noncex\"",
          "DPoP error=\"xuse_dpop_nonce\"",
          "DPoP error:\"use_dpop_nonce\"",
          "DPoP error=\"use-dpop-nonce\"",
          ""
        ]
      ) assert.isFalse(challenge(header), header)
      assert.isFalse(
        DPoPNonce.isChallenge({ status: 403, headers: { "www-authenticate": "DPoP error=use_dpop_nonce" } })
      )
    })
  })
})
