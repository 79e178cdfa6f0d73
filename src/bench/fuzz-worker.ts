/**
 * The fuzzer's worker (./fuzz.ts): takes one mutated file at a time, decodes it whole
 * (decodeAudioBuffer) and analyses it as `earshot analyze` does (analyzeFile, which reads WAV/AIFF
 * in pieces), and answers `ok`, a coded EarshotError, or an exception (anything else: a bug).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { isEarshotError } from '../core/errors.ts';
import { decodeAudioBuffer } from '../runtime/audio/decode.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { analyzeFile } from '../runtime/pipeline/analyze-file.ts';
import { EmotionPipeline } from '../runtime/pipeline/pipeline.ts';
import { parsePipelineConfig } from '../runtime/pipeline/config.ts';

export interface FuzzRequest {
  n: number;
  ext: string;
  bytes: Uint8Array;
}
export type FuzzReply = { n: number; outcome: 'ok' } | { n: number; outcome: 'coded'; code: string } | { n: number; outcome: 'exception'; message: string };

const { model, dir } = workerData as { model: string; dir: string };
const classifier = await EmotionClassifier.load(model);
const pipeline = new EmotionPipeline({ classifier, config: parsePipelineConfig({ vad: { kind: 'energy' } }) });

parentPort!.on('message', async (req: FuzzRequest) => {
  let reply: FuzzReply;
  try {
    const bytes = new Uint8Array(req.bytes);
    await decodeAudioBuffer(bytes, `input-${req.n}`).catch((e: unknown) => {
      if (!isEarshotError(e)) throw e;
    });
    const path = join(dir, `input.${req.ext}`);
    writeFileSync(path, bytes);
    await analyzeFile(path, pipeline);
    reply = { n: req.n, outcome: 'ok' };
  } catch (e) {
    reply = isEarshotError(e) ? { n: req.n, outcome: 'coded', code: e.code } : { n: req.n, outcome: 'exception', message: (e as Error)?.stack ?? String(e) };
  }
  parentPort!.postMessage(reply);
});
parentPort!.postMessage({ ready: true });
