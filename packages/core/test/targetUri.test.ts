import { assert, describe, it } from "@effect/vitest"
import { htuOf } from "../src/internal/targetUri.js"

describe("targetUri", () => {
  describe("htuOf", () => {
    it("names each URL's own target URI, whatever URL came before", () => {
      // The last URL's htu is kept: a different URL must never get it.
      assert.strictEqual(htuOf("https://as.example.com/token?x=1"), "https://as.example.com/token")
      assert.strictEqual(htuOf("https://as.example.com/token?x=1"), "https://as.example.com/token")
      assert.strictEqual(htuOf("https://API.example.com:443/v1/items#top"), "https://api.example.com/v1/items")
      assert.strictEqual(htuOf("https://as.example.com/token?x=1"), "https://as.example.com/token")
      assert.strictEqual(htuOf("http://api.example.com:8080/v1"), "http://api.example.com:8080/v1")
    })

    it("cuts a string that is no URL at its query or fragment, whichever comes first", () => {
      assert.strictEqual(htuOf("/relative/path?page=2"), "/relative/path")
      assert.strictEqual(htuOf("/relative/path#top"), "/relative/path")
      assert.strictEqual(htuOf("/relative/path#top?page=2"), "/relative/path")
      assert.strictEqual(htuOf("/relative/path?page=2#top"), "/relative/path")
      assert.strictEqual(htuOf("/relative/path"), "/relative/path")
      assert.strictEqual(htuOf("?only=query"), "")
    })
  })
})
