/**
 * `earshot analyze FILE|DIR... [--model NAME] [--json] [--timeline] [--verdict utterances|whole-file]`:
 * classify audio files with exactly the code the daemon runs. Each file is decoded and fed, in
 * capture-sized chunks (100 ms, as a capture source delivers them), through an EmotionPipeline; the
 * per-segment results are the timeline (printed with --timeline). A folder is walked for audio
 * files (.wav, .flac, .aif, .aiff, in sorted path order); more than one file ends with a summary.
 *
 * One verdict per file. By default it is the utterance-level overall: the duration-weighted mean of
 * the segments' probabilities, what the daemon would have heard with silence and noise left out by
 * the VAD. `--verdict whole-file` gives instead the model run once on every frame of the file,
 * silence included, which is how papers score a clip (`earshot eval` reports both). Either way a
 * file in which the VAD finds no speech is "no speech": a tone gets no emotion. --json carries both
 * scores and the timeline.
 *
 * With --adapt the files are taken as one speaker in one room, in the order given: a model trained
 * with normalisation "speaker" or "prosody" normalises each utterance against the baseline of the speech
 * before it (src/runtime/model/baseline.ts), and per utterance while it warms up. Without it each file starts cold.
 * How many utterances were judged warming up is said once, at the end (and marked `*` in the timeline).
 *
 * `--crowd suppress|mark|off` runs the crowd detector (models/earshot-crowd) as pipeline.crowd does
 * in the daemon, and defaults to the daemon's default (mark), so a file gives what the daemon would
 * publish: marked utterances say `crowd` in the timeline (`crowd: true` in --json) and, like the
 * daemon, stay out of the speaker baseline; held-back ones (suppress) are counted, not listed. Mark
 * leaves every label and probability as it was. A model whose frontend the detector was not trained
 * on is analysed unmarked under mark (a warning) and refused under suppress.
 *
 * A file that cannot be read or decoded is reported on stderr, naming it; the other files are
 * still analysed and the exit code is 1.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { summaryOf } from './index.ts';
import { DEFAULT_VAD_KIND, VAD_KINDS, type VadKind } from '../runtime/vad/config.ts';
import { EarshotError, isEarshotError } from '../core/errors.ts';
import { EmotionClassifier } from '../runtime/model/session.ts';
import { analyzeFile, type FileAnalysis, type LabelScore } from '../runtime/pipeline/analyze-file.ts';
import { CROWD_MODES, parseCrowdFlag, parsePipelineConfig, PIPELINE_DEFAULTS, SEGMENT_MODES, type PipelineConfigInput } from '../runtime/pipeline/config.ts';
import { openCrowdDetector } from '../runtime/model/crowd.ts';
import { EmotionPipeline } from '../runtime/pipeline/pipeline.ts';

const pct = (p: number) => `${(p * 100).toFixed(0).padStart(3)}%`;
const sec = (s: number) => s.toFixed(2).padStart(6);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;

/** Which score is a file's verdict: the utterance-level overall (the daemon's view) or the whole-file pass. */
export const VERDICTS = ['utterances', 'whole-file'] as const;
export type Verdict = (typeof VERDICTS)[number];

/**
 * The one answer for a file, and what it is. No speech stays no speech (null), whatever `verdict`
 * asks for; a whole-file score that was not computed (a file longer than WHOLE_FILE_MAX_SEC) falls
 * back to the utterances, and says so by its `source`.
 */
export function verdictOf(a: FileAnalysis, verdict: Verdict): { score: LabelScore; source: Verdict } | null {
  if (!a.overall) return null;
  if (verdict === 'whole-file' && a.wholeFile) return { score: a.wholeFile, source: 'whole-file' };
  return { score: a.overall, source: 'utterances' };
}

export interface FormatOptions {
  verdict?: Verdict;
  /** one line per segment under the file's line */
  timeline?: boolean;
}

