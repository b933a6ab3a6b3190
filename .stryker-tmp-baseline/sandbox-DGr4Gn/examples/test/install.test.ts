/**
 * What a new user does first, from the root README alone: the install line, in an empty project
 * outside the repository, with the packages as `npm pack` makes them, then the quick start,
 * type-checked against what was installed and run against a real token server and API.
 */
// @ts-nocheck

import { ProtectedApi, TokenServer } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"

const exec = promisify(execFile)
const root = path.resolve(import.meta.dirname, "..", "..")
const readme = Fs.readFileSync(path.join(root, "README.md"), "utf8")
const coreReadme = Fs.readFileSync(path.join(root, "packages", "core", "README.md"), "utf8")

/** The first fenced block of `language` in the section of `text` under `heading`. */
const block = (heading: string, language: string, text = readme) => {
  assert.include(text, `\n## ${heading}\n`)
  const section = text.slice(text.indexOf(`\n## ${heading}\n`))
  const start = section.indexOf("```" + language + "\n")
  assert.isAbove(start, 0, `no ${language} block under "${heading}"`)
  const body = section.slice(start + language.length + 4)
  return body.slice(0, body.indexOf("```"))
}

/** An install line: each package it names, with the range it asks for (`*` when none), and whether for development. */
const installLine = (line: string) => {
  assert.match(line, /^npm install /)
  const words = line.slice("npm install ".length).split(/\s+/)
  const dev = words.includes("--save-dev") || words.includes("-D")
  return words.filter((word) => !word.startsWith("-")).map((word) => {
    const at = word.indexOf("@", 1)
    return at === -1 ? { name: word, range: "*", dev } : { name: word.slice(0, at), range: word.slice(at + 1), dev }
  })
}

interface LockEntry {
  readonly version?: string
  readonly link?: boolean
  readonly dependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
  readonly [key: string]: unknown
}

interface Manifest {
  readonly name: string
  readonly version: string
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}

/**
 * A lock file for a project that depends on what the install line names: this repository's packages
 * from their packed tarballs, every other package from this repository's node_modules (copied, not
 * linked), so that the install needs no network and nothing resolves back into the repository. A
 * peer of ours that the line does not name fails here, as it would leave the user's import broken.
 */
