/**
 * The portal knowledge base (issue 17): building kb.json from documents, verifying a downloaded
 * one, and retrieving passages to ground and cite answers. Platform-neutral: runs in a worker and
 * in Node.
 */
export type { DocumentMeta, ParsedDocument, Passage, Section } from './types.ts';
export { buildKnowledgeBase, isSourceFile, parseSourceFile, type SourceFile } from './build.ts';
export {
  KB_FORMAT,
  KB_LIMITS,
  makeKnowledgeBase,
  parseKnowledgeBase,
  serializeKnowledgeBase,
  type KnowledgeBaseFile,
} from './kb-file.ts';
export {
  Bm25Retriever,
  DEFAULT_THRESHOLD,
  DEFAULT_TOKENIZER,
  type Bm25Options,
  type Retriever,
  type ScoredPassage,
} from './retriever.ts';
export { TOKENIZER_NAMES, tokenize, type TokenizerName } from './tokenize.ts';
export { evaluateRetrieval, parseQaJsonl, type QaItem, type MethodReport } from './evaluate.ts';