/** One line per file (its verdict, saying which), then with `timeline` a line per segment; warm-up segments end in ` *`. */
export function formatAnalysis(a: FileAnalysis, opts: FormatOptions = {}): string {
  const v = verdictOf(a, opts.verdict ?? 'utterances');
  const n = a.segments.length;
  const segs = `${n} ${a.mode}${n === 1 ? '' : 's'}`;
  let head: string;
  if (!v && a.crowd?.suppressed) {
    head = `no verdict: ${a.crowd.suppressed} utterance(s) with no dominant talker held back (--crowd suppress) in ${a.durationSec.toFixed(1)} s`;
  } else if (!v) {
    head = `no speech detected in ${a.durationSec.toFixed(1)} s${a.segmentsDropped > 0 ? ` (${a.segmentsDropped} speech segment(s) shorter than the model's minimum)` : ''}`;
  } else {
    const { score } = v;
    const what = v.source === 'utterances'
      ? `over ${segs} (${a.speechSec.toFixed(1)} s of speech in ${a.durationSec.toFixed(1)} s)`
      : `on the whole file (${a.durationSec.toFixed(1)} s, ${a.speechSec.toFixed(1)} s of it speech in ${segs})`;
    const held = a.crowd?.suppressed ? `; ${a.crowd.suppressed} crowd utterance(s) held back` : '';
    head = `${score.label} ${pct(score.confidence).trim()} ${what}; arousal ${signed(score.arousal)}, valence ${signed(score.valence)}${held}`;
  }
  const lines = [`${a.file}: ${head}`];
  if (opts.timeline) {
    for (const s of a.segments) {
      lines.push(`  ${sec(s.start)} - ${sec(s.end)} s  ${s.label.padEnd(10)} ${pct(s.confidence)}  arousal ${signed(s.arousal)} valence ${signed(s.valence)}${s.crowd ? '  crowd' : ''}${a.adaptive && !s.adapted ? ' *' : ''}`);
    }
    if (v && a.segmentsDropped > 0) lines.push(`  (${a.segmentsDropped} speech segment(s) shorter than the model's minimum were skipped)`);
  }
  return lines.join('\n');
}

/** Counts for the closing summary of a run of several files. */
export class AnalyzeSummary {
  files = 0;
  noSpeech = 0;
  /** files without a verdict because every utterance was held back (--crowd suppress) */
  crowdOnly = 0;
  failed = 0;
  /** utterances judged before the speaker baseline was warm, and all utterances, of adaptive models */
  warmingUp = 0;
  adaptiveSegments = 0;
  readonly perLabel = new Map<string, number>();

  add(a: FileAnalysis, verdict: Verdict): void {
    this.files++;
    const v = verdictOf(a, verdict);
    if (v) this.perLabel.set(v.score.label, (this.perLabel.get(v.score.label) ?? 0) + 1);
    else if (a.crowd?.suppressed) this.crowdOnly++;
    else this.noSpeech++;
    if (a.adaptive) {
      this.adaptiveSegments += a.segments.length;
      this.warmingUp += a.segments.filter((s) => !s.adapted).length;
    }
  }

  /** "summary: 600 files: 120 angry, 80 sad, ...; 3 no speech; 1 failed" (labels by count, then name) */
  line(): string {
    const labels = [...this.perLabel].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([l, k]) => `${k} ${l}`);
    const total = this.files + this.failed;
    const crowd = this.crowdOnly > 0 ? [`${this.crowdOnly} only crowd (held back)`] : [];
    return `summary: ${total} file${total === 1 ? '' : 's'}: ${[labels.join(', ') || 'no verdicts', `${this.noSpeech} no speech`, ...crowd, `${this.failed} failed`].join('; ')}`;
  }

  /** Said once per run instead of on every line: how many utterances were judged while the baseline warmed up. */
  warmUpNote(adapt: boolean): string | null {
    if (this.warmingUp === 0) return null;
    return `* baseline warming up: ${this.warmingUp} of ${this.adaptiveSegments} utterance(s) judged before the speaker baseline was warm (normalised on their own)${adapt ? '' : '; --adapt carries the baseline across files of one speaker'}`;
  }
}

