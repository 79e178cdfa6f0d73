/**
 * The crowd detector (issue 32): one score per utterance, from the frontend frames the pipeline
 * already holds for the emotion model. At or above the metadata's threshold one dominant talker is
 * present; below it the utterance is babble or a crowd with no one near (pipeline.crowd decides
 * what happens then). Trained by training/python/earshot_train/crowd.py on mixtures of every corpus
 * (docs/experiments/2026-12-07-crowds-and-cost.md); the graph itself takes ln of the rms column,
 * standardises and removes the utterance's mean log-mel level, so it is handed raw frames.
 *
 * A GRU of 32 units: one run per utterance costs well under a millisecond here; one small tensor
 * wrapper per utterance, nothing per frame.
 */
import '../../core/ort-env.ts'; // first: ONNX Runtime's telemetry off before the library loads
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { EarshotError } from '../../core/errors.ts';
import { MODELS_DIR } from '../../core/paths.ts';
import { formatIssues } from '../../core/schema.ts';
import { featureCount, parseFrontendConfig, type FrontendConfig } from '../frontend/config.ts';
import { sha256 } from './metadata.ts';

/** The shipped detector: models/earshot-crowd.json + .onnx. */
export const CROWD_MODEL_PATH = join(MODELS_DIR, 'earshot-crowd.json');

const crowdMetadataSchema = z.object({
  name: z.string().min(1),
  frontend: z.unknown(),
  input: z.object({ name: z.string().min(1) }),
  output: z.object({ name: z.string().min(1) }),
  threshold: z.number().finite(),
  onnx: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
});

const HOW_TO_FIX = 'restore models/earshot-crowd.{json,onnx} from the release, retrain them (training/python: python3 -m earshot_train.crowd), or set pipeline.crowd: off';

/** What the pipeline needs of a crowd detector (tests pass their own). */
export interface CrowdScorer {
  /** ≥ threshold: a dominant talker is present */
  readonly threshold: number;
  score(features: Float32Array, frames: number): Promise<number>;
}

export class CrowdDetector implements CrowdScorer {
  private constructor(
    readonly name: string,
    readonly threshold: number,
    readonly frontend: FrontendConfig,
    readonly dim: number,
    private readonly session: ort.InferenceSession,
    private readonly inputName: string,
    private readonly outputName: string,
  ) {}

  /** Loads NAME.json and the NAME.onnx beside it; E_MODEL (exit 66) naming the file when either is missing, corrupt or unusable. */
  static async load(jsonPath = CROWD_MODEL_PATH): Promise<CrowdDetector> {
    const onnxPath = jsonPath.replace(/\.json$/, '.onnx');
    for (const p of [jsonPath, onnxPath]) if (!existsSync(p)) throw new EarshotError('E_MODEL', `crowd detector: ${p} is missing (pipeline.crowd needs it); ${HOW_TO_FIX}`);
    let meta: z.output<typeof crowdMetadataSchema>;
    let frontend: FrontendConfig;
    try {
      const r = crowdMetadataSchema.safeParse(JSON.parse(readFileSync(jsonPath, 'utf8')));
      if (!r.success) throw new Error(formatIssues(r.error.issues).join('; '));
      meta = r.data;
      frontend = parseFrontendConfig(meta.frontend, `frontend of ${jsonPath}`);
    } catch (e) {
      throw new EarshotError('E_MODEL', `crowd detector: invalid metadata ${jsonPath}: ${(e as Error).message}; ${HOW_TO_FIX}`, { cause: e });
    }
    const bytes = new Uint8Array(readFileSync(onnxPath));
    if (sha256(bytes) !== meta.onnx.sha256) throw new EarshotError('E_MODEL', `crowd detector: ${onnxPath} does not match the sha256 in ${jsonPath}: the file is corrupt or from another export; ${HOW_TO_FIX}`);
    let session: ort.InferenceSession;
    try {
      // the emotion session's options (src/runtime/model/session.ts): one thread, no arena, no memory pattern
      session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableCpuMemArena: false, enableMemPattern: false, executionMode: 'sequential' });
    } catch (e) {
      throw new EarshotError('E_MODEL', `crowd detector: onnxruntime cannot open ${onnxPath}: ${(e as Error).message}; ${HOW_TO_FIX}`, { cause: e });
    }
    if (!session.inputNames.includes(meta.input.name) || !session.outputNames.includes(meta.output.name)) {
      await session.release();
      throw new EarshotError('E_MODEL', `crowd detector: ${onnxPath} has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}], not "${meta.input.name}" -> "${meta.output.name}" as ${jsonPath} says; ${HOW_TO_FIX}`);
    }
    return new CrowdDetector(meta.name, meta.threshold, frontend, featureCount(frontend), session, meta.input.name, meta.output.name);
  }

  /**
   * Refuses an emotion model whose frontend differs from the one the detector was trained on (the
   * arithmetic may differ: Q15 features follow the f32 ones closely), since it scores those frames.
   */
  checkFrontend(other: FrontendConfig, modelName: string): void {
    const strip = ({ arithmetic: _a, ...rest }: FrontendConfig) => JSON.stringify(rest, Object.keys(rest).sort());
    if (strip(other) !== strip(this.frontend)) {
      throw new EarshotError('E_CONFIG', `pipeline.crowd: the crowd detector ${this.name} was trained on another frontend than model ${modelName}'s; use a model with the default frontend (40 log-mels, rms, zcr, f0, voicing) or set pipeline.crowd: off`);
    }
  }

  /** The utterance's score (mean frame logit); `features` is frames*dim raw frontend output. */
  async score(features: Float32Array, frames: number): Promise<number> {
    const x = new ort.Tensor('float32', features.subarray(0, frames * this.dim), [1, frames, this.dim]);
    const out = await this.session.run({ [this.inputName]: x });
    return (out[this.outputName].data as Float32Array)[0];
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The detector for pipeline.crowd `mode` and an emotion model's frontend, as the daemon opens it:
 * null for "off"; a missing or corrupt file is an error either way (E_MODEL). A model with another
 * frontend than the detector's is an error for "suppress" (utterances would be published that the
 * user asked to hold back) and a warning for "mark" (events go out unmarked, as without the detector).
 */
export async function openCrowdDetector(mode: 'suppress' | 'mark' | 'off', frontend: FrontendConfig, modelName: string, warn: (msg: string) => void, jsonPath = CROWD_MODEL_PATH): Promise<CrowdDetector | null> {
  if (mode === 'off') return null;
  const d = await CrowdDetector.load(jsonPath);
  try {
    d.checkFrontend(frontend, modelName);
  } catch (e) {
    await d.close();
    if (mode === 'suppress') throw e;
    warn(`${(e as Error).message}; events are published unmarked`);
    return null;
  }
  return d;
}
