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