const lockFor = (
  wanted: ReadonlyArray<{ name: string; range: string; dev: boolean }>,
  tarballs: Map<string, string>
) => {
  const lock: Record<string, LockEntry> = JSON.parse(Fs.readFileSync(path.join(root, "package-lock.json"), "utf8"))
    .packages
  const workspaces = new Map<string, string>() // package name -> its folder in the repository
  for (const [key, entry] of Object.entries(lock)) {
    if (entry.link === true) workspaces.set(key.slice("node_modules/".length), entry.resolved as string)
  }
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
  // Where a repository location lands in the project: a workspace's own node_modules under its package.
  const placed = (key: string) => {
    for (const [name, folder] of workspaces) {
      if (key.startsWith(`${folder}/`)) return `node_modules/${name}/${key.slice(folder.length + 1)}`
    }
    return key
  }
  const visit = (from: string, name: string, optional: boolean) => {
    if (tarballs.has(name)) return
    const key = locate(from, name)
    if (key === undefined) {
      if (optional) return
      throw new Error(`${name} (needed by ${from || "the project"}) is not in package-lock.json`)
    }
    if (lock[key].link === true) throw new Error(`${name}, needed by ${from}, is not on the README's install line`)
    if (entries[placed(key)] !== undefined) return
    const entry = lock[key]
    const { dev: _dev, devOptional: _devOptional, integrity: _integrity, peer: _peer, resolved: _resolved, ...kept } =
      entry
    entries[placed(key)] = { ...kept, resolved: `file:${path.join(root, key)}` }
    for (const dependency of Object.keys(entry.dependencies ?? {})) visit(key, dependency, false)
    for (const dependency of Object.keys(entry.optionalDependencies ?? {})) visit(key, dependency, true)
    for (const dependency of Object.keys(entry.peerDependencies ?? {})) {
      visit(key, dependency, entry.peerDependenciesMeta?.[dependency]?.optional === true)
    }
  }
  const dependencies: Record<string, string> = {}
  const devDependencies: Record<string, string> = {}
  const packed: Record<string, LockEntry> = {}
  for (const { dev, name, range } of wanted) {
    const tarball = tarballs.get(name)
    if (tarball === undefined) {
      ;(dev ? devDependencies : dependencies)[name] = range
      visit("", name, false)
      continue
    }
    const folder = workspaces.get(name)!
    const manifest = JSON.parse(Fs.readFileSync(path.join(root, folder, "package.json"), "utf8")) as Manifest
    dependencies[name] = `file:${tarball}`
    packed[`node_modules/${name}`] = {
      version: manifest.version,
      resolved: `file:${tarball}`,
      ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
      ...(manifest.peerDependencies ? { peerDependencies: manifest.peerDependencies } : {})
    }
    for (const dependency of Object.keys(manifest.dependencies ?? {})) visit(folder, dependency, false)
    for (const dependency of Object.keys(manifest.peerDependencies ?? {})) {
      if (dependency.startsWith("@access-token/") && !tarballs.has(dependency)) {
        throw new Error(`${dependency}, a peer of ${name}, is not on the README's install line`)
      }
      visit(folder, dependency, false)
    }
  }
  const project = { name: "reads-the-readme", private: true, type: "module", dependencies, devDependencies }
  const packages = { "": { name: project.name, dependencies, devDependencies }, ...entries, ...packed }
  return { project, lock: { name: project.name, lockfileVersion: 3, requires: true, packages } }
}

/** Starts `node script` in `cwd` and resolves with its output once it contains `text`, then stops it. */
const runUntil = (cwd: string, script: string, env: Record<string, string>, text: string) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [script], { cwd, env: { PATH: process.env.PATH, ...env } })
    let output = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    const read = (chunk: Buffer) => {
      output += chunk
      if (output.includes(text)) child.kill("SIGINT")
    }
    child.stdout.on("data", read)
    child.stderr.on("data", read)
    child.on("exit", () => {
      clearTimeout(timer)
      if (output.includes(text)) resolve(output)
      else reject(new Error(`${script} stopped before printing "${text}":\n${output}`))
    })
  })

