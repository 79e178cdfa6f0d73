// Two crafted FLAC files (found by fuzzing, issue 17) make the FLAC decoder's WASM trap: while
// decoding, and in its free() after the decode corrupted its heap. Both must stay contained as
// E_AUDIO_FORMAT, through decode and through analyze, and later decodes must stay correct.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isEarshotError } from '../../src/core/errors.ts';
import { decodeAudioBuffer, decodeAudioFile } from '../../src/runtime/audio/decode.ts';
import { openAudioFile } from '../../src/runtime/audio/stream.ts';
import { ROOT } from '../helpers/paths.ts';

const TRAPS = ['flac-trap-decode.flac', 'flac-trap-free.flac'].map((f) => join(ROOT, 'test/fixtures/fuzz', f));
const GOOD = join(ROOT, 'assets/demo-angry.flac');

test('both trap files are E_AUDIO_FORMAT, repeatedly, and a good FLAC decodes identically before and after', async () => {
  const before = (await decodeAudioFile(GOOD)).samples;
  for (let round = 0; round < 3; round++) {
    for (const trap of TRAPS) {
      for (const open of [decodeAudioFile, openAudioFile, (p: string) => decodeAudioBuffer(readFileSync(p), p)]) {
        try {
          await open(trap);
          assert.unreachable(`${trap} decoded`);
        } catch (e) {
          assert.ok(isEarshotError(e) && e.code === 'E_AUDIO_FORMAT', `${trap}: ${String(e)}`);
        }
      }
    }
  }
  const after = (await decodeAudioFile(GOOD)).samples;
  assert.is(after.length, before.length);
  assert.ok(after.every((v, i) => v === before[i]), 'the good file decodes to the same samples');
});

test.run();
