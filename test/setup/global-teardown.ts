/** Undoes what the global setup did (it left the how in this process's globals). */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __vitrineTestTeardown?: () => Promise<void> }).__vitrineTestTeardown?.();
}
