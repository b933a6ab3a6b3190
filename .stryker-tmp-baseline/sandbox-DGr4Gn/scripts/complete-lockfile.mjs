// @ts-nocheck
// Adds to package-lock.json the platform-specific optional packages that npm leaves out when the
// registry it installs from does not serve them (this project's machines reach a registry that holds
// only the packages of their own platform). Without them `npm ci` refuses the lock file. Each entry
// carries the os / cpu / libc its name states, so npm skips it everywhere else and fetches it, by
// name and version, on the platform it is for. Run it after `npm install` changes the lock file.
import { readFileSync, writeFileSync } from "node:fs"

const lockPath = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(lockPath, "utf8"))
const packages = lock.packages

/** os, cpu and libc from a platform package's name, e.g. `rollup-linux-arm64-musl`. */
const platformOf = (name) => {
  const parts = name.slice(name.lastIndexOf("/") + 1).split("-")
  const osIndex = parts.findIndex((part) =>
    ["android", "darwin", "freebsd", "linux", "openbsd", "openharmony", "win32", "sunos", "aix", "netbsd"].includes(
      part
    )
  )
  if (osIndex < 0) return undefined
  const os = parts[osIndex]
  const cpu = parts[osIndex + 1]
  const abi = parts[osIndex + 2]
  const entry = { os: [os], cpu: [cpu] }
  if (os === "linux" && abi !== undefined) {
    if (abi.startsWith("musl")) entry.libc = ["musl"]
    else if (abi.startsWith("gnu")) entry.libc = ["glibc"]
  }
  return entry
}

let added = 0
for (const [path, meta] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const prefix = path === "" ? "" : `${path}/`
    const key = `${prefix}node_modules/${name}`
    const hoisted = `node_modules/${name}`
    if (packages[key] !== undefined || packages[hoisted] !== undefined) continue
    const platform = platformOf(name)
    if (platform === undefined) continue
    const entry = { version, ...platform, optional: true }
    if (meta.dev) entry.dev = true
    if (meta.peer) entry.peer = true
    if (meta.devOptional) entry.devOptional = true
    packages[hoisted] = entry
    added++
  }
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0))
)
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`complete-lockfile: added ${added} platform package entries`)