describe("the root README, followed in a project of its own", () => {
  it.scoped(
    "its install line installs the packed packages; its quick start compiles and calls the API, its unit test passes",
    () =>
      Effect.gen(function*() {
        const outside = yield* Effect.acquireRelease(
          Effect.sync(() => Fs.mkdtempSync(path.join(Os.tmpdir(), "access-token-readme-"))),
          (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
        )
        // The root README's line, and the test tools of the core README's "Testing a worker".
        const wanted = [
          ...installLine(block("Install", "sh").trim()),
          ...installLine(block("Testing a worker", "sh", coreReadme).trim())
        ]
        const ours = wanted.filter(({ name }) => name.startsWith("@access-token/"))
        assert.isNotEmpty(ours)
        const tarballs = new Map<string, string>()
        yield* Effect.promise(async () => {
          for (const { name } of ours) {
            const folder = path.join(root, "packages", name.slice("@access-token/".length))
            await exec("npx", ["tsc", "-b", path.join(folder, "tsconfig.build.json")], { cwd: root })
            const { stdout } = await exec("npm", ["pack", "--json", "--pack-destination", outside], { cwd: folder })
            const [{ filename }] = JSON.parse(stdout) as Array<{ readonly filename: string }>
            tarballs.set(name, path.join(outside, filename))
          }
        })

        const project = path.join(outside, "project")
        Fs.mkdirSync(project)
        const { lock, project: manifest } = lockFor(wanted, tarballs)
        Fs.writeFileSync(path.join(project, "package.json"), JSON.stringify(manifest, null, 2))
        Fs.writeFileSync(path.join(project, "package-lock.json"), JSON.stringify(lock, null, 2))
        yield* Effect.promise(() =>
          exec("npm", ["ci", "--offline", "--install-links", "--ignore-scripts", "--no-audit", "--no-fund"], {
            cwd: project
          })
        )

        // The quick start as the README prints it, type-checked against the installed packages
        // (Node's own types from this repository, as any TypeScript project has them) and compiled,
        // with `skipLibCheck` as usual (the declarations of @effect/platform-node need it, or @types/ws).
        // Then the declarations of the packed packages alone, checked whole: none may name a type
        // that the build stripped.
        const compilerOptions = {
          strict: true,
          exactOptionalPropertyTypes: true,
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          typeRoots: [path.join(root, "node_modules", "@types")],
          types: ["node"]
        }
        Fs.writeFileSync(path.join(project, "quickstart.ts"), block("Quick start", "ts"))
        Fs.writeFileSync(path.join(project, "worker.test.ts"), block("Testing a worker", "ts", coreReadme))
        Fs.writeFileSync(
          path.join(project, "tsconfig.json"),
          JSON.stringify({
            compilerOptions: { ...compilerOptions, skipLibCheck: true, outDir: "dist" },
            files: ["quickstart.ts", "worker.test.ts"]
          })
        )
        Fs.writeFileSync(
          path.join(project, "declarations.ts"),
          ours.map(({ name }, i) => `export * as Package${i} from "${name}"\n`).join("")
        )
        Fs.writeFileSync(
          path.join(project, "tsconfig.declarations.json"),
          JSON.stringify({
            compilerOptions: { ...compilerOptions, skipLibCheck: false, noEmit: true },
            files: ["declarations.ts"]
          })
        )
        for (const config of ["tsconfig.json", "tsconfig.declarations.json"]) {
          yield* Effect.promise(() =>
            exec(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", config], {
              cwd: project
            }).catch((error: { stdout?: string }) => {
              throw new Error(`${config} does not compile:\n${error.stdout}`)
            })
          )
        }

        const server = yield* TokenServer.make({
          clients: [{ clientId: "readme", clientSecret: "readme-secret-7d2e", scopes: ["api"] }]
        })
        const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
        const output = yield* Effect.promise(() =>
          runUntil(project, path.join("dist", "quickstart.js"), {
            API_TOKEN_ENDPOINT: server.tokenEndpoint,
            API_CLIENT_ID: "readme",
            API_CLIENT_SECRET: Redacted.value(server.clients[0].clientSecret),
            API_SCOPE: "api",
            API_BASE_URL: api.baseUrl,
            WORKER_INTERVAL: "300 millis"
          }, "API response:")
        )
        assert.include(output, `{"type":"client_id","value":"readme"}`)
        assert.notInclude(output, "readme-secret-7d2e")
        assert.notInclude(output, "API call failed")
        // The unit test of "Testing a worker", run by the project's own vitest, with no server.
        const { stdout: tested } = yield* Effect.promise(() =>
          exec(process.execPath, [path.join("node_modules", "vitest", "vitest.mjs"), "run", "worker.test.ts"], {
            cwd: project,
            env: { PATH: process.env.PATH, CI: "true", NO_COLOR: "1" }
          }).catch((error: { stdout?: string; stderr?: string }) => {
            throw new Error(`the README's unit test fails in the project:\n${error.stdout}\n${error.stderr}`)
          })
        )
        assert.match(tested, /Tests {2}1 passed/)

        // Nothing in the project resolves back into the repository.
        for (const { name } of ours) {
          assert.isFalse(Fs.lstatSync(path.join(project, "node_modules", name)).isSymbolicLink(), name)
        }
      }),
    600_000
  )
})
