// Validates every Kubernetes manifest (*.yaml, every document) under the directories or files
// given against the kubernetes-models schemas, strict on unknown fields (lib/strict.mjs).
// Exits 1 on any problem; a kind without a schema fails too. KubeSchedulerConfiguration, which
// has no published schema, is checked against its upstream Go types (GO_TYPES below).
//   node check-manifests.mjs deploy/kubernetes
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

import { KubeSchedulerConfiguration, validateGo } from "./lib/gotypes.mjs";
import { loadYaml, report } from "./lib/source.mjs";
import { validateObject } from "./lib/strict.mjs";

// Kinds the API server does not serve, so its OpenAPI document (from which kubernetes-models is
// generated) has no schema for them: checked against their Go types (lib/gotypes.mjs).
const GO_TYPES = {
  // kube-scheduler's own --config file (component config), not a cluster object.
  "kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration": KubeSchedulerConfiguration,
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
    const goType = GO_TYPES[`${d.apiVersion} ${d.kind}`];
    const { problems } = goType ? { problems: await validateGo(goType, d) } : await validateObject(d);
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
