import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"

// Imported in the test, not at the top of the file: a schema that cannot be built throws as its
// module loads, and so fails this test instead of the loading of the file, which a mutation run
// does not count as a failed test.
const load = () => import("../src/internal/metadataDocument.js")

describe("metadataDocument", () => {
  it("mtls_endpoint_aliases is a record of strings; every other member is kept as sent", async () => {
    const decode = Schema.decodeUnknownEither((await load()).Metadata)
    const document = {
      issuer: "https://as.example.com",
      mtls_endpoint_aliases: { token_endpoint: "https://mtls.as.example.com/token" },
      vendor: { levels: [1, 2] },
      "x-flag": true
    }
    assert.deepStrictEqual(decode(document), Either.right(document))
    for (const aliases of [{ token_endpoint: 7 }, "https://mtls.as.example.com/token", ["x"]]) {
      const decoded = decode({ issuer: "https://as.example.com", mtls_endpoint_aliases: aliases })
      assert.isTrue(Either.isLeft(decoded), JSON.stringify(aliases))
    }
  })
})
