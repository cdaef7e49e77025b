/**
 * `npm run policy:test [dir] [--bundle file]`: runs the cases in dir
 * (default policies/tests) against a bundle (default policies/default.yaml).
 * Admins run it on their own bundle before uploading it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadBundle, PolicyInvalidError } from './bundle.js';
import { loadCases, runPolicyTests } from './policy-tests.js';

function main(argv: string[]): number {
  const bundleFlag = argv.indexOf('--bundle');
  const bundleFile = path.resolve(bundleFlag >= 0 ? argv[bundleFlag + 1]! : 'policies/default.yaml');
  const dir = path.resolve(argv.find((a, i) => !a.startsWith('--') && argv[i - 1] !== '--bundle') ?? 'policies/tests');

  let bundle;
  try {
    bundle = loadBundle(readFileSync(bundleFile, 'utf8')).bundle;
  } catch (error) {
    if (!(error instanceof PolicyInvalidError)) throw error;
    console.error(`${path.relative(process.cwd(), bundleFile)} is invalid:`);
    for (const p of error.problems) console.error(`  line ${p.line ?? '?'}: ${p.path}: ${p.message}`);
    return 1;
  }
  const report = runPolicyTests(bundle, loadCases(dir));
  console.log(`policy tests: ${path.relative(process.cwd(), dir)} against ${path.relative(process.cwd(), bundleFile)}`);
  for (const r of report.results) console.log(`  ${r.ok ? '✓' : '✗'} ${r.file}: ${r.name}${r.ok ? '' : ` — ${r.detail}`}`);
  if (report.uncovered.length) console.log(`\n  rules without both an allow and a deny case: ${report.uncovered.join(', ')}`);
  const failed = report.results.filter((r) => !r.ok).length;
  console.log(`\n${report.results.length - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
