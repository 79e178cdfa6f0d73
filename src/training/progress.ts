/**
 * A progress line on stderr: redrawn in place on a terminal, a plain line every ~10% otherwise
 * (so CI logs and pipes stay readable).
 */
export class ProgressBar {
  private readonly started = Date.now();
  private lastPct = -1;
  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  tick(done: number, detail = ''): void {
    const pct = this.total === 0 ? 100 : Math.floor((done / this.total) * 100);
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : 0;
    if (this.stream.isTTY) {
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      const line = `${this.label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${done}/${this.total} ${pct}% eta ${eta.toFixed(0)}s ${detail}`;
      this.stream.write(`\r${line.slice(0, (this.stream.columns || 100) - 1).padEnd((this.stream.columns || 100) - 1)}`);
      if (done === this.total) this.stream.write('\n');
    } else if (Math.floor(pct / 10) !== Math.floor(this.lastPct / 10) || done === this.total) {
      this.stream.write(`${this.label}: ${done}/${this.total} (${pct}%) ${elapsed.toFixed(1)}s\n`);
    }
    this.lastPct = pct;
  }
}
