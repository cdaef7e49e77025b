/**
 * `npm run audit:verify -- <export.ndjson> [--public-key key.pem]`: checks an
 * audit export made with `&proof=true` offline. Exit 0 when it verifies, 1
 * when it does not, 2 on bad usage, which includes an events-only export (made
 * without `&proof=true`): the file holds nothing to check its events against.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import cliProgress from 'cli-progress';
import { EVENTS_ONLY, verifyExport } from './export-verifier.js';

async function main(argv: string[]): Promise<number> {
  const keyFlag = argv.indexOf('--public-key');
  const file = argv.find((a, i) => !a.startsWith('--') && argv[i - 1] !== '--public-key');
  if (!file || (keyFlag >= 0 && !argv[keyFlag + 1])) {
    console.error('usage: npm run audit:verify -- <export.ndjson> [--public-key key.pem], the file exported with &proof=true');
    return 2;
  }
  const publicKeyPem = keyFlag >= 0 ? readFileSync(argv[keyFlag + 1]!, 'utf8') : undefined;
  const size = statSync(file).size;
  const bar = new cliProgress.SingleBar(
    { format: 'verifying {bar} {percentage}% | {value}/{total} MiB | {lines} lines', noTTYOutput: true, notTTYSchedule: 2000, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  bar.start(mib(size), 0, { lines: 0 });
  const stream = createReadStream(file);
  let lines = 0;
  stream.on('data', () => bar.update(mib(stream.bytesRead), { lines }));
  const reader = createInterface({ input: stream, crlfDelay: Infinity });
  const counted = (async function* () {
    for await (const line of reader) {
      lines++;
      yield line;
    }
  })();
  const report = await verifyExport(counted, { publicKeyPem });
  bar.update(mib(stream.bytesRead), { lines });
  bar.stop();
  stream.destroy();

  if (report.eventsOnly) {
    console.error(`${file}: ${EVENTS_ONLY}`);
    return 2;
  }

  console.log(`${file}: ${report.events} events, ${report.seals} seals${report.complete ? ', complete export' : ', filtered export (missing events not checked)'}`);
  if (!report.keyPinned) console.log('warning: signatures were checked against the key the file names; pass --public-key to pin it');
  if (report.ok) {
    console.log(`OK: the chain verifies${report.head ? ` up to seq ${report.head.seq}, head ${report.head.hash}` : ''}`);
    return 0;
  }
  const where = report.firstInvalid!;
  console.log(`INVALID at line ${where.line}${where.seq === null ? '' : ` (seq ${where.seq})`}: ${where.reason}`);
  return 1;
}

process.exitCode = await main(process.argv.slice(2));
