/**
 * The shapes the knowledge base is made of (issue 17): a source document's citable sections, and
 * the passages retrieval returns and answers cite. Plain data, so they cross worker boundaries.
 */

/** What a document says about itself (Markdown front matter, HTML meta, JSON record fields). */
export interface DocumentMeta {
  title?: string;
  url?: string;
  /** ISO date (YYYY-MM-DD) the rules in the document take effect. */
  effective_date?: string;
  /** ISO date (YYYY-MM-DD) after which the document is no longer in force and is never retrieved. */
  valid_until?: string;
}

/** One citable section: the text under one heading, with the headings above it. */
export interface Section {
  /** Heading path from the top, e.g. ['전입신고', '필요한 서류']; empty for text before any heading. */
  headings: string[];
  text: string;
  /** Per-section overrides (a JSON record carries its own url and dates). */
  meta?: DocumentMeta;
}

/** A parsed source document. */
export interface ParsedDocument {
  /** The file name as given to the builder (relative path, '/' separators). */
  source: string;
  meta: DocumentMeta;
  sections: Section[];
}

/** One retrievable passage (~300–500 characters) of one section. */
export interface Passage {
  /** `${source}#${n}`: stable for the same input. */
  id: string;
  source: string;
  title: string;
  /** The nearest heading (what a citation names); the title when the text precedes any heading. */
  section: string;
  headings: string[];
  url?: string;
  /** Slug of the section heading, for linking to `url#anchor`. */
  anchor?: string;
  effective_date?: string;
  valid_until?: string;
  text: string;
}
