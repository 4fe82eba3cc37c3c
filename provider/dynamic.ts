// What every resource shares with Pulumi's dynamic-provider machinery: the serializable
// provider shell, input checking that survives `pulumi preview`'s unknown values, and
// field-by-field diffing.

import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { type FieldFailure, InputValidationError } from "./errors";
import { CONNECTION_SECRET_PATHS } from "./ssh/connection";
import { containsUnknown, describeIssues, protoKeyIssues } from "./validate";

type ResourceProvider = pulumi.dynamic.ResourceProvider;

// dist/provider/dynamic.js -> the package root (the folder holding package.json).
const PACKAGE_ROOT = path.resolve(__dirname, "..", "..");

/**
 * The provider object a resource hands to Pulumi. Pulumi serializes it into the state as
 * source text with everything it captures; this shell captures two strings and loads the
 * real implementation with `require` when the dynamic-provider host first calls it. So every
 * resource in that process shares one module instance (one SSH pool), and no SSH client,
 * zod schema or secret is ever serialized.
 *
 * The absolute path serves the process that wrote the state; the package path serves a later
 * run on another machine whose program has pulumi-underlay installed.
 */
export function serializableProvider(modulePath: string, exportName: string): ResourceProvider {
  const packageSpecifier = `pulumi-underlay/${path.relative(PACKAGE_ROOT, modulePath).split(path.sep).join("/")}`;
  const load = (): ResourceProvider => {
    let loaded: Record<string, ResourceProvider>;
    try {
      loaded = require(modulePath);
    } catch (err) {
      if ((err as { code?: string }).code !== "MODULE_NOT_FOUND") throw err;
      loaded = require(packageSpecifier);
    }
    return loaded[exportName];
  };
  return {
    check: (olds, news) => load().check!(olds, news),
    diff: (id, olds, news) => load().diff!(id, olds, news),
    create: (inputs) => load().create(inputs),
    read: (id, props) => load().read!(id, props),
    update: (id, olds, news) => load().update!(id, olds, news),
    delete: (id, props) => load().delete!(id, props),
  };
}

/**
 * A value as the dynamic-provider host can send it to the engine. The host turns results into
 * a protobuf Struct, which throws "Unexpected struct type." on `undefined` at any depth (an
 * optional field left out of a state object), so such keys are dropped and array holes become
 * null. The mocked runtime serializes differently and never showed this; the real engine did.
 */
export function toWireValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : toWireValue(v)));
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWireValue(v);
    return out;
  }
  return value;
}

function wire<T>(value: T): T {
  return toWireValue(value) as T;
}

/**
 * Wraps a provider so that everything it hands back to the dynamic-provider host is a valid
 * wire value (see toWireValue). Applied where each provider is exported, inside the loaded
 * module, so the serialized shell in the state never changes.
 */
export function engineSafe<P extends ResourceProvider>(provider: P): P {
  const wrapped: ResourceProvider = {
    check: async (olds, news) => {
      const r = await provider.check!(olds, news);
      return { ...r, inputs: wire(r.inputs) };
    },
    diff: (id, olds, news) => provider.diff!(id, olds, news),
    create: async (inputs) => {
      const r = await provider.create(inputs);
      return { ...r, outs: wire(r.outs) };
    },
    read: async (id, props) => {
      const r = await provider.read!(id, props);
      // A read of something gone returns no id and no props: pass that through unchanged.
      return { ...r, ...(r.props ? { props: wire(r.props) } : {}), ...(r.inputs ? { inputs: wire(r.inputs) } : {}) };
    },
    update: async (id, olds, news) => {
      const r = await provider.update!(id, olds, news);
      return { ...r, outs: wire(r.outs) };
    },
    delete: (id, props) => provider.delete!(id, props),
  };
  return Object.assign(Object.create(Object.getPrototypeOf(provider) as object) as P, provider, wrapped);
}

export type ObjectSchema = z.ZodObject<z.core.$ZodLooseShape>;

function withoutProviderKey(props: Record<string, unknown>): Record<string, unknown> {
  const { __provider: _ignored, ...rest } = props;
  return rest;
}

/**
 * Pulumi's `check`: validates everything before any host is touched. During a preview some
 * inputs may still be unknown (another resource's output); then each known field is checked
 * on its own and the cross-field rules wait for `up`, when every value is known.
 */
