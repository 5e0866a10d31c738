// Validates every Kubernetes manifest (*.yaml, every document) under the directories or files
// given against the kubernetes-models schemas, strict on unknown fields (lib/strict.mjs).
// Exits 1 on any problem; a kind without a published schema fails too, unless it is listed in
// NO_SCHEMA below with the reason.
//   node check-manifests.mjs deploy/kubernetes
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

import { loadYaml, report } from "./lib/source.mjs";
import { validateObject } from "./lib/strict.mjs";

const NO_SCHEMA = {
  "kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration":
    "kube-scheduler's own configuration file (component config), which the API server does not serve, so its " +
    "OpenAPI document, from which kubernetes-models is generated, has no schema for it; kube-scheduler decodes " +
    "it strictly itself and refuses to start on an unknown field",
};

function* yamlFiles(p) {
  if (statSync(p).isDirectory()) {
    for (const e of readdirSync(p).sort()) yield* yamlFiles(join(p, e));
  } else if (/\.ya?ml$/.test(p)) {
    yield p;
  }
}

export async function checkManifestFile(file) {
  let failures = 0, checked = 0;
  let docs;
  try {
    docs = loadYaml(file);
  } catch (e) {
    console.log(`FAIL ${e.message}`);
    return { failures: 1, checked: 0 };
  }
  for (const [i, doc] of docs.entries()) {
    const d = doc.data ?? {};
    const what = `document ${i + 1} (${d.apiVersion} ${d.kind} ${d.metadata?.name ?? ""})`;
    const reason = NO_SCHEMA[`${d.apiVersion} ${d.kind}`];
    if (reason) {
      console.log(`none ${file}: ${what}: no schema: ${reason}`);
      continue;
    }
    const { problems } = await validateObject(d);
    failures += report(file, what, doc, problems);
    checked++;
  }
  return { failures, checked };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let failures = 0, passed = 0;
  for (const arg of process.argv.slice(2)) {
    for (const file of yamlFiles(arg)) {
      const r = await checkManifestFile(file);
      failures += r.failures ? 1 : 0;
      passed += r.failures ? 0 : 1;
    }
  }
  if (passed + failures === 0) {
    console.log("FAIL no manifest found");
    failures++;
  }
  console.log(`${passed} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}
