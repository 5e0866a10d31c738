// Go types that the Kubernetes OpenAPI document (so kubernetes-models) has no schema for, written
// field by field from their upstream definitions, checked as strictly as lib/strict.mjs checks the
// others: each key must be a field, each value of the field's type, nil (Go's null) only where the
// Go type can be nil. Embedded API objects are handed to the kubernetes-models schemas.
//
//   k8s.io/api/admission/v1/types.go                 AdmissionReview, AdmissionRequest/Response
//   k8s.io/apimachinery/pkg/apis/meta/v1/types.go    GroupVersionKind/Resource, CreateOptions, UpdateOptions
//   k8s.io/kube-scheduler/extender/v1/types.go       ExtenderArgs, ExtenderFilterResult, HostPriority
//   k8s.io/kube-scheduler/config/v1/types.go         KubeSchedulerConfiguration (with
//   k8s.io/component-base/config/v1alpha1/types.go   its LeaderElection/ClientConnection/Debugging)
//
// The extender types have no json tags: encoding/json writes the Go field names (Pod, Nodes, ...)
// and reads keys case-insensitively, so their keys are matched without regard to case, as
// kube-scheduler and colo read them.
import { modelFor, pointer, validateStrict } from "./strict.mjs";

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// Type constructors. nullable: the Go type is a pointer, slice or map (json null is nil).
export const T = {
  string: { kind: "string" },
  bool: { kind: "bool" },
  int: { kind: "int" },
  number: { kind: "number" },
  // metav1.Duration: a string Go's time.ParseDuration reads ("2s", "1m30s", "500ms").
  duration: { kind: "duration" },
  any: { kind: "any", nullable: true },
  ptr: (t) => ({ ...t, nullable: true }),
  array: (of) => ({ kind: "array", of, nullable: true }),
  map: (of) => ({ kind: "map", of, nullable: true }),
  struct: (fields, options = {}) => ({ kind: "struct", fields, ...options }),
  enumOf: (values) => ({ kind: "string", values }),
  // An API object of kubernetes-models' apiVersion/kind in a Go struct field: its apiVersion and
  // kind may be absent, as encoding/json leaves a typed object's empty TypeMeta out.
  // module: where the class is when not in kubernetes-models/<apiVersion>.
  model: (apiVersion, kind, module) => ({ kind: "model", apiVersion, modelKind: kind, module }),
  // A RawExtension: an encoded API object that names its own apiVersion/kind.
  raw: () => ({ kind: "raw", nullable: true }),
};

const typeMeta = { apiVersion: T.string, kind: T.string };
const gvk = T.struct({ group: T.string, version: T.string, kind: T.string });
const gvr = T.struct({ group: T.string, version: T.string, resource: T.string });
const writeOptions = T.struct({ ...typeMeta, dryRun: T.array(T.string), fieldManager: T.string, fieldValidation: T.string });

// Go types by "apiVersion kind" for RawExtension contents kubernetes-models has no schema for.
const rawTypes = {
  "meta.k8s.io/v1 CreateOptions": writeOptions,
  "meta.k8s.io/v1 UpdateOptions": writeOptions,
};

