/**
 * `earshot analyze FILE... [--model NAME] [--json] [--mode utterance|window]`: classify audio
 * files with exactly the code the daemon runs. Each file is decoded and fed, in capture-sized
 * chunks (100 ms, as a capture source delivers them), through an EmotionPipeline; the per-segment
 * results are the timeline.
 *
 * The file's overall label is the duration-weighted mean of its segments' probabilities: what the
 * daemon would have heard, with silence and noise left out by the VAD (a file without speech has
 * no label). `wholeFile` beside it is the model run once on every frame of the file, silence
 * included: the input `earshot eval` scores, so the two can be compared.
 *
 * A file that cannot be read or decoded is reported on stderr, naming it; the other files are
 * still analysed and the exit code is 1.
 */
import type { Command } from 'commander';
import { decodeAudioFile } from '../audio/decode.ts';
import { EarshotError, isEarshotError } from '../errors.ts';
import { frameCount } from '../frontend/config.ts';
import { Frontend } from '../frontend/frontend.ts';
import { resample } from '../frontend/resampler.ts';
import { EmotionClassifier } from '../model/session.ts';
import { SEGMENT_MODES, type PipelineConfigInput } from '../pipeline/config.ts';
import { EmotionPipeline } from '../pipeline/pipeline.ts';
import type { PipelineResult } from '../pipeline/types.ts';

export interface AnalyzedSegment {
  kind: 'utterance' | 'window';
  /** seconds from the start of the file */
  start: number;
  end: number;
  label: string;
  confidence: number;
  probabilities: Record<string, number>;
}

export interface LabelScore {
  label: string;
  confidence: number;
  probabilities: Record<string, number>;
}

export interface FileAnalysis {
  file: string;
  model: string;
  mode: 'utterance' | 'window';
  durationSec: number;
  sampleRate: number;
  /** seconds covered by classified segments */
  speechSec: number;
  /** duration-weighted mean over the segments; null when the file has no speech */
  overall: LabelScore | null;
  /** the model on the whole file at once (as `earshot eval` scores it); null if shorter than one frame */
  wholeFile: LabelScore | null;
  segments: AnalyzedSegment[];
  /** segments shorter than the model's minimum, skipped */
  segmentsDropped: number;
}

export interface AnalyzeOptions {
  /** samples per chunk fed to the pipeline; default sampleRate / 10 (what capture sources deliver) */
  chunkSamples?: number;
}

/** Runs one file through `pipeline` (reset first) and collects its timeline. */
export async function analyzeFile(path: string, pipeline: EmotionPipeline, opts: AnalyzeOptions = {}): Promise<FileAnalysis> {
  const audio = await decodeAudioFile(path);
  const segments: AnalyzedSegment[] = [];
  const onResult = (r: PipelineResult) => {
    segments.push({ kind: r.kind, start: r.startSec, end: r.endSec, label: r.label, confidence: r.confidence, probabilities: r.probabilities });
  };
  const droppedBefore = pipeline.stats().segmentsDropped;
  const lostBefore = pipeline.stats().droppedInferences;
  pipeline.reset();
  pipeline.on('result', onResult);
  try {
    const chunk = opts.chunkSamples ?? Math.max(1, Math.round(audio.sampleRate / 10));
    for (let i = 0; i < audio.samples.length; i += chunk) {
      pipeline.push({ samples: audio.samples.subarray(i, i + chunk), sampleRate: audio.sampleRate, time: i / audio.sampleRate });
      // back-pressure instead of dropping: a file can wait for the model, a microphone cannot
      if (pipeline.busy) await pipeline.drain();
    }
    await pipeline.end();
  } finally {
    pipeline.off('result', onResult);
  }
  const stats = pipeline.stats();
  if (stats.droppedInferences !== lostBefore) throw new Error(`analyze: ${stats.droppedInferences - lostBefore} segments of ${path} were dropped despite back-pressure`);
  return {
    file: path,
    model: pipeline.modelName,
    mode: pipeline.config.mode,
    durationSec: audio.durationSec,
    sampleRate: audio.sampleRate,
    speechSec: segments.reduce((a, s) => a + (s.end - s.start), 0),
    overall: weightedMean(segments, pipeline.labels),
    wholeFile: await classifyWholeFile(audio.samples, audio.sampleRate, pipeline.classifier),
    segments,
    segmentsDropped: stats.segmentsDropped - droppedBefore,
  };
}

