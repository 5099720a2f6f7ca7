/**
 * Splits text at special tokens before the model runs (llama.cpp `tokenizer_st_partition`): each
 * special token, longest first, is searched in every remaining text fragment. With
 * `parseSpecial: false` only USER_DEFINED tokens are matched — CONTROL and UNKNOWN tokens stay text,
 * so user input cannot forge e.g. `<|im_end|>`.
 */
import { Attr, type Vocab } from './vocab.ts';

export type Fragment = { text: string } | { id: number };

export class SpecialSplitter {
  /** Special tokens grouped by their first UTF-16 unit, each group in global (longest-first) order. */
  private readonly byFirst = new Map<number, number[]>();
  private readonly order = new Map<number, number>();

  constructor(private readonly vocab: Vocab) {
    vocab.specialTokens.forEach((id, rank) => {
      this.order.set(id, rank);
      const first = vocab.text(id).charCodeAt(0);
      let list = this.byFirst.get(first);
      if (!list) this.byFirst.set(first, (list = []));
      list.push(id);
    });
  }

  split(text: string, parseSpecial: boolean): Fragment[] {
    if (text.length === 0) return [];
    // Only tokens whose first character occurs in the text can match; checking just those keeps
    // vocabularies with thousands of added tokens (Gemma) fast, and the order stays llama.cpp's.
    const seen = new Set<number>();
    let candidates: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (seen.has(c)) continue;
      seen.add(c);
      const list = this.byFirst.get(c);
      if (list) candidates = candidates.concat(list);
    }
    if (candidates.length === 0) return [{ text }];
    candidates.sort((a, b) => (this.order.get(a) ?? 0) - (this.order.get(b) ?? 0));

    let fragments: Fragment[] = [{ text }];
    for (const id of candidates) {
      if (!parseSpecial && this.vocab.attr(id) & (Attr.Control | Attr.Unknown)) continue;
      const tok = this.vocab.text(id);
      const next: Fragment[] = [];
      for (const f of fragments) {
        if (!('text' in f)) {
          next.push(f);
          continue;
        }
        let from = 0;
        for (;;) {
          const at = f.text.indexOf(tok, from);
          if (at < 0) break;
          if (at > from) next.push({ text: f.text.slice(from, at) });
          next.push({ id });
          from = at + tok.length;
        }
        if (from < f.text.length) next.push({ text: from === 0 ? f.text : f.text.slice(from) });
      }
      fragments = next;
    }
    return fragments;
  }
}
