/**
 * `earshot analyze FILE... [--model NAME] [--json] [--mode utterance|window]`: classify audio
 * files with exactly the code the daemon runs. Each file is decoded and fed, in capture-sized
 * chunks (100 ms, as a capture source delivers them), through an EmotionPipeline; the per-segment
 * results are the timeline.
 *
 * The file's overall label is the duration-weighted mean of its segments' probabilities: what the
 * daemon would have heard, with silence and noise left out by the VAD (a file without speech has
 * no label). `wholeFile` beside it is the model run once on every frame of the file, silence
 * included: how papers score a clip (`earshot eval` reports both), so the two can be compared.
 *
 * With --adapt the files are taken as one speaker in one room, in the order given: a model trained
 * with normalisation "speaker" or "prosody" normalises each utterance against the baseline of the speech
 * before it (src/runtime/model/baseline.ts), and per utterance while it warms up (marked "baseline warming up" in the timeline). Without it each file starts cold.
 *
 * A file that cannot be read or decoded is reported on stderr, naming it; the other files are
 * still analysed and the exit code is 1.
 */
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { DEFAULT_VAD_KIND, VAD_KINDS, type VadKind } from '../runtime/vad/energy-vad.ts';
import { EarshotError, isEarshotError } from '../core/errors.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { analyzeFile, type FileAnalysis } from '../runtime/pipeline/analyze-file.ts';
import { SEGMENT_MODES, type PipelineConfigInput } from '../runtime/pipeline/config.ts';
import { EmotionPipeline } from '../runtime/pipeline/pipeline.ts';

const pct = (p: number) => `${(p * 100).toFixed(0).padStart(3)}%`;
const sec = (s: number) => s.toFixed(2).padStart(6);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;

export function formatAnalysis(a: FileAnalysis): string {
  const lines: string[] = [];
  const head = a.overall
    ? `${a.overall.label} ${pct(a.overall.confidence).trim()} (${a.segments.length} ${a.mode}${a.segments.length === 1 ? '' : 's'}, ${a.speechSec.toFixed(1)} s of speech in ${a.durationSec.toFixed(1)} s)`
    : `no speech detected in ${a.durationSec.toFixed(1)} s`;
  const whole = a.wholeFile ? `; whole file: ${a.wholeFile.label} ${pct(a.wholeFile.confidence).trim()}` : '';
  const affect = a.overall ? `; arousal ${signed(a.overall.arousal)}, valence ${signed(a.overall.valence)}` : '';
  lines.push(`${a.file}: ${head}${affect}${whole}`);
  for (const s of a.segments) {
    lines.push(`  ${sec(s.start)} - ${sec(s.end)} s  ${s.label.padEnd(10)} ${pct(s.confidence)}  arousal ${signed(s.arousal)} valence ${signed(s.valence)}${a.adaptive && !s.adapted ? '  (baseline warming up)' : ''}`);
  }
  if (a.segmentsDropped > 0) lines.push(`  (${a.segmentsDropped} speech segment(s) shorter than the model's minimum were skipped)`);
  return lines.join('\n');
}

interface CliOptions {
  model?: string;
  json?: boolean;
  mode: string;
  vad?: string;
  adapt?: boolean;
  uncertainBelow?: string;
  arithmetic?: string;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description(summaryOf('analyze'))
    .argument('<files...>', 'audio files')
    .option('-m, --model <name>', 'model name in models/ or path to NAME.json (default: the default model)')
    .option('--json', 'print a JSON array, one object per file')
    .option('--mode <mode>', `segments: ${SEGMENT_MODES.join(' or ')}`, 'utterance')
    .option('--vad <kind>', `voice activity detector: ${VAD_KINDS.join(', ')} (default: the daemon's, ${DEFAULT_VAD_KIND})`)
    .option('--adapt', 'one speaker and room: carry the speaker baseline across the files in order (models trained with --norm prosody or speaker)')
    .option('--uncertain-below <p>', 'label a segment "uncertain" below this confidence (0..1)')
    .option('--arithmetic <kind>', "the frontend's arithmetic, f32 or q15 (fixed point), whatever the model was trained with (default: the model's own)")
    .action(async (files: string[], opts: CliOptions) => {
      if (!(SEGMENT_MODES as readonly string[]).includes(opts.mode)) {
        throw new EarshotError('E_USAGE', `--mode ${opts.mode}: use one of ${SEGMENT_MODES.join(', ')}`);
      }
      if (opts.vad !== undefined && !(VAD_KINDS as readonly string[]).includes(opts.vad)) throw new EarshotError('E_USAGE', `--vad ${opts.vad}: use one of ${VAD_KINDS.join(', ')}`);
      if (opts.arithmetic !== undefined && opts.arithmetic !== 'f32' && opts.arithmetic !== 'q15') throw new EarshotError('E_USAGE', `--arithmetic ${opts.arithmetic}: use f32 or q15`);
      const classifier = await EmotionClassifier.load(opts.model, { arithmetic: opts.arithmetic as 'f32' | 'q15' | undefined });
      const config: PipelineConfigInput = { mode: opts.mode as 'utterance' | 'window', ...(opts.vad ? { vad: { kind: opts.vad as VadKind } } : {}), ...(opts.uncertainBelow !== undefined ? { uncertainBelow: Number(opts.uncertainBelow) } : {}) };
      const pipeline = new EmotionPipeline({ classifier, config });
      if (opts.adapt && !pipeline.baseline) {
        process.stderr.write(`earshot analyze: --adapt: model ${classifier.meta.name} normalises per ${classifier.meta.normalization.mode}, not against a speaker baseline, and has no functional head; the files are analysed as without --adapt\n`);
      }
      const done: FileAnalysis[] = [];
      let failed = 0;
      for (const file of files) {
        try {
          const a = await analyzeFile(file, pipeline, { adapt: opts.adapt });
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