export function checkInputs(schema: ObjectSchema, news: Record<string, unknown>): pulumi.dynamic.CheckResult {
  const raw = withoutProviderKey(news);
  const protoKeys = protoKeyIssues(raw);
  if (protoKeys.length > 0) return { inputs: raw, failures: describeIssues(protoKeys, raw, CONNECTION_SECRET_PATHS) };
  if (!containsUnknown(raw)) {
    const parsed = schema.safeParse(raw);
    if (parsed.success) return { inputs: parsed.data };
    return { inputs: raw, failures: describeIssues(parsed.error.issues, raw, CONNECTION_SECRET_PATHS) };
  }
  const inputs: Record<string, unknown> = { ...raw };
  const failures: FieldFailure[] = [];
  for (const [key, field] of Object.entries(schema.shape)) {
    if (containsUnknown(raw[key])) continue;
    const parsed = (field as z.ZodType).safeParse(raw[key]);
    if (parsed.success) {
      if (parsed.data !== undefined) inputs[key] = parsed.data;
    } else {
      const issues = parsed.error.issues.map((i) => ({ ...i, path: [key, ...i.path] }));
      failures.push(...describeIssues(issues, raw, CONNECTION_SECRET_PATHS));
    }
  }
  return failures.length ? { inputs: raw, failures } : { inputs };
}

/** Validates inside create/update/read, where every value is known; throws with every failure listed. */
export function parseInputs<S extends ObjectSchema>(schema: S, props: Record<string, unknown>, resource: string): z.output<S> {
  const raw = withoutProviderKey(props);
  const protoKeys = protoKeyIssues(raw);
  if (protoKeys.length > 0) throw new InputValidationError(resource, describeIssues(protoKeys, raw, CONNECTION_SECRET_PATHS));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InputValidationError(resource, describeIssues(parsed.error.issues, raw, CONNECTION_SECRET_PATHS));
  return parsed.data;
}

/**
 * How a change to each input is applied: "replace" when the host cannot change it in place
 * (Docker cannot edit a network; a link cannot be re-parented), "update" otherwise.
 */
export type FieldRules<K extends string> = Record<K, "replace" | "update">;

/** JSON with object keys sorted at every depth, so maps compare regardless of key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

export function changedFields<K extends string>(olds: Record<string, unknown>, news: Record<string, unknown>, rules: FieldRules<K>): K[] {
  return (Object.keys(rules) as K[]).filter(
    (key) => containsUnknown(news[key]) || stableJson(olds[key] ?? null) !== stableJson(news[key] ?? null),
  );
}

/**
 * Pulumi's `diff`. `olds` is the state (what the last create/update/read saw on the host), `news`
 * the checked inputs; a field that is unknown during preview counts as changed. Replacements
 * delete first: a Docker network name and an interface name are unique on a host, so the new
 * object cannot exist beside the old one.
 */
export function diffByRules<K extends string>(olds: object, news: object, rules: FieldRules<K>): pulumi.dynamic.DiffResult {
  const changed = changedFields(olds as Record<string, unknown>, news as Record<string, unknown>, rules);
  const replaces = changed.filter((key) => rules[key] === "replace");
  return {
    changes: changed.length > 0,
    replaces,
    stables: (Object.keys(rules) as K[]).filter((key) => !changed.includes(key)),
    deleteBeforeReplace: replaces.length > 0,
  };
}

/** A schema's input type as a Pulumi program passes it: every field, at any depth, may be an Output. */
export type InputsOf<T> = {
  [K in keyof T]: pulumi.Input<T[K] extends (infer U)[] ? pulumi.Input<InputValue<U>>[] : InputValue<T[K]>>;
};
type InputValue<T> = T extends string | number | boolean | undefined ? T : T extends object ? InputsOf<T> : T;

/**
 * Options every resource registers with: the whole `connection` input is a secret output, since
 * it carries the private key or password that read and delete need from the state.
 */
export function withSecretConnection(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] };
}

/**
 * The property bag a dynamic resource registers: every schema field (absent ones as undefined,
 * so Pulumi still creates their output properties) plus the outputs only the provider sets.
 * `connection` is registered as a secret as a whole, so the state's inputs hold it encrypted
 * just like its outputs (withSecretConnection), whichever of its fields the program marked.
 */
export function registeredProps(
  schema: ObjectSchema,
  args: Record<string, unknown>,
  outputsOnly: readonly string[],
): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) props[key] = args[key];
  if (props.connection !== undefined) props.connection = pulumi.secret(props.connection);
  for (const key of outputsOnly) props[key] = undefined;
  return props;
}
