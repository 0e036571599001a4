// Compile app.scss and copy GOV.UK Frontend's script and images into the Python package's static folder
// (src/recoverypbr/web/static/dist, not committed). Run by `npm run build` after `npm ci`.
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "recoverypbr", "web", "static", "dist");
const govuk = join(here, "node_modules", "govuk-frontend", "dist", "govuk");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const css = sass.compile(join(here, "app.scss"), {
  style: "compressed",
  importers: [new sass.NodePackageImporter()],
  quietDeps: true,
  silenceDeprecations: [],
});
writeFileSync(join(out, "app.css"), css.css);
cpSync(join(govuk, "govuk-frontend.min.js"), join(out, "govuk-frontend.min.js"));
// No images: GOV.UK's favicon, crown and logotype belong to services on GOV.UK's domain.
writeFileSync(join(out, "VERSION"), "govuk-frontend 6.6.0\n");
console.log(`built ${out}`);