/** Audio files analyze picks up in a folder (by extension, any case). */
export const AUDIO_EXTENSIONS = ['.wav', '.flac', '.aif', '.aiff'] as const;

/**
 * The files to analyse, in order: files as given; each folder walked (sub-folders too) for audio
 * files, sorted by path. A folder linked into itself is walked once. A folder without audio files
 * is an error of its own (E_AUDIO_IO), reported like an unreadable file.
 */
export function expandInputs(inputs: string[]): { files: string[]; errors: EarshotError[] } {
  const files: string[] = [];
  const errors: EarshotError[] = [];
  for (const input of inputs) {
    let isDir: boolean;
    try {
      isDir = statSync(input).isDirectory();
    } catch {
      files.push(input); // the decoder names a missing file
      continue;
    }
    if (!isDir) {
      files.push(input);
      continue;
    }
    const found: string[] = [];
    const seen = new Set<string>();
    const walk = (dir: string) => {
      const real = realpathSync(dir);
      if (seen.has(real)) return;
      seen.add(real);
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        let st;
        try {
          st = statSync(path);
        } catch {
          continue; // a dangling link
        }
        if (st.isDirectory()) walk(path);
        else if (st.isFile() && AUDIO_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e))) found.push(path);
      }
    };
    try {
      walk(input);
    } catch (e) {
      errors.push(new EarshotError('E_AUDIO_IO', `${input}: the folder cannot be read (${(e as Error).message})`, { cause: e }));
      continue;
    }
    if (found.length === 0) errors.push(new EarshotError('E_AUDIO_IO', `${input}: no audio files (${AUDIO_EXTENSIONS.join(', ')}) in this folder or below`));
    files.push(...found.sort());
  }
  return { files, errors };
}

interface CliOptions {
  model?: string;
  json?: boolean;
  timeline?: boolean;
  verdict: string;
  mode: string;
  vad?: string;
  adapt?: boolean;
  uncertainBelow?: string;
  arithmetic?: string;
  crowd: string;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description(summaryOf('analyze'))
    .argument('<files...>', `audio files, or folders to walk for them (${AUDIO_EXTENSIONS.join(', ')})`)
    .option('-m, --model <name>', 'model name in models/ or path to NAME.json (default: the default model)')
    .option('--json', 'print a JSON array, one object per file (both scores and the timeline)')
    .option('--timeline', 'under each file, a line per utterance (or window)')
    .option('--verdict <kind>', `each file's verdict: utterances (the duration-weighted mean of the utterances the daemon would classify) or whole-file (the model on the whole file, silence included)`, 'utterances')
    .option('--mode <mode>', `segments: ${SEGMENT_MODES.join(' or ')}`, 'utterance')
    .option('--vad <kind>', `voice activity detector: ${VAD_KINDS.join(', ')} (default: the daemon's, ${DEFAULT_VAD_KIND})`)
    .option('--adapt', 'one speaker and room: carry the speaker baseline across the files in order (models trained with --norm prosody or speaker)')
    .option('--uncertain-below <p>', 'label a segment "uncertain" below this confidence (0..1)')
    .option('--arithmetic <kind>', "the frontend's arithmetic, f32 or q15 (fixed point), whatever the model was trained with (default: the model's own)")
    .option('--crowd <mode>', `the crowd detector (models/earshot-crowd), as the daemon's pipeline.crowd: suppress (no answer for utterances with no dominant talker), mark (flag them) or off`, PIPELINE_DEFAULTS.crowd)
    .action(async (inputs: string[], opts: CliOptions) => {
      if (!(SEGMENT_MODES as readonly string[]).includes(opts.mode)) {
        throw new EarshotError('E_USAGE', `--mode ${opts.mode}: use one of ${SEGMENT_MODES.join(', ')}`);
      }
      if (!(VERDICTS as readonly string[]).includes(opts.verdict)) throw new EarshotError('E_USAGE', `--verdict ${opts.verdict}: use one of ${VERDICTS.join(', ')}`);
      if (opts.vad !== undefined && !(VAD_KINDS as readonly string[]).includes(opts.vad)) throw new EarshotError('E_USAGE', `--vad ${opts.vad}: use one of ${VAD_KINDS.join(', ')}`);
      if (opts.arithmetic !== undefined && opts.arithmetic !== 'f32' && opts.arithmetic !== 'q15') throw new EarshotError('E_USAGE', `--arithmetic ${opts.arithmetic}: use f32 or q15`);
      const crowdMode = parseCrowdFlag(opts.crowd, CROWD_MODES);
      const classifier = await EmotionClassifier.load(opts.model, { arithmetic: opts.arithmetic as 'f32' | 'q15' | undefined });
      const config: PipelineConfigInput = { mode: opts.mode as 'utterance' | 'window', crowd: crowdMode, ...(opts.vad ? { vad: { kind: opts.vad as VadKind } } : {}), ...(opts.uncertainBelow !== undefined ? { uncertainBelow: Number(opts.uncertainBelow) } : {}) };
      const parsed = parsePipelineConfig(config, 'analyze options');
      let crowd;
      try {
        crowd = await openCrowdDetector(crowdMode, classifier.model.frontend, classifier.meta.name, (m) => process.stderr.write(`earshot analyze: --crowd ${crowdMode}: ${m}\n`));
      } catch (e) {
        await classifier.close();
        throw e;
      }
      try {
        await analyzeAll(inputs, opts, new EmotionPipeline({ classifier, crowd, config: parsed }));
      } finally {
        // the sessions, whatever the files ended with
        await crowd?.close();
        await classifier.close();
      }
    });
}

