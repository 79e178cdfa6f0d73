/**
 * The VAD stage: samples in, speech boundaries (frame indices of the frontend's framing) out to a
 * VadSink. One class for the daemon's pipeline and for the training spans and `earshot eval`
 * (./speech-spans.ts), so all of them hear the same utterances. `config.kind` picks the detector:
 *
 * - `energy`: FrameEnergy + EnergyVad (adaptive floor + thresholdDb, onset, hang-over), exactly
 *   as before this class existed.
 * - `silero`: the Silero network (./silero.ts) scores every 512-sample window; a frame is speech
 *   when the window holding its centre scores >= sileroThreshold (>= sileroNegThreshold once
 *   speech has started: Silero's own hysteresis). The EnergyVad state machine still applies the
 *   onset, the hang-over and the absolute gate (minSpeechDb), so segments are cut as before and only
 *   the per-frame decision changes; its noise floor keeps being tracked.
 * - `cascade`: as `silero`, but the network only runs while the cheap energy gate is open (a frame
 *   gateDb above the tracked floor), gateHoldMs after it closed, or inside speech. When it starts
 *   again its state is reset and it first runs over lookBackMs of the audio before (kept in a ring)
 *   to settle. In a quiet room it costs what `energy` costs; in noise that keeps the gate open it
 *   costs what `silero` costs. With `sileroTrustDb` set, inside speech a frame that loud above the
 *   floor is speech without the network; a short trusted stretch is caught up window by window
 *   when the network is next needed, a longer one (beyond the look-back) restarts it as the gate
 *   does.
 *
 * Cascade: windows whose answer cannot matter are not run until it can. A frame at or below
 * minSpeechDb is never active whatever Silero says, so while the cascade runs only for such frames (the quiet end
 * of the gate hold and of the hang-over) the windows it would run are owed, not run: the next frame
 * that needs a probability runs them first, in order, so the recurrent state is the one of running
 * them at once; and when the network restarts after a gap (reset, then the look-back) before any
 * frame needed them, they are dropped unrun, since the reset discards what they would have left.
 * Decisions are bit for bit those of running every window (test/unit/silero-vad.test.ts); only the
 * number of calls falls (issue 32: the end of each utterance in a quiet room).
 *
 * Timing: the window holding frame i's centre ends up to 312 samples after the frame does, so a
 * Silero decision trails the audio by at most `lagFrames` frames; frames wait in a small queue
 * until their window is complete. Decisions depend only on the samples, never on how they were
 * chunked (test/e2e/vad.test.ts). At finish() the last window is padded with zeros, as Silero's
 * reference does. Nothing is allocated per frame beyond the network call's tensor wrappers.
 */
import { EnergyVad, type VadSink } from './energy-vad.ts';
import type { VadConfig } from './config.ts';
import { FrameEnergy } from './frame-energy.ts';
import { SILERO_CONTEXT, SILERO_RATE, SILERO_WINDOW, SileroState } from './silero.ts';
import { EarshotError } from '../../core/errors.ts';

export interface Framing {
  frameLength: number;
  hopLength: number;
  sampleRate: number;
}

/** samples kept for the look-back (a power of two: index by mask); holds lookBackMs (<= 1 s) + a piece + the queue */
const RING = 1 << 15;
/** input handled per step, so the ring never wraps over samples still needed */
const PIECE = 2048;
/** frames waiting for their Silero window (a piece completes at most PIECE / hop + 1 of them) */
const PENDING = 256;

export class VoiceDetector {
  readonly config: VadConfig;
  readonly vad: EnergyVad;
  /** frames a boundary may trail the newest frame energy (0 for energy; the segmenter's ring must look back that far too) */
  readonly lagFrames: number;
  private readonly energy: FrameEnergy;
  private readonly silero: SileroState | null;
  private readonly hop: number;
  private readonly centre: number;
  private readonly holdFrames: number;
  private readonly lookBackWindows: number;
  private readonly ring: Float32Array | null;
  private seen = 0;
  private readonly pendingLevel = new Float32Array(PENDING);
  private pendingHead = 0;
  private pendingLen = 0;
  /** index of the next frame to decide */
  private nextFrame = 0;
  private lastGate = -Infinity;
  /** the last window the network ran, and its probability */
  private lastWindow = -1;
  private lastProb = 0;
  /** windows owed (planned, not run): [owedFrom, owedTo], after a reset when owedReset; owedTo -1 = none */
  private owedFrom = 0;
  private owedTo = -1;
  private owedReset = false;
  private finishing = false;

  constructor(config: VadConfig, framing: Framing, sink: VadSink) {
    this.config = config;
    const hopSec = framing.hopLength / framing.sampleRate;
    this.vad = new EnergyVad(this.config, hopSec, sink);
    this.energy = new FrameEnergy(framing.frameLength, framing.hopLength);
    this.hop = framing.hopLength;
    this.centre = Math.floor(framing.frameLength / 2);
    this.holdFrames = Math.round(this.config.gateHoldMs / 1000 / hopSec);
    this.lookBackWindows = Math.round((this.config.lookBackMs / 1000) * (SILERO_RATE / SILERO_WINDOW));
    if (this.config.kind === 'energy') {
      this.silero = null;
      this.ring = null;
      this.lagFrames = 0;
    } else {
      if (framing.sampleRate !== SILERO_RATE) {
        throw new EarshotError('E_CONFIG', `vad.kind "${this.config.kind}": Silero runs on 16 kHz audio and this model's frontend runs at ${framing.sampleRate} Hz; use vad.kind "energy" with it`);
      }
      this.silero = new SileroState();
      this.ring = new Float32Array(RING);
      this.lagFrames = Math.ceil((SILERO_WINDOW + this.centre) / this.hop) + 1;
    }
  }

