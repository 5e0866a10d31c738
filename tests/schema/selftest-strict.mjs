// Checks the premise of lib/strict.mjs for every model class the packages ship: that the compiled
// validator reads every property its schema declares, so that a declared field is never reported
// as unknown, and that a field the schema does not declare is. The declared properties come from
// the package's TypeScript declarations (X.d.ts, "export interface IX { ... }"), which are
// generated from the same OpenAPI schemas as the validators.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { UNREAD_DECLARED, validateStrict } from "./lib/strict.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const roots = ["kubernetes-models", "@kubernetes-models/apimachinery", "@kubernetes-models/cert-manager",
  "@kubernetes-models/prometheus-operator"].map((p) =>
  join(here, "node_modules", p));

function* declarations(dir) {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (e === "_schemas" || e === "node_modules") continue;
    if (statSync(p).isDirectory()) yield* declarations(p);
    else if (e.endsWith(".d.ts") && e !== "index.d.ts") yield p;
  }
}

// The top-level property names of the interface IName in a declaration file, or null.
function declaredProperties(file, name) {
  const lines = readFileSync(file, "utf8").split("\n");
  const start = lines.findIndex((l) => l === `export interface I${name} {` || l.startsWith(`export interface I${name} extends `));
  if (start < 0) return null;
  const props = [];
  for (let i = start + 1; i < lines.length && lines[i] !== "}"; i++) {
    const m = /^ {4}"?([^"?:\s]+)"?\??:/.exec(lines[i]);
    if (m) props.push(m[1]);
  }
  return props;
}

// Declared properties the compiled validators skip (the generator takes a property named
// "description", and the x-kubernetes-* extension names, for annotations of the schema itself),
// by declaration file. lib/strict.mjs would call them unknown, so it validates none of these
// types: it maps no apiextensions.k8s.io kind (CustomResourceDefinition) and no
// monitoring.coreos.com v1alpha1/v1beta1 kind (AlertmanagerConfig); colo ships neither. The
// top-level PriorityClass.description, which colo ships, lib/strict.mjs checks by hand
// (UNREAD_DECLARED). The list is exact, so any other such property still fails here.
const crdProps = ["description", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields"];
const unreadByFile = {
  "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceColumnDefinition.d.ts": ["description"],
  "kubernetes-models/apiextensions.k8s.io/v1/ExternalDocumentation.d.ts": ["description"],
  "kubernetes-models/apiextensions.k8s.io/v1/JSONSchemaProps.d.ts": [...crdProps, "x-kubernetes-validations"],
  "kubernetes-models/apiextensions.k8s.io/v1beta1/CustomResourceColumnDefinition.d.ts": ["description"],
  "kubernetes-models/apiextensions.k8s.io/v1beta1/ExternalDocumentation.d.ts": ["description"],
  "kubernetes-models/apiextensions.k8s.io/v1beta1/JSONSchemaProps.d.ts": crdProps,
  "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1/OpsGenieConfig.d.ts": ["description"],
  "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1/PagerDutyConfig.d.ts": ["description"],
  "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1beta1/OpsGenieConfig.d.ts": ["description"],
  "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1beta1/PagerDutyConfig.d.ts": ["description"],
};

// Why lib/strict.mjs exists: the package's own .validate() lets a misspelled field through.
const { Pod } = await import("kubernetes-models/v1");
try {
  new Pod({ metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "i", resource: {} }] } }).validate();
  console.log("kubernetes-models' own .validate() accepts spec.containers[0].resource (misspelled): the strict check is needed");
} catch (e) {
  console.log(`kubernetes-models' own .validate() now rejects an unknown field (${e.message}): lib/strict.mjs could go`);
}

let classes = 0, properties = 0, failures = 0;
for (const root of roots) {
  for (const file of declarations(root)) {
    const name = file.slice(file.lastIndexOf("/") + 1, -".d.ts".length);
    const props = declaredProperties(file, name);
    if (!props) continue;
    const mod = await import(pathToFileURL(file.slice(0, -".d.ts".length) + ".js").href);
    const cls = mod[name];
    if (typeof cls !== "function" || typeof cls.prototype.validate !== "function") continue;
    const where = relative(join(here, "node_modules"), file);
    classes++;
    properties += props.length;
    // Every declared property present (null: the value does not matter, only whether it is read),
    // and one the schema cannot have.
    const data = Object.fromEntries(props.map((p) => [p, null]));
    data["colo-undeclared-field"] = null;
    const unknown = validateStrict(cls, data).filter((p) => p.unknown).map((p) => p.unknown);
    const skipped = unreadByFile[where] ?? [];
    const known = cls.apiVersion ? Object.keys(UNREAD_DECLARED[`${cls.apiVersion} ${cls.kind}`] ?? {}) : [];
    const wrongly = unknown.filter((k) => k !== "colo-undeclared-field" && !skipped.includes(k));
    const nowRead = skipped.filter((k) => !unknown.includes(k));
    if (nowRead.length) {
      console.log(`FAIL ${where}: ${nowRead.join(", ")} listed as skipped but read now: update the list`);
      failures++;
    }
    // lib/strict.mjs lets these through itself (typed by hand): they must be declared ones.
    for (const k of known)
      if (!props.includes(k)) {
        console.log(`FAIL ${where}: UNREAD_DECLARED names "${k}", which is not declared`);
        failures++;
      }
    if (wrongly.length) {
      console.log(`FAIL ${where}: declared ${wrongly.map((k) => JSON.stringify(k)).join(", ")} reported unknown`);
      failures++;
    }
    if (!unknown.includes("colo-undeclared-field") && props.length > 0) {
      console.log(`FAIL ${where}: an undeclared field was not reported`);
      failures++;
    }
  }
}
if (classes < 500) {
  console.log(`FAIL only ${classes} model classes found: the packages' layout changed`);
  failures++;
}
console.log(`${classes} model classes, ${properties} declared properties: every declared one read, an undeclared one reported`);
console.log(`${classes - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
