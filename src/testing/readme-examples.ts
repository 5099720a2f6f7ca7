/**
 * README's code examples, read from README.md itself so tests run exactly what a reader copies.
 * Each example is the fenced block after a `<!-- readme-example: NAME … -->` comment. Tests may
 * replace only the documented placeholders (`PLACEHOLDERS`), and each replacement must find its
 * placeholder, so an edited README cannot drift away from what is tested.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const README = resolve(dirname(fileURLToPath(import.meta.url)), '../../README.md');

export type ExampleName = 'embed' | 'portal-sw' | 'sdk' | 'importmap';

/** The placeholders README's examples document, as they appear there. */
export const PLACEHOLDERS = {
  /** The portal's origin in URLs (`https://portal.example.go.kr/dure/dure-chat.js`). */
  origin: 'https://portal.example.go.kr',
  /** The model's URL. */
  model: '/models/model.gguf',
  /** The model's SHA-256, as an attribute value (embed). */
  sha256Attribute: '<hex SHA-256 of model.gguf>',
  /** The model's SHA-256, as a JavaScript string (sdk), quotes included. */
  sha256String: "'…'",
} as const;

export function readmeExample(name: ExampleName): string {
  const text = readFileSync(README, 'utf8');
  const marker = new RegExp(`<!-- readme-example: ${name}\\b[^>]*-->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\``);
  const m = marker.exec(text);
  if (!m?.[1]) throw new Error(`README.md has no example marked "readme-example: ${name}"`);
  return m[1];
}

/** `code` with documented placeholders replaced (every occurrence); throws if one is absent. */
export function fillPlaceholders(
  code: string,
  values: Partial<Record<keyof typeof PLACEHOLDERS, string>>,
): string {
  let out = code;
  for (const [key, value] of Object.entries(values)) {
    const placeholder = PLACEHOLDERS[key as keyof typeof PLACEHOLDERS];
    if (!out.includes(placeholder)) throw new Error(`README example lost its placeholder ${placeholder}`);
    out = out.split(placeholder).join(value);
  }
  return out;
}
