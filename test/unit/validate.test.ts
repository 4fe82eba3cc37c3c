import { strict as assert } from "node:assert";
import { z } from "zod";
import { containsUnknown, describeIssues, interfaceName, ipAddress, labelValue, subnet, UNKNOWN } from "../../provider/validate";

describe("validate: shared pieces and how issues read", () => {
  it("names a bad map key on the map, with the key", () => {
    const parsed = z.object({ m: z.record(z.string().regex(/^a/, "must start with a"), z.string()) }).safeParse({ m: { bad: "1" } });
    assert.equal(parsed.success, false);
    if (parsed.success) return;
    assert.deepEqual(describeIssues(parsed.error.issues, {}, []), [{ property: "m", reason: 'm: key "bad" must start with a' }]);
  });

  it("shows scalar values, never objects, and shortens long ones", () => {
    const issue = (path: (string | number)[]) =>
      ({ code: "custom", path, message: "is bad", input: undefined }) as unknown as z.core.$ZodIssue;
    const input = { s: "x".repeat(200), o: { secret: "k" }, n: null, list: ["a"] };
    const [long, obj, nul, missing, item, root] = describeIssues(
      [issue(["s"]), issue(["o"]), issue(["n"]), issue(["z"]), issue(["list", 0]), issue([])],
      input,
      [],
    );
    assert.equal(long.reason, `s: is bad (got "${"x".repeat(64)}"… (200 chars))`);
    assert.equal(obj.reason, "o: is bad");
    assert.equal(nul.reason, "n: is bad (got null)");
    assert.equal(missing.reason, "z: is bad (got nothing)");
    assert.deepEqual(item, { property: "list.0", reason: 'list.0: is bad (got "a")' });
    assert.deepEqual(root, { property: "", reason: "(inputs): is bad" });
    const [nested] = describeIssues([issue(["connection", "privateKey", "x"])], { connection: { privateKey: "k" } }, [
      "connection.privateKey",
    ]);
    assert.equal(nested.reason, "connection.privateKey.x: is bad (value hidden: secret)");
  });

  it("finds unknowns at any depth", () => {
    assert.equal(containsUnknown(UNKNOWN), true);
    assert.equal(containsUnknown([1, [UNKNOWN]]), true);
    assert.equal(containsUnknown({ a: { b: UNKNOWN } }), true);
    assert.equal(containsUnknown({ a: [1, "x", null] }), false);
    assert.equal(containsUnknown(null), false);
  });

  it("canonicalises addresses and subnets, and says why one is refused", () => {
    assert.equal(ipAddress(6).parse(" FD18::0:1 "), "fd18::1");
    assert.equal(ipAddress(4).safeParse("fd18::1").success, false);
    assert.equal(subnet(6).parse("FD18:0::/64"), "fd18::/64");
    const hostBits = subnet(4).safeParse("198.51.100.7/24");
    assert.equal(hostBits.success ? "" : hostBits.error.issues[0].message, "has host bits set; the subnet is 198.51.100.0/24");
    assert.equal(interfaceName.safeParse("a".repeat(15)).success, true);
    assert.equal(interfaceName.safeParse("é".repeat(8)).success, false, "15 bytes, not 15 characters");
    assert.equal(interfaceName.safeParse(".").success, false);
    assert.equal(labelValue.safeParse("tab\there").success, false);
    assert.equal(labelValue.safeParse("plain text, ünïcode").success, true);
  });
});
