import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORPUS_LABELS, EMOTIONS, filterSpeakers, loadCorpus, scanCorpus } from '../../src/training/corpus/index.ts';
import { parseEmodb, parseEmotionttsKr, parseNemo, parseRavdess, parseTess } from '../../src/training/corpus/parsers.ts';
import { isEarshotError } from '../../src/core/errors.ts';

const DATA = new URL('../../../shared/data/', import.meta.url).pathname;

const countBy = <T>(xs: T[], key: (x: T) => string) => xs.reduce<Record<string, number>>((m, x) => ((m[key(x)] = (m[key(x)] ?? 0) + 1), m), {});

test('RAVDESS: 1200 clips, 20 actors of 60, 8 emotions, neutral half, sex from actor parity', () => {
  const items = loadCorpus('ravdess', join(DATA, 'ravdess'));
  assert.is(items.length, 1200);
  const bySpeaker = countBy(items, (i) => i.speaker);
  assert.equal(Object.keys(bySpeaker).sort(), Array.from({ length: 20 }, (_, i) => String(i + 1).padStart(2, '0')));
  assert.ok(Object.values(bySpeaker).every((n) => n === 60));
  const byLabel = countBy(items, (i) => i.label);
  assert.equal(Object.keys(byLabel).sort(), [...EMOTIONS].sort());
  assert.is(byLabel.neutral, 80);
  for (const e of EMOTIONS.filter((e) => e !== 'neutral')) assert.is(byLabel[e], 160, e);
  assert.ok(items.every((i) => i.sex === (Number(i.speaker) % 2 ? 'm' : 'f')));
  assert.ok(items.filter((i) => i.label === 'neutral').every((i) => i.intensity === 'normal'));
  const one = items.find((i) => i.name === '03-01-05-02-01-01-12')!;
  assert.equal([one.label, one.speaker, one.sex, one.intensity, one.statement], ['angry', '12', 'f', 'strong', 'Kids are talking by the door']);
  // Sorted and deterministic.
  assert.equal(items.map((i) => i.name), [...items.map((i) => i.name)].sort());
});

test('TESS: 2798 clips, two female speakers, ps -> surprised, fear -> fearful, OA_bite_neutral kept as OAF', () => {
  const items = loadCorpus('tess', join(DATA, 'tess'));
  assert.is(items.length, 2798);
  assert.equal(countBy(items, (i) => i.speaker), { OAF: 1399, YAF: 1399 }); // each speaker lost one damaged clip
  const byLabel = countBy(items, (i) => i.label);
  assert.equal(Object.keys(byLabel).sort(), [...CORPUS_LABELS.tess].sort());
  assert.is(byLabel.angry, 399); // OAF_back_angry is missing from the distribution
  assert.is(byLabel.sad, 399); // so is YAF_beg_sad
  assert.is(byLabel.surprised, 400);
  assert.not.ok('calm' in byLabel);
  const quirk = items.find((i) => i.name === 'OA_bite_neutral')!;
  assert.ok(quirk, 'the OA_bite_neutral clip is loaded');
  assert.equal([quirk.speaker, quirk.label, quirk.sex], ['OAF', 'neutral', 'f']);
  assert.ok(items.every((i) => i.sex === 'f'));
});

test('EmoDB: 107 clips, boredom dropped and reported, speakers 03 (m) and 08 (f)', () => {
  const scan = scanCorpus('emodb', join(DATA, 'emodb'));
  assert.is(scan.items.length + scan.dropped.length, 107);
  assert.is(scan.dropped.length, 15);
  assert.ok(scan.dropped.every((d) => /L.\.flac$/.test(d.path) && /boredom/.test(d.reason)));
  assert.is(scan.rejected.length, 0);
  assert.equal(countBy(scan.items, (i) => `${i.speaker}${i.sex}`), { '03m': 44, '08f': 48 });
  assert.equal(Object.keys(countBy(scan.items, (i) => i.label)).sort(), [...CORPUS_LABELS.emodb].sort());
  assert.equal(loadCorpus('emodb', join(DATA, 'emodb')).length, 92);
});

test('emotiontts-kr: 300 clips, 15 speakers of 20, 4 emotions of 5 per speaker, numbered in blocks of 100', () => {
  const items = loadCorpus('emotiontts-kr', join(DATA, 'emotiontts-kr'));
  assert.is(items.length, 300);
  const bySpeaker = countBy(items, (i) => i.speaker);
  assert.is(Object.keys(bySpeaker).length, 15);
  assert.ok(Object.values(bySpeaker).every((n) => n === 20));
  assert.equal(countBy(items, (i) => i.label), { neutral: 75, happy: 75, sad: 75, angry: 75 });
  for (const spk of Object.keys(bySpeaker)) {
    assert.equal(countBy(items.filter((i) => i.speaker === spk), (i) => i.label), { neutral: 5, happy: 5, sad: 5, angry: 5 }, spk);
  }
  // 201-300 sad, 301-400 angry (the corpus README's swap is not followed; see ../shared/data/README.md)
  const byName = (n: string) => items.find((i) => i.name === n);
  for (const i of items) {
    const n = Number(i.name.slice(3));
    assert.is(i.label, n <= 100 ? 'neutral' : n <= 200 ? 'happy' : n <= 300 ? 'sad' : 'angry', i.name);
  }
  assert.ok(items.some((i) => i.label === 'sad' && Number(i.name.slice(3)) > 200 && Number(i.name.slice(3)) <= 300));
  assert.is(byName(items[0].name)!.corpus, 'emotiontts-kr');
  assert.equal(countBy(items.filter((i) => i.sex), (i) => `${i.speaker}${i.sex}`), { emaf: 20, embf: 20, emfm: 20, emgm: 20, emhm: 20 });
  assert.is(filterSpeakers(items, ['EMA']).length, 20, 'speakers match case-insensitively');
  assert.equal(CORPUS_LABELS['emotiontts-kr'], ['neutral', 'happy', 'sad', 'angry']);
});

