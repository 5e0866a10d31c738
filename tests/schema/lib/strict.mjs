// Validation against the Kubernetes object schemas of the npm package kubernetes-models, made
// strict on unknown fields.
//
// kubernetes-models' `.validate()` runs ajv code compiled from the upstream OpenAPI schemas. Those
// schemas do not set additionalProperties: false (the API server prunes or, with
// fieldValidation=Strict, rejects unknown fields itself), so `.validate()` alone accepts a
// misspelled field such as spec.containers[0].resource. The package ships only the compiled code,
// not the schemas, so strictness is added by observation: the data is validated through a Proxy
// that records which keys the compiled validator reads. The validator of an object schema reads
// every property the schema declares (and, for maps with additionalProperties, every key); a key
// of an object it looked into but never read is not in the schema: an unknown field. Objects the
// validator never looks into (free-form ones such as FieldsV1) are not judged.
// selftest-strict.mjs checks this holds for every property of every model in the package.

// meta/v1 types the API server writes under apiVersion v1 (a Status body, an ERROR watch event's
// object) that kubernetes-models keeps in its apimachinery package, without apiVersion/kind.
const META_V1_OBJECTS = {
  "v1 Status": ["@kubernetes-models/apimachinery/apis/meta/v1/Status", "Status"],
};

const MODULES = {
  "cert-manager.io/v1": "@kubernetes-models/cert-manager/cert-manager.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

// The model class of apiVersion/kind, or null when kubernetes-models has none.
export async function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9.\/-]+$/.test(apiVersion))
    return null;
  // The CRD schema types' validators skip some declared properties (selftest-strict.mjs), so the
  // unknown-field check would be wrong for them.
  if (apiVersion.startsWith("apiextensions.k8s.io/"))
    return null;
  const meta = META_V1_OBJECTS[`${apiVersion} ${kind}`];
  if (meta)
    return (await import(meta[0]))[meta[1]];
  const spec = MODULES[apiVersion] ?? `kubernetes-models/${apiVersion}`;
  let mod;
  try {
    mod = await import(spec);
  } catch (e) {
    if (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") return null;
    throw e;
  }
  const cls = mod[kind];
  return typeof cls === "function" && cls.kind === kind && cls.apiVersion === apiVersion ? cls : null;
}

// Declared top-level properties whose compiled validator is empty (the generator takes a property
// named "description" for the schema's own annotation), with their type. selftest-strict.mjs
// checks this list is exactly what the packages skip.
export const UNREAD_DECLARED = {
  "scheduling.k8s.io/v1 PriorityClass": { description: "string" },
  "scheduling.k8s.io/v1beta1 PriorityClass": { description: "string" },
};

// "/spec/containers/0" from ["spec", "containers", 0].
export function pointer(path) {
  return path.length ? "/" + path.map((p) => String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("/") : "/";
}

function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// Validates data (plain JSON) with the model class. Returns a list of {path, message}, empty when
// valid. options.partial: a merge patch, so no field is required (missing ones are left alone).
export function validateStrict(cls, data, options = {}) {
  const reads = new Map();      // object -> Set of keys the validator read
  const proxies = new Map();
  const wrap = (v) => {
    if (v === null || typeof v !== "object") return v;
    let p = proxies.get(v);
    if (p) return p;
    const track = !Array.isArray(v);
    if (track) reads.set(v, new Set());
    const mark = (t, k) => {
      if (track && typeof k === "string") reads.get(t).add(k);
    };
    p = new Proxy(v, {
      get(t, k, r) {
        mark(t, k);
        return wrap(Reflect.get(t, k, r));
      },
      has(t, k) {
        mark(t, k);
        return Reflect.has(t, k);
      },
      getOwnPropertyDescriptor(t, k) {
        // A for..in over a map asks for each key's descriptor, then reads it; the read marks it.
        return Reflect.getOwnPropertyDescriptor(t, k);
      },
    });
    proxies.set(v, p);
    return p;
  };

  const problems = [];
  try {
    cls.prototype.validate.call(wrap(data));
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    for (const err of e.errors) {
      if (options.partial && err.keyword === "required") continue;
      // kubernetes-models requires apiVersion and kind of every object of a kind, as its classes
      // set them; the upstream schemas do not, and the API server and kube-scheduler leave them
      // out of list items (typed Go objects whose TypeMeta is empty). Only a top-level document
      // must name its type.
      if (err.keyword === "required" && err.instancePath !== "" &&
          ["apiVersion", "kind"].includes(err.params?.missingProperty)) continue;
      const what = err.keyword === "required" ? `${err.message}` :
        err.keyword === "enum" ? `${err.message}: ${JSON.stringify(err.params.allowedValues)}` : err.message;
      problems.push({ path: err.instancePath || "/", message: what });
    }
  }

  const unread = UNREAD_DECLARED[`${cls.apiVersion} ${cls.kind}`] ?? {};
  const walk = (v, path) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...path, i]));
      return;
    }
    if (!isPlainObject(v)) return;
    const seen = reads.get(v);
    for (const k of Object.keys(v)) {
      if (path.length === 0 && unread[k]) {
        if (v[k] !== null && typeof v[k] !== unread[k])
          problems.push({ path: pointer([k]), message: `must be ${unread[k]}` });
        continue;
      }
      if (seen && seen.size > 0 && !seen.has(k))
        problems.push({ path: pointer([...path, k]), message: `unknown field "${k}"`, unknown: k });
      walk(v[k], [...path, k]);
    }
  };
  walk(data, []);
  return problems;
}

// The same for an object that must carry its own apiVersion and kind: finds the model first.
export async function validateObject(data, options = {}) {
  if (!isPlainObject(data)) return { problems: [{ path: "/", message: "is not an object" }] };
  const cls = await modelFor(data.apiVersion, data.kind);
  if (!cls)
    return { cls: null, problems: [{ path: "/", message: `no schema for apiVersion ${JSON.stringify(data.apiVersion)} kind ${JSON.stringify(data.kind)}` }] };
  return { cls, problems: validateStrict(cls, data, options) };
}