function weightedMean(segments: AnalyzedSegment[], labels: readonly string[]): LabelScore | null {
  if (segments.length === 0) return null;
  const sum = new Float64Array(labels.length);
  let total = 0;
  for (const s of segments) {
    const w = s.end - s.start;
    total += w;
    labels.forEach((l, k) => (sum[k] += w * s.probabilities[l]));
  }
  return best(labels, sum.map((v) => v / total));
}

function best(labels: readonly string[], p: ArrayLike<number>): LabelScore {
  let k = 0;
  for (let j = 1; j < labels.length; j++) if (p[j] > p[k]) k = j;
  const probabilities: Record<string, number> = {};
  labels.forEach((l, j) => (probabilities[l] = p[j]));
  return { label: labels[k], confidence: p[k], probabilities };
}

async function classifyWholeFile(samples: Float32Array, rate: number, classifier: EmotionClassifier): Promise<LabelScore | null> {
  const config = classifier.model.frontend;
  const x = rate === config.sampleRate ? samples : resample(samples, rate, config.sampleRate);
  if (frameCount(config, x.length) === 0) return null;
  const frontend = wholeFileFrontends.get(classifier) ?? new Frontend(config);
  wholeFileFrontends.set(classifier, frontend);
  const features = frontend.computeAll(x);
  const c = await classifier.classify(features, features.length / frontend.dim);
  return best(classifier.labels, c.probabilities);
}
const wholeFileFrontends = new WeakMap<EmotionClassifier, Frontend>();

const pct = (p: number) => `${(p * 100).toFixed(0).padStart(3)}%`;
const sec = (s: number) => s.toFixed(2).padStart(6);

export function formatAnalysis(a: FileAnalysis): string {
  const lines: string[] = [];
  const head = a.overall
    ? `${a.overall.label} ${pct(a.overall.confidence).trim()} (${a.segments.length} ${a.mode}${a.segments.length === 1 ? '' : 's'}, ${a.speechSec.toFixed(1)} s of speech in ${a.durationSec.toFixed(1)} s)`
    : `no speech detected in ${a.durationSec.toFixed(1)} s`;
  const whole = a.wholeFile ? `; whole file: ${a.wholeFile.label} ${pct(a.wholeFile.confidence).trim()}` : '';
  lines.push(`${a.file}: ${head}${whole}`);
  for (const s of a.segments) lines.push(`  ${sec(s.start)} - ${sec(s.end)} s  ${s.label.padEnd(10)} ${pct(s.confidence)}`);
  if (a.segmentsDropped > 0) lines.push(`  (${a.segmentsDropped} speech segment(s) shorter than the model's minimum were skipped)`);
  return lines.join('\n');
}

interface CliOptions {
  model?: string;
  json?: boolean;
  mode: string;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('classify the emotion in audio files (WAV, FLAC, AIFF): overall label and a timeline of utterances')
    .argument('<files...>', 'audio files')
    .option('-m, --model <name>', 'model name in models/ or path to NAME.json (default: the default model)')
    .option('--json', 'print a JSON array, one object per file')
    .option('--mode <mode>', `segments: ${SEGMENT_MODES.join(' or ')}`, 'utterance')
    .action(async (files: string[], opts: CliOptions) => {
      if (!(SEGMENT_MODES as readonly string[]).includes(opts.mode)) {
        throw new EarshotError('E_CONFIG', `--mode ${opts.mode}: use one of ${SEGMENT_MODES.join(', ')}`);
      }
      const classifier = await EmotionClassifier.load(opts.model);
      const config: PipelineConfigInput = { mode: opts.mode as 'utterance' | 'window' };
      const pipeline = new EmotionPipeline({ classifier, config });
      const done: FileAnalysis[] = [];
      let failed = 0;
      for (const file of files) {
        try {
          const a = await analyzeFile(file, pipeline);
          done.push(a);
          if (!opts.json) process.stdout.write(`${formatAnalysis(a)}\n`);
        } catch (e) {
          if (!isEarshotError(e)) throw e;
          failed++;
          // decode errors already start with the path; others get it in front
          process.stderr.write(`earshot analyze: ${e.message.includes(file) ? e.message : `${file}: ${e.message}`}\n`);
        }
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
      await classifier.close();
      if (failed > 0) {
        process.stderr.write(`earshot analyze: ${failed} of ${files.length} file(s) could not be analysed\n`);
        process.exitCode = 1;
      }
    });
}
