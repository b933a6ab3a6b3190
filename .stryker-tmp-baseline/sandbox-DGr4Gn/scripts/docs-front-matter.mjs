// @ts-nocheck
// Runs after @effect/docgen in each package's `npm run docs`: docgen 0.5 prints a module page's
// front matter through its Markdown printer, which turns the opening `---` into `***` and a blank
// line, so GitHub shows `title: ... nav_order: ... parent: Modules` as a heading instead of reading
// it as front matter. This puts the opening fence back; pages already right are left as they are.
import * as Fs from "node:fs"
import * as Path from "node:path"

const modules = Path.resolve(process.argv[2] ?? "docs", "modules")
const broken = /^\*\*\*\n\n((?:[a-z_]+: .*\n)+)---\n/

for (const file of Fs.readdirSync(modules)) {
  if (!file.endsWith(".md")) continue
  const path = Path.join(modules, file)
  const text = Fs.readFileSync(path, "utf8")
  const fixed = text.replace(broken, "---\n$1---\n")
  if (fixed !== text) Fs.writeFileSync(path, fixed)
}
