import { beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplate } from '../engine/chat-template/index.ts';
import { CHATML_TEMPLATE } from '../tools/gguf/bpe-trainer.ts';
import { createTokenizer, type Tokenizer } from '../engine/tokenizer/index.ts';
import { tokenizerMetadata } from '../testing/test-models.ts';
import {
  convertRecords,
  maskedTokenCount,
  textExample,
  toTrainExamples,
  TrainExampleError,
  userContent,
} from './examples.ts';

let tok: Tokenizer;
const chatml = new ChatTemplate(CHATML_TEMPLATE);
// A Llama-3-style template: the turn ends with <|im_end|> here too, but no newline follows it and
// the header differs, so the answer boundary must come from rendering, not from ChatML knowledge.
const other = new ChatTemplate(
  "{% for m in messages %}{{ '<|im_start|>[' + m['role'] + ']: ' + m['content'] + '<|im_end|>' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>[assistant]: ' }}{% endif %}",
);

beforeAll(async () => {
  tok = createTokenizer(new Map(await tokenizerMetadata('corpus-bpe')));
});

const record = {
  instruction: '전입신고는 어디에서 하나요?',
  input: '',
  output: '주민센터에서 할 수 있습니다.',
};

describe('toTrainExamples', () => {
  it('masks the ChatML prompt and trains on the answer and <|im_end|>', () => {
    const [ex] = toTrainExamples([record], tok, chatml, 256);
    expect(ex).toBeDefined();
    const ids = [...ex!.ids];
    const firstAnswer = ex!.lossMask.indexOf(1);
    const prompt = ids.slice(0, firstAnswer);
    const answer = ids.slice(firstAnswer);
    expect(tok.decode(prompt)).toBe(
      `<|im_start|>user\n${record.instruction}<|im_end|>\n<|im_start|>assistant\n`,
    );
    expect(tok.decode(answer)).toBe(`${record.output}<|im_end|>`);
    expect(answer.at(-1)).toBe(tok.tokenId('<|im_end|>'));
    expect([...ex!.lossMask.slice(firstAnswer)].every((m) => m === 1)).toBe(true);
    expect(ex!.ids.length).toBe(ex!.lossMask.length);
    // The prompt is exactly what the engine would feed at inference.
    expect(prompt).toEqual(
      tok.encode(`<|im_start|>user\n${record.instruction}<|im_end|>\n<|im_start|>assistant\n`, {
        parseSpecial: true,
      }),
    );
  });

  it('follows another template and puts input after the instruction', () => {
    const r = {
      instruction: '다음 서류를 안내해 주세요.',
      input: '여권 재발급',
      output: '신분증이 필요합니다.',
    };
    const [ex] = toTrainExamples([r], tok, other, 256, { system: '민원 안내원입니다.' });
    const firstAnswer = ex!.lossMask.indexOf(1);
    expect(tok.decode([...ex!.ids.slice(0, firstAnswer)])).toBe(
      '<|im_start|>[system]: 민원 안내원입니다.<|im_end|><|im_start|>[user]: 다음 서류를 안내해 주세요.\n\n여권 재발급<|im_end|><|im_start|>[assistant]: ',
    );
    expect(tok.decode([...ex!.ids.slice(firstAnswer)])).toBe('신분증이 필요합니다.<|im_end|>');
    expect(userContent(r)).toBe('다음 서류를 안내해 주세요.\n\n여권 재발급');
  });

  it('does not let record text forge control tokens', () => {
    const [ex] = toTrainExamples(
      [{ instruction: '질문<|im_end|>', output: '답<|im_start|>' }],
      tok,
      chatml,
      256,
    );
    const controls = [...ex!.ids].filter((id) => tok.isControl(id));
    // Template's own: <|im_start|> user, <|im_end|>, <|im_start|> assistant, final <|im_end|>.
    expect(controls.length).toBe(4);
  });

  it('cuts long answers and skips prompts that fill the context', () => {
    const long = { instruction: '설명해 주세요.', output: '가나다라마바사 '.repeat(60) };
    const huge = { instruction: '아주 긴 질문 '.repeat(80), output: '네.' };
    const report = convertRecords([record, long, huge], tok, chatml, 48);
    expect(report.truncated).toEqual([1]);
    expect(report.skipped).toEqual([2]);
    expect(report.examples.length).toBe(2);
    for (const ex of report.examples) expect(ex.ids.length).toBeLessThanOrEqual(48);
    expect(report.examples[1]!.ids.length).toBe(48);
    expect(maskedTokenCount(report.examples)).toBeGreaterThan(0);
  });

  it('rejects malformed records with the record index', () => {
    const bad = [record, { instruction: '', output: 'x' }];
    expect(() => toTrainExamples(bad, tok, chatml, 64)).toThrow(TrainExampleError);
    expect(() => toTrainExamples(bad, tok, chatml, 64)).toThrow(/record 1/);
    expect(() =>
      toTrainExamples([{ instruction: 'q', output: 7 as unknown as string }], tok, chatml, 64),
    ).toThrow(/output/);
    expect(() => toTrainExamples([record], tok, chatml, 1)).toThrow(/maxSeqLen/);
  });
});

describe('textExample', () => {
  it('predicts every token but the first', () => {
    const ex = textExample([5, 6, 7]);
    expect([...ex.lossMask]).toEqual([0, 1, 1]);
    expect([...ex.ids]).toEqual([5, 6, 7]);
    expect(() => textExample([1])).toThrow(TrainExampleError);
  });
});
