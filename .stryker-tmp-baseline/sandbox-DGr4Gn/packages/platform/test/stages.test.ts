/**
 * The middleware reads the two stages of an `HttpClient` through a cast into `@effect/platform`'s
 * internals; these tests fail if a new release changes what the cast relies on.
 */
// @ts-nocheck

import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { stages } from "../src/internal/stages.js"

const preprocess: HttpClient.HttpClient.Preprocess<never, never> = (request) =>
  Effect.succeed(HttpClientRequest.setHeader(request, "x-preprocessed", "yes"))

const postprocess: HttpClient.HttpClient.Postprocess<never, never> = (request) =>
  Effect.map(request, (request) => HttpClientResponse.fromWeb(request, new Response(request.headers["x-preprocessed"])))

describe("stages", () => {
  it("are the functions a client was made with", () => {
    const client = HttpClient.makeWith(postprocess, preprocess)
    const { postprocess: post, preprocess: pre } = stages(client)
    assert.strictEqual(pre, preprocess)
    assert.strictEqual(post, postprocess)
  })

  it.effect("of a client transformed by a combinator still send a request as the client does", () =>
    Effect.gen(function*() {
      const client = HttpClient.makeWith(postprocess, preprocess).pipe(
        HttpClient.mapRequest(HttpClientRequest.prependUrl("https://api.example.com"))
      )
      const { postprocess: post, preprocess: pre } = stages(client)
      assert.isFunction(pre)
      assert.isFunction(post)
      const request = yield* pre(HttpClientRequest.get("/v1"))
      assert.strictEqual(request.url, "https://api.example.com/v1")
      const response = yield* post(Effect.succeed(request))
      assert.strictEqual(yield* response.text, "yes")
      assert.strictEqual(yield* Effect.flatMap(client.get("/v1"), (response) => response.text), "yes")
    }))
})
