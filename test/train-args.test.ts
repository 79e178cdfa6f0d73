import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseFolds } from '../src/commands/train.ts';
import { EarshotError } from '../src/errors.ts';

test('--folds accepts lists and ranges, as its help shows', () => {
  assert.equal(parseFolds('1-4;5,6, 7,8;19-20'), [['01', '02', '03', '04'], ['05', '06', '07', '08'], ['19', '20']]);
});

test('--folds refuses what is not an actor number or range', () => {
  for (const bad of ['a-b', '4-1', '1-4;x']) {
    try {
      parseFolds(bad);
      assert.unreachable(bad);
    } catch (e) {
      assert.instance(e, EarshotError);
      assert.match((e as Error).message, /--folds/);
    }
  }
});

test.run();