export const AdmissionRequest = T.struct({
  uid: T.string,
  kind: gvk,
  resource: gvr,
  subResource: T.string,
  requestKind: T.ptr(gvk),
  requestResource: T.ptr(gvr),
  requestSubResource: T.string,
  name: T.string,
  namespace: T.string,
  operation: T.enumOf(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
  userInfo: T.model("authentication.k8s.io/v1", "UserInfo"),
  object: T.raw(),
  oldObject: T.raw(),
  dryRun: T.ptr(T.bool),
  options: T.raw(),
}, { required: ["uid", "kind", "resource", "operation", "userInfo"] });

export const AdmissionResponse = T.struct({
  uid: T.string,
  allowed: T.bool,
  // The Go field is Result, its json tag "status".
  status: T.ptr(T.model("v1", "Status", "@kubernetes-models/apimachinery/apis/meta/v1")),
  patch: T.ptr(T.string),                       // []byte: base64
  patchType: T.ptr(T.enumOf(["JSONPatch"])),
  auditAnnotations: T.map(T.string),
  warnings: T.array(T.string),
}, { required: ["uid", "allowed"] });

export const AdmissionReview = T.struct({
  ...typeMeta,
  request: T.ptr(AdmissionRequest),
  response: T.ptr(AdmissionResponse),
}, { required: ["apiVersion", "kind"] });

const extender = { caseInsensitive: true };
export const ExtenderArgs = T.struct({
  Pod: T.ptr(T.model("v1", "Pod")),
  Nodes: T.ptr(T.model("v1", "NodeList")),
  NodeNames: T.array(T.string),
}, extender);
export const ExtenderFilterResult = T.struct({
  Nodes: T.ptr(T.model("v1", "NodeList")),
  NodeNames: T.array(T.string),
  FailedNodes: T.map(T.string),
  FailedAndUnresolvableNodes: T.map(T.string),
  Error: T.string,
}, extender);
export const HostPriorityList = T.array(T.struct({ Host: T.string, Score: T.int }, extender));

// kube-scheduler reads its --config strictly and case-sensitively: an unknown field stops it.
const pluginSet = T.struct({
  enabled: T.array(T.struct({ name: T.string, weight: T.ptr(T.int) }, { required: ["name"] })),
  disabled: T.array(T.struct({ name: T.string, weight: T.ptr(T.int) }, { required: ["name"] })),
});
const extensionPoints = ["preEnqueue", "queueSort", "preFilter", "filter", "postFilter", "preScore", "score",
  "reserve", "permit", "preBind", "bind", "postBind", "multiPoint", "placementGenerate", "placementScore",
  "placementFeasible", "podGroupPostFilter"];
export const KubeSchedulerConfiguration = T.struct({
  ...typeMeta,
  parallelism: T.ptr(T.int),
  leaderElection: T.struct({
    leaderElect: T.ptr(T.bool), leaseDuration: T.duration, renewDeadline: T.duration, retryPeriod: T.duration,
    resourceLock: T.string, resourceName: T.string, resourceNamespace: T.string,
  }),
  clientConnection: T.struct({
    kubeconfig: T.string, acceptContentTypes: T.string, contentType: T.string, qps: T.number, burst: T.int,
  }),
  enableProfiling: T.ptr(T.bool),               // DebuggingConfiguration, inlined
  enableContentionProfiling: T.ptr(T.bool),
  percentageOfNodesToScore: T.ptr(T.int),
  percentageOfPlacementsToScore: T.ptr(T.int),
  podInitialBackoffSeconds: T.ptr(T.int),
  podMaxBackoffSeconds: T.ptr(T.int),
  profiles: T.array(T.struct({
    schedulerName: T.ptr(T.string),
    percentageOfNodesToScore: T.ptr(T.int),
    percentageOfPlacementsToScore: T.ptr(T.int),
    plugins: T.ptr(T.struct(Object.fromEntries(extensionPoints.map((e) => [e, pluginSet])))),
    // args: the plugin's own <Name>Args type, which kube-scheduler decodes; not checked here.
    pluginConfig: T.array(T.struct({ name: T.string, args: T.any }, { required: ["name"] })),
  })),
  extenders: T.array(T.struct({
    urlPrefix: T.string, filterVerb: T.string, preemptVerb: T.string, prioritizeVerb: T.string, weight: T.int,
    bindVerb: T.string, enableHTTPS: T.bool,
    tlsConfig: T.ptr(T.struct({
      insecure: T.bool, serverName: T.string, certFile: T.string, keyFile: T.string, caFile: T.string,
      certData: T.ptr(T.string), keyData: T.ptr(T.string), caData: T.ptr(T.string),
    })),
    httpTimeout: T.duration, nodeCacheCapable: T.bool,
    managedResources: T.array(T.struct({ name: T.string, ignoredByScheduler: T.bool }, { required: ["name"] })),
    ignorable: T.bool,
  }, { required: ["urlPrefix"] })),
  delayCacheUntilActive: T.bool,
}, { required: ["apiVersion", "kind"] });

// Validates data against type t. Returns [{path, message}]; async because models load lazily.
export async function validateGo(t, data, path = []) {
  const here = pointer(path);
  if (data === null) return t.nullable ? [] : [{ path: here, message: "is null, and the Go type cannot be nil" }];
  switch (t.kind) {
    case "string":
      if (typeof data !== "string") return [{ path: here, message: "must be a string" }];
      return t.values && !t.values.includes(data) ? [{ path: here, message: `must be one of ${JSON.stringify(t.values)}` }] : [];
    case "bool":
      return typeof data === "boolean" ? [] : [{ path: here, message: "must be a boolean" }];
    case "int":
      return Number.isSafeInteger(data) ? [] : [{ path: here, message: "must be an integer" }];
    case "number":
      return typeof data === "number" ? [] : [{ path: here, message: "must be a number" }];
    case "duration":
      return typeof data === "string" && /^[-+]?(0|([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$/.test(data) ? [] :
        [{ path: here, message: `must be a duration such as "2s" or "1m30s" (Go's time.ParseDuration)` }];
    case "any":
      return [];
    case "array": {
      if (!Array.isArray(data)) return [{ path: here, message: "must be an array" }];
      const out = [];
      for (let i = 0; i < data.length; i++) out.push(...await validateGo(t.of, data[i], [...path, i]));
      return out;
    }
    case "map": {
      if (!isObject(data)) return [{ path: here, message: "must be an object" }];
      const out = [];
      for (const [k, v] of Object.entries(data)) out.push(...await validateGo(t.of, v, [...path, k]));
      return out;
    }
    case "struct":
      return validateStruct(t, data, path);
    case "model":
      return validateModel(t, data, path);
    case "raw":
      return validateRaw(t, data, path);
  }
  throw new Error(`unknown type kind ${t.kind}`);
}

async function validateStruct(t, data, path) {
  if (!isObject(data)) return [{ path: pointer(path), message: "must be an object" }];
  const out = [];
  const byName = new Map(Object.keys(t.fields).map((f) => [t.caseInsensitive ? f.toLowerCase() : f, f]));
  const seen = new Map();
  for (const [k, v] of Object.entries(data)) {
    const field = byName.get(t.caseInsensitive ? k.toLowerCase() : k);
    if (!field) {
      out.push({ path: pointer([...path, k]), message: `unknown field "${k}"`, unknown: k });
      continue;
    }
    if (seen.has(field)) {
      out.push({ path: pointer([...path, k]), message: `field ${field} given twice ("${seen.get(field)}" and "${k}")` });
      continue;
    }
    seen.set(field, k);
    out.push(...await validateGo(t.fields[field], v, [...path, k]));
  }
  for (const f of t.required ?? [])
    if (!seen.has(f)) out.push({ path: pointer(path), message: `must have required property '${f}'` });
  return out;
}

async function validateModel(t, data, path) {
  if (!isObject(data)) return [{ path: pointer(path), message: "must be an object" }];
  const cls = t.module ? await embeddedClass(t.module, t.modelKind) :
    await modelFor(t.apiVersion, t.modelKind) ?? await embeddedClass(`kubernetes-models/${t.apiVersion}`, t.modelKind);
  if (!cls) throw new Error(`kubernetes-models has no ${t.apiVersion} ${t.modelKind}`);
  // A Go struct field's TypeMeta may be empty on the wire: fill it in as the class constructor does.
  const filled = cls.apiVersion ? { apiVersion: cls.apiVersion, kind: cls.kind, ...data } : data;
  return rebase(path, validateStrict(cls, filled));
}

// Classes without their own apiVersion/kind (UserInfo, Status), by module.
async function embeddedClass(module, kind) {
  const mod = await import(module).catch(() => null);
  return mod && typeof mod[kind] === "function" ? mod[kind] : null;
}

async function validateRaw(t, data, path) {
  if (!isObject(data)) return [{ path: pointer(path), message: "must be an object (an encoded API object)" }];
  const name = `${data.apiVersion} ${data.kind}`;
  if (rawTypes[name]) return validateGo(rawTypes[name], data, path);
  const cls = await modelFor(data.apiVersion, data.kind);
  if (!cls) return [{ path: pointer(path), message: `no schema for the embedded apiVersion ${JSON.stringify(data.apiVersion)} kind ${JSON.stringify(data.kind)}` }];
  return rebase(path, validateStrict(cls, data));
}

// Problems of a nested validation, with paths from the outer document's root.
export function rebase(path, problems) {
  const base = path.length ? pointer(path) : "";
  return problems.map((p) => ({ ...p, path: p.path === "/" ? base || "/" : base + p.path }));
}
