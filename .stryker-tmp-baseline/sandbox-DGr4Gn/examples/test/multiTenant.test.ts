// @ts-nocheck
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { interrupt, run } from "./utils/run.js"

describe("examples/multi-tenant.ts", () => {
  it.live(
    "calls the API once per tenant per cycle as tenants join, rotate and leave, one token request per tenant and secret",
    () =>
      Effect.promise(async () => {
        const worker = run("multi-tenant.ts")
        await worker.waitFor("Cycle 5:", 1).catch((error) => {
          worker.child.kill("SIGKILL")
          throw error
        })
        await worker.waitFor("Token requests so far:", 5)
        const exit = await interrupt(worker)
        const output = worker.output()
        const cycles = output.split(/Cycle \d+: /).slice(1, 6).map((cycle) =>
          cycle.split("\n")
            .filter((line) => line.includes("API response 200"))
            .map((line) => /Tenant (\w+): API response 200 as (\S+)/.exec(line)!.slice(1).join("="))
            .sort()
        )
        assert.deepStrictEqual(cycles, [
          ["acme=tenant-acme", "globex=tenant-globex"],
          ["acme=tenant-acme", "globex=tenant-globex", "initech=tenant-initech"],
          ["acme=tenant-acme", "globex=tenant-globex", "initech=tenant-initech"],
          ["acme=tenant-acme", "initech=tenant-initech"],
          ["acme=tenant-acme", "initech=tenant-initech"]
        ])
        const requests = output.split("\n").filter((line) => line.includes("Token requests so far:"))
        // One per tenant as it first calls, one more for acme's rotated secret, none after.
        assert.deepStrictEqual(requests.slice(0, 5).map((line) => line.slice(line.indexOf("Token requests"))), [
          "Token requests so far: 2 (0 refused)",
          "Token requests so far: 3 (0 refused)",
          "Token requests so far: 4 (0 refused)",
          "Token requests so far: 4 (0 refused)",
          "Token requests so far: 4 (0 refused)"
        ])
        assert.notInclude(output, "API call failed")
        for (const secret of ["acme-secret-1", "acme-secret-2", "globex-secret-1", "initech-secret-1"]) {
          assert.notInclude(output, secret)
        }
        assert.strictEqual(worker.errors(), "")
        assert.isBelow(exit.elapsed, 1000)
      }),
    30_000
  )
})
