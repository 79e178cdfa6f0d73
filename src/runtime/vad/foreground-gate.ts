/**
 * An utterance-level check between the VAD's state machine and its sink: speech is passed on only
 * when its first `frames` frames (or the whole utterance, if shorter) are at least `db` above the
 * background, the mean power of the recent frames that were not speech (an exponential average
 * over about `tauFrames`). A talker near the microphone is louder than the room; the room's
 * babble, which a speech detector rightly calls speech, is not louder than itself.
 *
 * The decision is taken `frames` after the utterance starts, so boundaries reach the sink up to
 * that much later (the pipeline's segmenter looks back far enough: VoiceDetector.lagFrames).
 * Inside a vetoed stretch the check slides on frame by frame (a talker may start speaking while the
 * babble is already "speech"): the first `frames` frames that stand out start the utterance there.
 * Vetoed frames count as background. Nothing is allocated per frame.
 */
import type { VadSink } from './energy-vad.ts';

const RING = 1024; // frame powers kept: more than any onset + decision delay

export class ForegroundGate implements VadSink {
  /** utterances dropped for not standing out of the background */
  vetoed = 0;
  private readonly powers = new Float64Array(RING);
  private background = NaN;
  private readonly alpha: number;
  private readonly ratio: number;
  private state: 'idle' | 'pending' | 'passed' | 'vetoed' = 'idle';
  private start = 0;
  private lastActive = -1;

  constructor(private readonly sink: VadSink, db: number, private readonly frames: number, tauFrames: number) {
    this.ratio = 10 ** (db / 10);
    this.alpha = 1 / Math.max(1, tauFrames);
  }

  /** Frame t's level (dBFS), before the state machine sees it. */
  record(t: number, levelDb: number): void {
    this.powers[t % RING] = 10 ** (levelDb / 10);
  }

  /** After the state machine has seen frame t: learn the background from non-speech frames, decide a pending utterance once it is long enough. */
  afterFrame(t: number, speech: boolean): void {
    const p = this.powers[t % RING];
    if ((!speech && this.state === 'idle') || this.state === 'vetoed') this.background = Number.isNaN(this.background) ? p : this.background + this.alpha * (p - this.background);
    if (this.state === 'pending' && t - this.start + 1 >= this.frames) this.decide(this.start, this.start + this.frames);
    else if (this.state === 'vetoed' && t - this.start + 1 >= this.frames && this.standsOut(t + 1 - this.frames, t + 1)) this.pass(t + 1 - this.frames, this.lastActive);
  }

  speechStart(frame: number): void {
    this.state = 'pending';
    this.start = frame;
    this.lastActive = -1;
  }

  speechActive(frame: number): void {
    if (this.state === 'passed') this.sink.speechActive(frame);
    else this.lastActive = frame;
  }

  speechEnd(frame: number): void {
    if (this.state === 'pending') this.decide(this.start, frame);
    if (this.state === 'passed') this.sink.speechEnd(frame);
    this.state = 'idle';
  }

  reset(): void {
    this.state = 'idle';
    this.background = NaN;
    this.vetoed = 0;
  }

  /** Mean power of frames [start, end) at least `db` above the background (true while there is no background yet: speech from the first frame). */
  private standsOut(start: number, end: number): boolean {
    let sum = 0;
    for (let t = start; t < end; t++) sum += this.powers[t % RING];
    return Number.isNaN(this.background) || sum / Math.max(1, end - start) >= this.ratio * this.background;
  }

  private decide(start: number, end: number): void {
    if (this.standsOut(start, end)) this.pass(start, this.lastActive);
    else {
      this.state = 'vetoed';
      this.vetoed++;
    }
  }

  private pass(start: number, active: number): void {
    this.state = 'passed';
    this.sink.speechStart(start);
    if (active >= start) this.sink.speechActive(active);
  }
}