/** Analyses every input with `pipeline`, printing as it goes; sets the exit code when some could not be read. */
async function analyzeAll(inputs: string[], opts: CliOptions, pipeline: EmotionPipeline): Promise<void> {
  const verdict = opts.verdict as Verdict;
  if (opts.adapt && !pipeline.baseline) {
    const meta = pipeline.classifier.meta;
    process.stderr.write(`earshot analyze: --adapt: model ${meta.name} normalises per ${meta.normalization.mode}, not against a speaker baseline, and has no functional head; the files are analysed as without --adapt\n`);
  }
  const { files, errors } = expandInputs(inputs);
  const done: FileAnalysis[] = [];
  const summary = new AnalyzeSummary();
  const fail = (e: EarshotError, file?: string) => {
    summary.failed++;
    // decode errors already start with the path; others get it in front
    process.stderr.write(`earshot analyze: ${!file || e.message.includes(file) ? e.message : `${file}: ${e.message}`}\n`);
  };
  for (const e of errors) fail(e);
  // the whole-file pass only where it is printed: --json, or as the verdict
  const wholeFile = opts.json === true || verdict === 'whole-file';
  for (const file of files) {
    try {
      const a = await analyzeFile(file, pipeline, { adapt: opts.adapt, wholeFile });
      summary.add(a, verdict);
      if (opts.json) done.push(a);
      else process.stdout.write(`${formatAnalysis(a, { verdict, timeline: opts.timeline })}\n`);
    } catch (e) {
      if (!isEarshotError(e)) throw e;
      fail(e, file);
    }
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
  else {
    const note = summary.warmUpNote(opts.adapt === true);
    if (note) process.stdout.write(`${note}\n`);
    if (files.length + errors.length > 1) process.stdout.write(`${summary.line()}\n`);
  }
  if (summary.failed > 0) {
    process.stderr.write(`earshot analyze: ${summary.failed} of ${files.length + errors.length} input(s) could not be analysed\n`);
    process.exitCode = 1;
  }
}