  /** Feeds the next samples (the frontend's rate). */
  push(samples: Float32Array): void {
    if (!this.ring) {
      const n = this.energy.push(samples);
      const levels = this.energy.levels();
      for (let i = 0; i < n; i++) this.vad.step(levels[i]);
      return;
    }
    for (let off = 0; off < samples.length; off += PIECE) {
      const piece = samples.length <= PIECE ? samples : samples.subarray(off, Math.min(samples.length, off + PIECE));
      // owed windows whose samples this piece would overwrite are run now (a long quiet hang-over)
      if (this.owedTo >= 0 && this.owedFrom * SILERO_WINDOW - SILERO_CONTEXT < this.seen + piece.length - RING) this.runOwed();
      for (let i = 0; i < piece.length; i++) this.ring[(this.seen + i) & (RING - 1)] = piece[i];
      this.seen += piece.length;
      const n = this.energy.push(piece);
      const levels = this.energy.levels();
      for (let i = 0; i < n; i++) {
        this.pendingLevel[(this.pendingHead + this.pendingLen) % PENDING] = levels[i];
        this.pendingLen++;
      }
      this.decide();
    }
  }

  /** End of stream: decides the frames still waiting (last window zero-padded) and closes open speech. */
  finish(): void {
    this.finishing = true;
    this.decide();
    this.finishing = false;
    this.vad.finish();
  }

  reset(): void {
    this.vad.reset();
    this.energy.reset();
    this.silero?.reset();
    this.seen = 0;
    this.pendingHead = this.pendingLen = 0;
    this.nextFrame = 0;
    this.lastGate = -Infinity;
    this.lastWindow = -1;
    this.lastProb = 0;
    this.owedTo = -1;
  }

  /** Frames that counted as speech since reset(). */
  get activeFrameCount(): number {
    return this.vad.activeFrameCount;
  }

  /** Silero network calls since construction (0 for energy): the VAD's CPU beyond the energy gate. */
  get networkCalls(): number {
    return this.silero?.calls ?? 0;
  }

  private readonly sample = (i: number): number => (i >= this.seen ? 0 : this.ring![i & (RING - 1)]);

  private decide(): void {
    const c = this.config;
    while (this.pendingLen > 0) {
      const f = this.nextFrame;
      const w = Math.floor((f * this.hop + this.centre) / SILERO_WINDOW);
      if ((w + 1) * SILERO_WINDOW > this.seen && !this.finishing) return;
      const level = this.pendingLevel[this.pendingHead];
      this.pendingHead = (this.pendingHead + 1) % PENDING;
      this.pendingLen--;
      this.nextFrame++;
      let running = true;
      let trusted = false;
      if (c.kind === 'cascade') {
        if (this.vad.above(level, c.gateDb)) this.lastGate = f;
        running = this.vad.inSpeech || f - this.lastGate <= this.holdFrames;
        trusted = c.sileroTrustDb > 0 && this.vad.inSpeech && this.vad.above(level, c.sileroTrustDb);
      }
      // at or below the absolute gate a frame is never active, so its probability is not needed yet
      // (cascade only: "silero" runs every window as it comes, as its call count says)
      const needed = running && !trusted && (c.kind !== 'cascade' || level > c.minSpeechDb);
      if (running && !trusted && !needed) this.plan(w);
      const p = trusted ? 1 : needed ? this.probability(w) : 0;
      const speech = this.vad.inSpeech ? p >= c.sileroNegThreshold : p >= c.sileroThreshold && (c.sileroOnsetDb === 0 || this.vad.above(level, c.sileroOnsetDb));
      this.vad.step(level, speech);
    }
  }

  /** Silero's probability for window w, running the windows up to it (after a gap: reset, then the look-back first). */
  private probability(w: number): number {
    this.plan(w);
    if (this.owedTo >= 0) this.runOwed();
    return this.lastProb;
  }

  /**
   * Owes the windows up to w as running them now would run them: on from the last one planned, or
   * after a gap longer than the look-back a reset and the look-back (which drops what was owed).
   */
  private plan(w: number): void {
    const last = this.owedTo >= 0 ? this.owedTo : this.lastWindow;
    if (w === last) return;
    if (last + 1 < w - this.lookBackWindows || last < 0) {
      this.owedReset = true;
      this.owedFrom = Math.max(0, w - this.lookBackWindows);
    } else if (this.owedTo < 0) {
      this.owedReset = false;
      this.owedFrom = last + 1;
    }
    this.owedTo = w;
  }

  private runOwed(): void {
    const s = this.silero!;
    if (this.owedReset) s.reset();
    for (let k = this.owedFrom; k <= this.owedTo; k++) this.lastProb = s.run(this.sample, (k + 1) * SILERO_WINDOW);
    this.lastWindow = this.owedTo;
    this.owedTo = -1;
  }
}
