/**
 * Entry of the processes benchDaemon() spawns: runs one measureDaemon() with the request in
 * argv[2] and prints the result as one JSON line on stdout.
 */
import { measureDaemon, type MeasureRequest } from './daemon.ts';

const req = JSON.parse(process.argv[2] ?? '{}') as MeasureRequest;
const result = await measureDaemon(req);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
