import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"

const exec = promisify(execFile)

const root = path.resolve(import.meta.dirname, "..", "..", "..")
const packageDir = path.resolve(import.meta.dirname, "..")
const manifest = JSON.parse(Fs.readFileSync(path.join(packageDir, "package.json"), "utf8"))

interface LockEntry {
  readonly version?: string
  readonly link?: boolean
  readonly dependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
  readonly [key: string]: unknown
}

/**
 * A lock file for a project that depends on the packed kit and its peers, every other package
 * taken from this repository's node_modules (copied, not linked): the install needs no network,
 * and nothing in the project resolves back into the repository.
 */
const lockFor = (tarball: string) => {
  const lock: Record<string, LockEntry> = JSON.parse(Fs.readFileSync(path.join(root, "package-lock.json"), "utf8"))
    .packages
  const entries: Record<string, LockEntry> = {}
  // Node's lookup through the lock's layout: nested first, then each parent.
  const locate = (from: string, name: string): string | undefined => {
    let location = from
    while (true) {
      const key = `${location === "" ? "" : `${location}/`}node_modules/${name}`
      if (lock[key] !== undefined) return key
      if (location === "") return undefined
      const i = location.lastIndexOf("/node_modules/")
      location = i === -1 ? "" : location.slice(0, i)
    }
  }
  const visit = (from: string, name: string, optional: boolean) => {
    const key = locate(from, name)
    if (key === undefined) {
      if (optional) return
      throw new Error(`${name} (needed by ${from || "the project"}) is not in package-lock.json`)
    }
    if (entries[key] !== undefined) return
    const entry = lock[key]
    // Another platform's optional binary stays in the lock (npm ci wants it there) and is not
    // installed: npm skips an optional package it cannot install.
    if (entry.link === true) throw new Error(`${name} is a workspace package: the kit must not depend on one`)
    const { dev: _dev, devOptional: _devOptional, integrity: _integrity, peer: _peer, resolved: _resolved, ...kept } =
      entry
    entries[key] = { ...kept, resolved: `file:${path.join(root, key)}` }
    for (const dependency of Object.keys(entry.dependencies ?? {})) visit(key, dependency, false)
    for (const dependency of Object.keys(entry.optionalDependencies ?? {})) visit(key, dependency, true)
    for (const dependency of Object.keys(entry.peerDependencies ?? {})) {
      visit(key, dependency, entry.peerDependenciesMeta?.[dependency]?.optional === true)
    }
  }
  for (const name of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) visit("", name, false)
  const dependencies: Record<string, string> = { [manifest.name]: `file:${tarball}` }
  for (const name of Object.keys(manifest.peerDependencies)) dependencies[name] = lock[`node_modules/${name}`].version!
  const project = { name: "uses-the-test-kit", private: true, type: "module", dependencies }
  const packages = {
    "": { name: project.name, dependencies },
    ...entries,
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: `file:${tarball}`,
      dependencies: manifest.dependencies,
      peerDependencies: manifest.peerDependencies
    }
  }
  return { project, lock: { name: project.name, lockfileVersion: 3, requires: true, packages } }
}

// A test of a user's: start the servers, get a token the plain way, call the API with it.
const program = `
import { ProtectedApi, TokenServer } from "${manifest.name}"
import { Effect, Layer, Redacted } from "effect"

const Servers = ProtectedApi.layer().pipe(Layer.provideMerge(TokenServer.layer()))

const program = Effect.gen(function*() {
  const server = yield* TokenServer.TokenServer
  const api = yield* ProtectedApi.ProtectedApi
  const [client] = server.clients
  const basic = btoa(client.clientId + ":" + Redacted.value(client.clientSecret))
  const token = yield* Effect.promise(() =>
    fetch(server.tokenEndpoint, {
      method: "POST",
      headers: { authorization: "Basic " + basic, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&scope=api"
    }).then((response) => response.json())
  )
  const claims = yield* Effect.promise(() =>
    fetch(new URL("test", api.baseUrl), { headers: { authorization: "Bearer " + token.access_token } })
      .then((response) => response.json())
  )
  return { tokenRequests: yield* server.tokenRequestCount, claims }
})

console.log(JSON.stringify(await Effect.runPromise(Effect.scoped(Effect.provide(program, Servers)))))
`

describe("the published test kit", () => {
  it("depends on test tools only, never on the packages it tests", () => {
    const all = { ...manifest.dependencies, ...manifest.peerDependencies }
    assert.deepStrictEqual(Object.keys(all).filter((name) => name.startsWith("@access-token/")), [])
    assert.isUndefined(manifest.private)
    for (const name of ["core", "platform", "redis"]) {
      const other = JSON.parse(Fs.readFileSync(path.join(root, "packages", name, "package.json"), "utf8"))
      assert.notProperty({ ...other.dependencies, ...other.peerDependencies }, manifest.name, name)
    }
  })

  it.live(
    "packs with npm pack, installs into a project outside the repository and starts a server there",
    () =>
      Effect.acquireUseRelease(
        Effect.sync(() => Fs.mkdtempSync(path.join(Os.tmpdir(), "access-token-testing-"))),
        (outside) =>
          Effect.promise(async () => {
            await exec("npx", ["tsc", "-b", path.join(packageDir, "tsconfig.build.json")], { cwd: root })
            const { stdout: packed } = await exec("npm", ["pack", "--json", "--pack-destination", outside], {
              cwd: packageDir
            })
            const [{ filename, files }] = JSON.parse(packed) as Array<
              { readonly filename: string; readonly files: Array<{ readonly path: string }> }
            >
            const paths = files.map((file) => file.path)
            for (
              const expected of [
                "README.md",
                "CHANGELOG.md",
                "LICENSE",
                "package.json",
                "dist/index.js",
                "dist/index.d.ts"
              ]
            ) {
              assert.include(paths, expected)
            }
            // Nothing but the build and the package's own files: no sources, no tests.
            assert.deepStrictEqual(
              paths.filter((file) =>
                !file.startsWith("dist/") && !["README.md", "CHANGELOG.md", "LICENSE", "package.json"].includes(file)
              ),
              []
            )

            const project = path.join(outside, "project")
            Fs.mkdirSync(project)
            const { lock, project: manifestOfProject } = lockFor(path.join(outside, filename))
            Fs.writeFileSync(path.join(project, "package.json"), JSON.stringify(manifestOfProject, null, 2))
            Fs.writeFileSync(path.join(project, "package-lock.json"), JSON.stringify(lock, null, 2))
            await exec("npm", ["ci", "--offline", "--install-links", "--ignore-scripts", "--no-audit", "--no-fund"], {
              cwd: project
            })
            assert.isFalse(Fs.lstatSync(path.join(project, "node_modules", manifest.name)).isSymbolicLink())

            Fs.writeFileSync(path.join(project, "server.test.mjs"), program)
            const { stdout } = await exec(process.execPath, ["server.test.mjs"], { cwd: project, timeout: 60_000 })
            const result = JSON.parse(stdout.trim().split("\n").pop()!) as {
              readonly tokenRequests: number
              readonly claims: ReadonlyArray<{ readonly type: string; readonly value: string }>
            }
            assert.strictEqual(result.tokenRequests, 1)
            assert.deepInclude(result.claims, { type: "client_id", value: "m2m" })
            assert.deepInclude(result.claims, { type: "scope", value: "api" })
          }),
        (outside) => Effect.sync(() => Fs.rmSync(outside, { recursive: true, force: true }))
      ),
    { timeout: 600_000 }
  )
})
