/**
 * The rule that keeps a token off plain `http` beyond this machine: which URLs a token may be sent
 * to, and what the refusal says.
 */
import { AccessTokenHttpClient } from "@access-token/platform"
import { assert, describe, it } from "@effect/vitest"
import { insecureTransport } from "../src/internal/transport.js"

const refused = (url: string, options?: Parameters<typeof insecureTransport>[1]) => {
  const error = insecureTransport(url, options)
  assert.instanceOf(error, AccessTokenHttpClient.InsecureTransportError, `${url} should be refused`)
  return error!
}

describe("insecureTransport", () => {
  it("lets https through, whatever the case of its scheme", () => {
    for (const url of ["https://api.example.com/orders", "HTTPS://api.example.com/orders", "Https://api.example.com"]) {
      assert.isUndefined(insecureTransport(url, undefined), url)
    }
  })

  it("refuses plain http off loopback, naming the host with its port and the client", () => {
    const error = refused("http://api.example.com:8080/orders", { client: "billing" })
    assert.strictEqual(error.host, "api.example.com:8080")
    assert.strictEqual(error.client, "billing")
    assert.include(error.message, `client "billing"`)
    assert.include(error.message, "api.example.com:8080")
    assert.strictEqual(refused("http://api.example.com/", undefined).client, undefined)
  })

  it("refuses a scheme written in capitals as well", () => {
    assert.strictEqual(refused("HTTP://api.example.com/orders").host, "api.example.com")
  })

  it("refuses plain http whose query or path mentions https", () => {
    refused("http://api.example.com/login?next=https://api.example.com/")
    refused("http://api.example.com/https:/orders")
  })

  it("lets plain http to this machine through: localhost, 127.0.0.0/8 and [::1]", () => {
    for (
      const url of [
        "http://localhost/orders",
        "http://LOCALHOST:8080/orders",
        "http://127.0.0.1:8080/orders",
        "http://127.255.10.200/",
        "http://[::1]:8080/orders"
      ]
    ) {
      assert.isUndefined(insecureTransport(url, undefined), url)
    }
  })

  it("refuses hosts that merely look like loopback", () => {
    for (
      const url of [
        "http://localhost.example.com/",
        "http://mylocalhost/",
        "http://127.0.0.1.example.com/",
        "http://128.0.0.1/",
        "http://10.127.0.0.1.example.com/",
        "http://[::2]/",
        "http://[::1:1]/"
      ]
    ) {
      refused(url)
    }
  })

  it("lets anything through when allowInsecureTransport is set, and only when it is true", () => {
    assert.isUndefined(insecureTransport("http://api.example.com/", { allowInsecureTransport: true }))
    refused("http://api.example.com/", { allowInsecureTransport: false })
    refused("http://api.example.com/", { allowInsecureTransport: undefined })
  })

  it("leaves other schemes to the transport: only plain http is this rule's to refuse", () => {
    assert.isUndefined(insecureTransport("wss://api.example.com/events", undefined))
    assert.isUndefined(insecureTransport("ftp://files.example.com/report", undefined))
  })

  it("leaves a URL it cannot parse to the transport, which reports it", () => {
    assert.isUndefined(insecureTransport("/orders", undefined))
    assert.isUndefined(insecureTransport("http://", undefined))
  })
})
