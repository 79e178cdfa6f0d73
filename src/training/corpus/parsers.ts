/**
 * File-name parsers for the acted emotional speech corpora. Each takes one audio file's
 * path (relative to the corpus root, '/'-separated) and returns either the parsed item, a
 * `dropped` verdict (a well-formed name whose emotion has no canonical label), or a `rejected`
 * verdict with the reason the name does not fit the corpus's scheme.
 *
 * Canonical labels and the mapping from each corpus are documented in src/training/corpus/README.md.
 */
import type { CorpusItem, CorpusKind, Emotion } from './index.ts';

export type ParseResult =
  | { kind: 'item'; item: Omit<CorpusItem, 'path'> }
  | { kind: 'dropped'; reason: string }
  | { kind: 'rejected'; reason: string };

const reject = (reason: string): ParseResult => ({ kind: 'rejected', reason });

const stem = (rel: string) => rel.split('/').pop()!.replace(/\.(wav|flac)$/i, '');

// RAVDESS: MM-VC-EE-II-SS-RR-AA (Livingstone & Russo 2018, "Filename identifiers").
// Modality 03 audio-only, vocal channel 01 speech (02 is song, a different corpus).
const RAVDESS_EMOTIONS: Emotion[] = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'];
const RAVDESS_STATEMENTS = ['Kids are talking by the door', 'Dogs are sitting by the door'];

export function parseRavdess(rel: string): ParseResult {
  const name = stem(rel);
  const m = /^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$/.exec(name);
  if (!m) return reject('expected MM-VC-EE-II-SS-RR-AA, seven two-digit fields (e.g. 03-01-05-02-01-01-12)');
  const [modality, channel, emotion, intensity, statement, repetition, actor] = m.slice(1).map(Number);
  if (modality !== 3) return reject(`modality ${m[1]} is not audio-only (03)`);
  if (channel !== 1) return reject(`vocal channel ${m[2]} is not speech (01); song is not part of the speech corpus`);
  if (emotion < 1 || emotion > 8) return reject(`emotion ${m[3]} is not 01..08`);
  if (intensity < 1 || intensity > 2) return reject(`intensity ${m[4]} is not 01 or 02`);
  if (emotion === 1 && intensity === 2) return reject('neutral has no strong intensity in RAVDESS');
  if (statement < 1 || statement > 2) return reject(`statement ${m[5]} is not 01 or 02`);
  if (repetition < 1 || repetition > 2) return reject(`repetition ${m[6]} is not 01 or 02`);
  if (actor < 1 || actor > 24) return reject(`actor ${m[7]} is not 01..24`);
  const folder = rel.split('/').slice(-2, -1)[0];
  const fm = folder ? /^Actor_(\d\d)$/i.exec(folder) : null;
  if (fm && Number(fm[1]) !== actor) return reject(`actor ${m[7]} in the name but the file is in ${folder}`);
  return {
    kind: 'item',
    item: {
      name,
      corpus: 'ravdess',
      label: RAVDESS_EMOTIONS[emotion - 1],
      speaker: m[7],
      sex: actor % 2 === 1 ? 'm' : 'f',
      intensity: intensity === 1 ? 'normal' : 'strong',
      statement: RAVDESS_STATEMENTS[statement - 1],
    },
  };
}

// TESS: <folder OAF|YAF>_<emotion>/<speaker>_<word>_<emotion>. Both speakers are women.
const TESS_EMOTIONS: Record<string, Emotion> = {
  angry: 'angry',
  disgust: 'disgust',
  fear: 'fearful',
  happy: 'happy',
  neutral: 'neutral',
  sad: 'sad',
  ps: 'surprised', // "pleasant surprise": RAVDESS's surprised is also mostly pleasant
  pleasant_surprise: 'surprised',
  pleasant_surprised: 'surprised',
};

export function parseTess(rel: string): ParseResult {
  const name = stem(rel);
  const m = /^([A-Za-z]+)_([A-Za-z]+)_([A-Za-z]+)$/.exec(name);
  if (!m) return reject('expected <OAF|YAF>_<word>_<emotion> (e.g. OAF_back_angry)');
  let speaker = m[1].toUpperCase();
  // Known quirk of the distribution: OAF_neutral/OA_bite_neutral lacks the F of its prefix.
  // Accept the two-letter prefix only inside the matching speaker's folder.
  const folder = rel.split('/').slice(-2, -1)[0] ?? '';
  const fm = /^(OAF|YAF)_(.+)$/i.exec(folder);
  if ((speaker === 'OA' || speaker === 'YA') && fm && fm[1].toUpperCase() === `${speaker}F`) speaker = `${speaker}F`;
  if (speaker !== 'OAF' && speaker !== 'YAF') return reject(`speaker prefix ${m[1]} is not OAF or YAF`);
  const emotionKey = m[3].toLowerCase();
  const label = TESS_EMOTIONS[emotionKey];
  if (!label) return reject(`emotion "${m[3]}" is not one of ${Object.keys(TESS_EMOTIONS).join(', ')}`);
  if (fm) {
    if (fm[1].toUpperCase() !== speaker) return reject(`speaker ${speaker} in the name but the file is in ${folder}`);
    const folderLabel = TESS_EMOTIONS[fm[2].toLowerCase()];
    if (folderLabel && folderLabel !== label) return reject(`emotion "${m[3]}" in the name but the file is in ${folder}`);
  }
  return { kind: 'item', item: { name, corpus: 'tess', label, speaker, sex: 'f', statement: `Say the word ${m[2].toLowerCase()}` } };
}

