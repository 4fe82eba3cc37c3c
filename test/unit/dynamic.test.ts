import { strict as assert } from "node:assert";
import { z } from "zod";
import {
  changedFields,
  checkInputs,
  diffByRules,
  parseInputs,
  registeredProps,
  stableJson,
  withSecretConnection,
} from "../../provider/dynamic";
import { InputValidationError } from "../../provider/errors";
import { UNKNOWN } from "../../provider/validate";

const Schema = z
  .object({ a: z.string().min(2), b: z.number().default(1), c: z.string().optional() })
  .strict()
  .superRefine((v, ctx) => {
    if (v.c !== undefined && v.c === v.a) ctx.addIssue({ code: "custom", path: ["c"], message: "must differ from a" });
  });

describe("dynamic: check, parse, diff, registration", () => {
  it("checks every field and the cross-field rules when all is known, dropping __provider", () => {
    assert.deepEqual(checkInputs(Schema, { a: "xy", __provider: "text" }), { inputs: { a: "xy", b: 1 } });
    const failed = checkInputs(Schema, { a: "xy", c: "xy", __provider: "text" });
    assert.deepEqual(failed.inputs, { a: "xy", c: "xy" });
    assert.deepEqual(failed.failures, [{ property: "c", reason: 'c: must differ from a (got "xy")' }]);
  });

  it("during preview checks known fields alone, keeps unknown ones, and skips cross-field rules", () => {
    assert.deepEqual(checkInputs(Schema, { a: UNKNOWN, c: "q" }), { inputs: { a: UNKNOWN, b: 1, c: "q" } });
    const failed = checkInputs(Schema, { a: "x", c: UNKNOWN });
    assert.deepEqual(
      failed.failures?.map((f) => f.property),
      ["a"],
    );
    assert.deepEqual(failed.inputs, { a: "x", c: UNKNOWN });
    assert.deepEqual(checkInputs(Schema, { a: "xy", c: [UNKNOWN] }).inputs, { a: "xy", b: 1, c: [UNKNOWN] });
  });

  it("parses or throws InputValidationError listing every failure", () => {
    assert.deepEqual(parseInputs(Schema, { a: "xy", __provider: "t" }, "R"), { a: "xy", b: 1 });
    assert.throws(
      () => parseInputs(Schema, { a: "x", b: "no" }, "R"),
      (err: unknown) => {
        assert.ok(err instanceof InputValidationError);
        assert.equal(err.resource, "R");
        assert.deepEqual(
          err.failures.map((f) => f.property),
          ["a", "b"],
        );
        assert.match(err.message, /^invalid R inputs:\n {2}- a: .*\n {2}- b: /);
        return true;
      },
    );
  });

  it('refuses a map key "__proto__" naming it, where z.record would drop it without a word', () => {
    const WithMap = z.object({ labels: z.record(z.string(), z.string()) }).strict();
    const raw = JSON.parse('{"labels": {"__proto__": "v", "ok": "w"}}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(WithMap.parse(raw).labels), ["ok"], "zod no longer drops it: this guard may go");
    const failed = checkInputs(WithMap, raw);
    assert.deepEqual(
      failed.failures?.map((f) => f.property),
      ["labels.__proto__"],
    );
    assert.match(failed.failures?.[0].reason ?? "", /^labels\.__proto__: is a key a JavaScript object cannot hold/);
    assert.throws(
      () => parseInputs(WithMap, raw, "T"),
      (err: unknown) => err instanceof InputValidationError && /labels\.__proto__/.test(err.message),
    );
  });

  it("diffs field by field: unknown counts as changed, missing equals null, key order never matters", () => {
    const rules = { a: "replace", b: "update", c: "update" } as const;
    assert.deepEqual(changedFields({ a: "x", b: { p: 1, q: 2 } }, { a: "x", b: { q: 2, p: 1 }, c: undefined }, rules), []);
    assert.deepEqual(changedFields({ a: "x" }, { a: UNKNOWN, c: null }, rules), ["a"]);
    assert.deepEqual(diffByRules({ a: "x", b: 1 }, { a: "y", b: 2 }, rules), {
      changes: true,
      replaces: ["a"],
      stables: ["c"],
      deleteBeforeReplace: true,
    });
    assert.deepEqual(diffByRules({ a: "x", b: 1 }, { a: "x", b: 2 }, rules), {
      changes: true,
      replaces: [],
      stables: ["a", "c"],
      deleteBeforeReplace: false,
    });
    assert.deepEqual(diffByRules({ a: "x" }, { a: "x" }, rules), {
      changes: false,
      replaces: [],
      stables: ["a", "b", "c"],
      deleteBeforeReplace: false,
    });
    assert.equal(stableJson({ b: [{ d: 1, c: 2 }], a: null }), '{"a":null,"b":[{"c":2,"d":1}]}');
  });

  it("registers every schema field and the provider's outputs, and keeps the connection secret", () => {
    assert.deepEqual(registeredProps(z.object({ a: z.string(), b: z.string() }), { a: "1", extra: "x" }, ["out"]), {
      a: "1",
      b: undefined,
      out: undefined,
    });
    assert.deepEqual(withSecretConnection(undefined), { additionalSecretOutputs: ["connection"] });
    assert.deepEqual(withSecretConnection({ protect: true, additionalSecretOutputs: ["x"] }), {
      protect: true,
      additionalSecretOutputs: ["x", "connection"],
    });
  });
});
