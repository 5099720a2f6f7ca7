import { describe, expect, it } from 'vitest';
import { StopFilter } from './stop-filter.ts';

const run = (stops: string[], pieces: string[]) => {
  const f = new StopFilter(stops);
  let out = '';
  for (const p of pieces) out += f.push(p);
  return { out: out + f.flush(), stopped: f.stopped };
};

describe('StopFilter', () => {
  it('cuts at a stop string split across chunks and shows nothing of it', () => {
    expect(run(['</답변>'], ['안녕하세요', '</', '답', '변>뒤'])).toEqual({
      out: '안녕하세요',
      stopped: true,
    });
  });
  it('passes everything through when no stop appears, including a partial prefix at the end', () => {
    expect(run(['STOP'], ['가나', 'ST', 'O'])).toEqual({ out: '가나STO', stopped: false });
  });
  it('picks the earliest of several stops', () => {
    expect(run(['B', 'A'], ['xxAyyB'])).toEqual({ out: 'xx', stopped: true });
  });
  it('is a pass-through with no stops', () => {
    expect(run([], ['한', '글'])).toEqual({ out: '한글', stopped: false });
  });
});