// EmoDB (Burkhardt et al. 2005): SSTTTEV = speaker (2 digits), text code (a01..b10), emotion
// letter (German initial), version letter.
const EMODB_EMOTIONS: Record<string, Emotion | null> = {
  W: 'angry', // Wut / Ärger
  L: null, // Langeweile (boredom): no canonical class; dropped, see README.md
  E: 'disgust', // Ekel
  A: 'fearful', // Angst
  F: 'happy', // Freude
  T: 'sad', // Trauer
  N: 'neutral',
};
const EMODB_SPEAKERS: Record<string, 'm' | 'f'> = { '03': 'm', '08': 'f', '09': 'f', '10': 'm', '11': 'm', '12': 'm', '13': 'f', '14': 'f', '15': 'm', '16': 'f' };

export function parseEmodb(rel: string): ParseResult {
  const name = stem(rel);
  const m = /^(\d\d)([ab]\d\d)([A-Z])([a-z])$/.exec(name);
  if (!m) return reject('expected SSTTTEV: speaker, text a01..b10, emotion letter, version (e.g. 03a01Fa)');
  const sex = EMODB_SPEAKERS[m[1]];
  if (!sex) return reject(`speaker ${m[1]} is not one of ${Object.keys(EMODB_SPEAKERS).join(', ')}`);
  if (!(m[3] in EMODB_EMOTIONS)) return reject(`emotion letter ${m[3]} is not one of ${Object.keys(EMODB_EMOTIONS).join('')}`);
  const label = EMODB_EMOTIONS[m[3]];
  if (label === null) return { kind: 'dropped', reason: 'boredom (L) has no canonical emotion' };
  return { kind: 'item', item: { name, corpus: 'emodb', label, speaker: m[1], sex, statement: m[2] } };
}

// emotiontts-kr (KAIST / SELVAS AI, public 5% sample): <set>/<speaker>/wav/<speaker>NNNNN. The
// number gives the emotion in blocks of 100: 1-100 neutral, 101-200 happy, 201-300 sad, 301-400
// angry. The corpus's own README swaps sad and angry; its scripts and recordings say this order
// (../shared/data/README.md). Speaker = the folder; ema, emb female and emf, emg, emh male
// (plain-to-emotional); the nea-neo speakers' sexes are not given per folder, so left unset.
const KR_EMOTIONS: Emotion[] = ['neutral', 'happy', 'sad', 'angry'];
const KR_SEX: Record<string, 'm' | 'f'> = { ema: 'f', emb: 'f', emf: 'm', emg: 'm', emh: 'm' };

export function parseEmotionttsKr(rel: string): ParseResult {
  const name = stem(rel);
  const m = /^([a-z]{3})(\d{5})$/.exec(name);
  if (!m) return reject('expected <speaker><5-digit number> (e.g. ema00101)');
  const folders = rel.split('/').slice(0, -1).filter((f) => f !== 'wav');
  const folder = folders[folders.length - 1];
  if (folder && /^[a-z]{3}$/.test(folder) && folder !== m[1]) return reject(`speaker ${m[1]} in the name but the file is in ${folder}`);
  const n = Number(m[2]);
  if (n < 1 || n > 400) return reject(`number ${m[2]} is not 00001..00400`);
  const sex = KR_SEX[m[1]];
  return { kind: 'item', item: { name, corpus: 'emotiontts-kr', label: KR_EMOTIONS[Math.floor((n - 1) / 100)], speaker: m[1], ...(sex ? { sex } : {}) } };
}

// nEMO (Christop, LREC-COLING 2024), Polish acted speech: samples/<SPK>_<emotion>_<n>. Speaker ids
// are three characters (EB0, MK0, KS0, MP0 here; the corpus's other actors are held back for
// testing); sexes from the corpus's data.tsv. Its six emotions map one to one; no calm, no disgust.
const NEMO_EMOTIONS: Record<string, Emotion> = {
  anger: 'angry',
  fear: 'fearful',
  happiness: 'happy',
  neutral: 'neutral',
  sadness: 'sad',
  surprised: 'surprised',
};
const NEMO_SEX: Record<string, 'm' | 'f'> = { EB0: 'f', MK0: 'f', KS0: 'm', MP0: 'm', AD0: 'm', BM0: 'm', KL0: 'f', MG0: 'f', SB0: 'f' };

export function parseNemo(rel: string): ParseResult {
  const name = stem(rel);
  const m = /^([A-Z]{2}\d)_([a-z]+)_(\d+)$/.exec(name);
  if (!m) return reject('expected <SPK>_<emotion>_<n> (e.g. EB0_anger_1)');
  const label = NEMO_EMOTIONS[m[2]];
  if (!label) return reject(`emotion "${m[2]}" is not one of ${Object.keys(NEMO_EMOTIONS).join(', ')}`);
  const sex = NEMO_SEX[m[1]];
  return { kind: 'item', item: { name, corpus: 'nemo', label, speaker: m[1], ...(sex ? { sex } : {}) } };
}

export const PARSERS: Record<CorpusKind, (rel: string) => ParseResult> = { ravdess: parseRavdess, tess: parseTess, emodb: parseEmodb, 'emotiontts-kr': parseEmotionttsKr, nemo: parseNemo };
