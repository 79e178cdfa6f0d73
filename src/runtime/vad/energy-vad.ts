/**
 * Voice activity detection by an adaptive energy threshold with onset and hang-over.
 *
 * - Noise floor: minimum statistics (R. Martin, "Noise power spectral density estimation based on
 *   optimal smoothing and minimum statistics", IEEE TSAP 9(5), 2001), on the broadband frame
 *   energy: the floor is the lowest frame energy of the last `floorWindowMs`, kept as the minima
 *   of 8 sub-windows so one frame costs O(1). It follows a drop at once (fast down) and a rise only
 *   after a whole window without quieter frames (slow up). Active frames inside speech are kept
 *   out of the tracker, so a long sentence without deep pauses does not lift the floor into its
 *   own quiet syllables; after `floorFreezeMs` of continuous speech they are let in again, so a
 *   fan switched on (which looks like endless speech) is learned after freeze + window.
 *   The floor never goes below `minFloorDb`, so digital silence does not zero the threshold.
 * - Decision: a frame is active when its energy exceeds floor + `thresholdDb` and `minSpeechDb`.
 *   Speech starts after `onsetMs` of consecutive active frames (at the first of them: the onset is
 *   retroactive) and ends `hangoverMs` after the last active frame (at that frame: the hang-over
 *   bridges pauses between words but is not part of the segment).
 *
 * The detector is fed frame energies in order and reports boundaries to a sink as frame indices;
 * segment i covers frames [start, end). Nothing is allocated per frame.
 */
import type { VadConfig } from './config.ts';

/** Where the detector reports boundaries (frame indices since reset). */
export interface VadSink {
  speechStart(frame: number): void;
  /** An active frame inside speech (also each onset frame): speech lasts at least until frame + 1. */
  speechActive(frame: number): void;
  /** `frame` is exclusive: the frame after the last active one. */
  speechEnd(frame: number): void;
}

const SUB_WINDOWS = 8;

/** The onset and hang-over in frames of `hopSeconds` (what the segmenter must be able to look back over). */
export function vadFrames(config: VadConfig, hopSeconds: number): { onsetFrames: number; hangoverFrames: number } {
  const frames = (ms: number) => Math.max(0, Math.round(ms / 1000 / hopSeconds));
  return { onsetFrames: Math.max(1, frames(config.onsetMs)), hangoverFrames: frames(config.hangoverMs) };
}

export class EnergyVad {
  readonly config: VadConfig;
  readonly onsetFrames: number;
  readonly hangoverFrames: number;
  private readonly subLength: number;
  private readonly freezeFrames: number;
  private speechStartFrame = 0;
  private readonly subMin = new Float64Array(SUB_WINDOWS);
  private subCount = 0; // completed sub-windows (saturates at SUB_WINDOWS)
  private subNext = 0; // ring index of the next completed sub-window
  private curMin = Infinity;
  private curLen = 0;
  private frame = 0;
  private speaking = false;
  private activeRun = 0;
  private lastActive = -1;
  private floorDb = NaN;
  private activeFrames = 0;

  /** `hopSeconds` is the frame step (hopLength / sampleRate). */
  constructor(config: VadConfig, hopSeconds: number, private readonly sink: VadSink) {
    this.config = config;
    ({ onsetFrames: this.onsetFrames, hangoverFrames: this.hangoverFrames } = vadFrames(this.config, hopSeconds));
    this.subLength = Math.max(1, Math.round(this.config.floorWindowMs / 1000 / hopSeconds / SUB_WINDOWS));
    this.freezeFrames = Math.round(this.config.floorFreezeMs / 1000 / hopSeconds);
  }

  /**
   * Processes the energy (dBFS) of the next frame. `speech`, when given, replaces the energy test
   * (another detector's decision for this frame, as Silero's); the absolute gate still applies.
   */
  step(levelDb: number, speech?: boolean): void {
    const t = this.frame++;
    if (Number.isNaN(this.floorDb)) this.floorDb = Math.max(levelDb, this.config.minFloorDb);
    const active = (speech ?? levelDb > this.floorDb + this.config.thresholdDb) && levelDb > this.config.minSpeechDb;
    if (!(active && this.speaking && t - this.speechStartFrame < this.freezeFrames)) this.updateFloor(levelDb);
    if (active) this.activeFrames++;
    if (!this.speaking) {
      this.activeRun = active ? this.activeRun + 1 : 0;
      if (this.activeRun >= this.onsetFrames) {
        this.speaking = true;
        this.lastActive = t;
        this.speechStartFrame = t - this.onsetFrames + 1;
        this.sink.speechStart(this.speechStartFrame);
        this.sink.speechActive(t);
      }
      return;
    }
    if (active) {
      this.lastActive = t;
      this.sink.speechActive(t);
    }
    else if (t - this.lastActive >= this.hangoverFrames) this.endSpeech();
  }

  /** End of stream: closes open speech at its last active frame. */
  finish(): void {
    if (this.speaking) this.endSpeech();
    this.activeRun = 0;
  }

  reset(): void {
    this.subMin.fill(0);
    this.subCount = 0;
    this.subNext = 0;
    this.curMin = Infinity;
    this.curLen = 0;
    this.frame = 0;
    this.speaking = false;
    this.activeRun = 0;
    this.lastActive = -1;
    this.floorDb = NaN;
    this.activeFrames = 0;
    this.speechStartFrame = 0;
  }

  /** True when a frame at `levelDb` would be `db` above the current noise floor and above the absolute gate (false before the first frame). */
  above(levelDb: number, db: number): boolean {
    return levelDb > this.floorDb + db && levelDb > this.config.minSpeechDb;
  }

  /** The current noise floor (dBFS); NaN before the first frame. */
  get noiseFloorDb(): number {
    return this.floorDb;
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  /** Frames that passed the threshold since reset (for statistics). */
  get activeFrameCount(): number {
    return this.activeFrames;
  }

  private endSpeech(): void {
    this.speaking = false;
    this.activeRun = 0;
    this.sink.speechEnd(this.lastActive + 1);
  }

  /** Minimum over the completed sub-windows and the one filling now, clamped to minFloorDb. */
  private updateFloor(levelDb: number): void {
    if (levelDb < this.curMin) this.curMin = levelDb;
    let floor = this.curMin;
    for (let i = 0; i < this.subCount; i++) if (this.subMin[i] < floor) floor = this.subMin[i];
    if (++this.curLen === this.subLength) {
      this.subMin[this.subNext] = this.curMin;
      this.subNext = (this.subNext + 1) % SUB_WINDOWS;
      if (this.subCount < SUB_WINDOWS) this.subCount++;
      this.curMin = Infinity;
      this.curLen = 0;
    }
    this.floorDb = Math.max(floor, this.config.minFloorDb);
  }
}
