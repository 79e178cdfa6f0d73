/** Knowledge distillation: the teachers' answers on a student's training clips (`earshot train --teacher`). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EarshotError } from '../core/errors.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { readNpy } from './npy.ts';

/** Span length below which earshot_train drops a VAD span (training/python/earshot_train/data.py MIN_SPAN_SECONDS). */
const MIN_SPAN_SECONDS = 0.5;

/**
 * The teachers' answers on the clips a student trains on, for `earshot_train --teacher`: each RAVDESS
 * clip of `featureDir` whose actor is not in `heldOut`, classified on the VAD spans the student
 * trains on (duration-weighted, as the daemon weighs a file's utterances; the network alone, no
 * adaptation), averaged over the teachers, written to `out` as {teachers, labels, clips: {name:
 * probabilities}}. The features are the ones training reads, so no clip is decoded again. A teacher
 * must not have heard `heldOut`: a fold student then learns nothing, even second-hand, from the
 * actors it is scored on. Reused when `out` exists for the same teachers and clips.
 */
export async function teacherFile(teachers: string[], featureDir: string, heldOut: string[], out: string, log: (s: string) => void): Promise<string> {
  const manifest = JSON.parse(readFileSync(join(featureDir, 'manifest.json'), 'utf8'));
  const items = (manifest.items as { name: string; corpus: string; speaker: string; speech?: [number, number][] }[]).filter((i) => i.corpus === 'ravdess' && !heldOut.includes(i.speaker));
  const minFrames = Math.round((MIN_SPAN_SECONDS * manifest.frontend.sampleRate) / manifest.frontend.hopLength);
  const sums = new Map<string, Float64Array>();
  const classifiers: EmotionClassifier[] = [];
  try {
    for (const t of teachers) classifiers.push(await EmotionClassifier.load(t));
    // the teachers' weights are in the key: a teacher trained again is asked again
    const key = JSON.stringify({ teachers: classifiers.map((c) => c.meta.onnx.sha256), featureDir: resolve(featureDir), heldOut, clips: items.length });
    if (existsSync(out) && JSON.parse(readFileSync(out, 'utf8')).key === key) return out;
    const labels = [...classifiers[0]!.labels];
    for (const [n, c] of classifiers.entries()) {
      const t = teachers[n]!;
      const heard = c.meta.training.heldOutSpeakers ?? [];
      const missing = heldOut.filter((a) => !heard.includes(`ravdess:${a}`));
      if (missing.length) throw new EarshotError('E_USAGE', `--teacher ${t}: it was trained on RAVDESS actor(s) ${missing.join(',')}, which this student is scored on; give a teacher trained without them (a fold model of the same fold)`);
      if (JSON.stringify(c.model.frontend) !== JSON.stringify(manifest.frontend)) throw new EarshotError('E_USAGE', `--teacher ${t}: its frontend differs from the student's features (${featureDir}); a teacher must hear what the student hears`);
      if (JSON.stringify(labels) !== JSON.stringify(c.labels)) throw new EarshotError('E_USAGE', `--teacher: ${t} has labels ${c.labels.join(',')}, the first teacher ${labels.join(',')}; teachers must share their labels`);
      log(`teacher ${t}: ${items.length} training clips`);
    }
    const dim = classifiers[0]!.dim;
    for (const item of items) {
      // each clip's features read once, every teacher run on its spans
      const x = (await readNpy(join(featureDir, `${item.name}.npy`))).data as Float32Array;
      const frames = x.length / dim;
      const spans = (item.speech ?? []).filter(([s, e]) => e - s >= minFrames);
      const sum = new Float64Array(labels.length);
      let total = 0;
      for (const [s, e] of spans.length ? spans : [[0, frames] as [number, number]]) {
        for (const c of classifiers) {
          const r = await c.classify(x.subarray(s * dim, e * dim), e - s);
          for (let k = 0; k < sum.length; k++) sum[k] += (e - s) * r.probabilities[k]!;
        }
        total += (e - s) * classifiers.length;
      }
      sums.set(item.name, sum.map((v) => v / total));
    }
    const clips = Object.fromEntries([...sums].map(([name, p]) => [name, Array.from(p, (v) => Number(v.toFixed(6)))]));
    writeFileSync(out, `${JSON.stringify({ key, teachers, labels, clips })}\n`);
    return out;
  } finally {
    for (const c of classifiers) await c.close();
  }
}
