/** Resolves once `probe` succeeds, or rejects after `ms` with its last failure (no fixed sleeps in tests). */
export async function eventually(probe: () => Promise<unknown>, ms: number, pollMs = 200): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await probe();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}

/**
 * Resolves once `check` has held on every round for `ms`; rejects with its failure as soon as
 * one round fails (for "stays so", where eventually waits for "becomes so").
 */
export async function throughout(check: () => Promise<unknown> | unknown, ms: number, pollMs = 200): Promise<void> {
  const until = Date.now() + ms;
  let broken: { err: unknown } | undefined;
  await eventually(
    async () => {
      try {
        await check();
      } catch (err) {
        broken ??= { err };
      }
      if (!broken && Date.now() < until) throw new Error("still watching");
    },
    ms + 60_000,
    pollMs,
  );
  if (broken) throw broken.err;
}