test('nEMO: 1785 clips of 4 actors (2 female, 2 male), 6 emotions, data.tsv and LICENSE ignored', () => {
  const scan = scanCorpus('nemo', join(DATA, 'nemo'));
  assert.equal(scan.rejected, []);
  assert.is(scan.items.length, 1785);
  assert.equal(countBy(scan.items, (i) => `${i.speaker}${i.sex}`), { EB0f: 539, KS0m: 540, MK0f: 450, MP0m: 256 });
  assert.equal(Object.keys(countBy(scan.items, (i) => i.label)).sort(), [...CORPUS_LABELS.nemo].sort());
  assert.ok(scan.ignored.some((p) => p.endsWith('data.tsv')));
  const r = parseNemo('samples/KS0_happiness_12.flac');
  assert.equal(r.kind === 'item' && [r.item.label, r.item.speaker, r.item.sex], ['happy', 'KS0', 'm']);
  assert.match((parseNemo('samples/KS0_boredom_1.flac') as { reason: string }).reason, /boredom/);
  assert.match((parseNemo('samples/ks0-anger-1.flac') as { reason: string }).reason, /SPK/);
});

test('parsers: well-formed names parse, wrong ones say why', () => {
  assert.is(parseRavdess('Actor_01/03-01-08-02-02-01-01.wav').kind, 'item');
  assert.match((parseRavdess('Actor_01/03-02-08-02-02-01-01.wav') as { reason: string }).reason, /song/);
  assert.match((parseRavdess('Actor_02/03-01-08-02-02-01-01.wav') as { reason: string }).reason, /Actor_02/);
  assert.match((parseRavdess('Actor_01/03-01-01-02-01-01-01.wav') as { reason: string }).reason, /neutral has no strong/);
  assert.is(parseTess('YAF_pleasant_surprised/YAF_back_ps.wav').kind, 'item');
  assert.match((parseTess('YAF_angry/YAF_back_sad.wav') as { reason: string }).reason, /YAF_angry/);
  assert.match((parseTess('YAF_angry/OA_back_angry.wav') as { reason: string }).reason, /OA is not OAF or YAF/);
  assert.is(parseEmodb('wav/16b10Wa.wav').kind, 'item');
  assert.match((parseEmodb('wav/02a01Wa.wav') as { reason: string }).reason, /speaker 02/);
  const kr = parseEmotionttsKr('plain-to-emotional/ema/wav/ema00301.wav');
  assert.ok(kr.kind === 'item' && kr.item.label === 'angry' && kr.item.speaker === 'ema');
  const kr2 = parseEmotionttsKr('emotional-to-emotional/nea/wav/nea00250.flac');
  assert.ok(kr2.kind === 'item' && kr2.item.label === 'sad' && kr2.item.sex === undefined);
  assert.match((parseEmotionttsKr('plain-to-emotional/emb/wav/ema00001.flac') as { reason: string }).reason, /in emb/);
  assert.match((parseEmotionttsKr('plain-to-emotional/ema/wav/ema00401.flac') as { reason: string }).reason, /00001..00400/);
  assert.match((parseEmotionttsKr('plain-to-emotional/ema/wav/take2.flac') as { reason: string }).reason, /5-digit/);
});

test('a folder with unexpected names is reported (scan) and refused (load), never skipped in silence', () => {
  const root = mkdtempSync(join(tmpdir(), 'earshot-corpus-'));
  try {
    mkdirSync(join(root, 'Actor_01'));
    for (const n of ['03-01-05-01-01-01-01.wav', '03-01-05-01-01-02-01.flac', 'take2.wav', '03-01-09-01-01-01-01.wav', 'notes.txt', '.DS_Store']) {
      writeFileSync(join(root, 'Actor_01', n), '');
    }
    const scan = scanCorpus('ravdess', root);
    assert.is(scan.items.length, 2, 'a .wav and a .flac clip are both read');
    assert.equal(scan.rejected.map((r) => r.path.split('/').pop()).sort(), ['03-01-09-01-01-01-01.wav', 'take2.wav']);
    assert.equal(scan.ignored.map((p) => p.split('/').pop()), ['notes.txt']);
    try {
      loadCorpus('ravdess', root);
      assert.unreachable('loadCorpus must refuse the folder');
    } catch (e) {
      assert.ok(isEarshotError(e));
      assert.is(e.code, 'E_CORPUS');
      assert.match(e.message, /2 file\(s\)/);
      assert.match(e.message, /take2\.wav/);
      assert.match(e.message, /emotion 09/);
    }
    try {
      loadCorpus('ravdess', join(root, 'missing'));
      assert.unreachable();
    } catch (e) {
      assert.ok(isEarshotError(e));
      assert.is(e.code, 'E_AUDIO_IO');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('filterSpeakers keeps held-out actors and names the available ones when none match', () => {
  const items = loadCorpus('ravdess', join(DATA, 'ravdess'));
  assert.is(filterSpeakers(items, ['17', '18', '19', '20']).length, 240);
  try {
    filterSpeakers(items, ['24']);
    assert.unreachable();
  } catch (e) {
    assert.ok(isEarshotError(e));
    assert.match(e.message, /01, 02/);
  }
});

test.run();
