// Bundles src/map.js (Leaflet, leaflet.markercluster, uPlot and our code) with esbuild
// and copies the API documentation's assets (swagger-ui-dist, redoc) into dist/assets/
// under content-hashed names; dist/manifest.json maps each logical name to its file, so
// the API serves the assets as immutable and the pages that name them as no-cache.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import * as esbuild from "esbuild";

const dist = "dist";
const assets = join(dist, "assets");
rmSync(dist, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await esbuild.build({
  entryPoints: { map: "src/map.js" },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  target: ["es2020"],
  outdir: assets,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  loader: { ".png": "file", ".svg": "file" },
  metafile: true,
  logLevel: "warning",
});

const manifest = {};
const relative = (file) => file.slice(dist.length + 1);
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  if (output.entryPoint !== "src/map.js") continue;
  manifest["map.js"] = relative(file);
  if (output.cssBundle) manifest["map.css"] = relative(output.cssBundle);
}
if (!manifest["map.js"] || !manifest["map.css"]) {
  throw new Error(`esbuild wrote no map.js/map.css: ${JSON.stringify(result.metafile.outputs)}`);
}

function copyHashed(logical, source) {
  const body = readFileSync(source);
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
  const ext = extname(source);
  const file = `${basename(source, ext)}-${hash}${ext}`;
  copyFileSync(source, join(assets, file));
  manifest[logical] = `assets/${file}`;
}
copyHashed("swagger-ui.js", "node_modules/swagger-ui-dist/swagger-ui-bundle.js");
copyHashed("swagger-ui.css", "node_modules/swagger-ui-dist/swagger-ui.css");
copyHashed("swagger-oauth2-redirect.html", "node_modules/swagger-ui-dist/oauth2-redirect.html");
copyHashed("favicon.png", "node_modules/swagger-ui-dist/favicon-32x32.png");
copyHashed("redoc.js", "node_modules/redoc/bundles/redoc.standalone.js");

const versions = {};
for (const pkg of ["leaflet", "leaflet.markercluster", "uplot", "swagger-ui-dist", "redoc"]) {
  versions[pkg] = JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, "utf8")).version;
}
writeFileSync(join(dist, "manifest.json"), JSON.stringify({ assets: manifest, versions }, null, 2));
