/**
 * A tiny WGSL preprocessor: `#include "name"`, `#ifdef NAME` / `#ifndef NAME` / `#else` / `#endif`,
 * and textual replacement of defined identifiers. Kernel variants (quant type, subgroups, f16,
 * workgroup size) are composed from snippets this way, as llama.cpp's ggml-webgpu shaders are,
 * and compiled on demand instead of being enumerated at build time.
 */
import { ShaderError } from '../errors.ts';

export type Defines = Readonly<Record<string, string | number | boolean>>;

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/g;

/**
 * @param source   WGSL text with directives.
 * @param defines  Identifiers to define; `true` defines without a value, `false` leaves undefined.
 * @param includes Named snippets available to `#include "name"`.
 * @throws {ShaderError} on unbalanced conditionals, unknown includes or include cycles.
 */
export function preprocessWgsl(
  source: string,
  defines: Defines = {},
  includes: Readonly<Record<string, string>> = {},
): string {
  const defined = new Map<string, string>();
  for (const [k, v] of Object.entries(defines)) {
    if (v === false) continue;
    defined.set(k, v === true ? '' : String(v));
  }
  const out: string[] = [];
  expand(source, defined, includes, out, []);
  return out.join('\n');
}

function expand(
  source: string,
  defined: Map<string, string>,
  includes: Readonly<Record<string, string>>,
  out: string[],
  stack: string[],
): void {
  // One frame per open #ifdef: whether its current branch is taken.
  const conds: { active: boolean }[] = [];
  const active = () => conds.every((c) => c.active);
  for (const line of source.split('\n')) {
    const t = line.trim();
    const directive = /^#(\w+)\s*(.*)$/.exec(t);
    if (directive) {
      const [, name, arg = ''] = directive;
      switch (name) {
        case 'ifdef':
        case 'ifndef': {
          const has = defined.has(arg.trim());
          conds.push({ active: name === 'ifdef' ? has : !has });
          continue;
        }
        case 'else': {
          const top = conds.at(-1);
          if (!top) throw new ShaderError(`#else without #ifdef in ${stack.at(-1) ?? 'source'}`);
          top.active = !top.active;
          continue;
        }
        case 'endif':
          if (!conds.pop()) throw new ShaderError(`#endif without #ifdef in ${stack.at(-1) ?? 'source'}`);
          continue;
        case 'include': {
          if (!active()) continue;
          const inc = /^"([^"]+)"$/.exec(arg.trim())?.[1];
          if (!inc || !(inc in includes)) throw new ShaderError(`unknown WGSL include ${arg}`);
          if (stack.includes(inc))
            throw new ShaderError(`WGSL include cycle: ${[...stack, inc].join(' → ')}`);
          expand(includes[inc] as string, defined, includes, out, [...stack, inc]);
          continue;
        }
        case 'define': {
          if (!active()) continue;
          const m = /^(\w+)\s*(.*)$/.exec(arg);
          if (m) defined.set(m[1] as string, m[2] ?? '');
          continue;
        }
        default:
          throw new ShaderError(`unknown WGSL directive #${name}`);
      }
    }
    if (!active()) continue;
    out.push(line.replace(IDENT, (id) => defined.get(id) || id));
  }
  if (conds.length) throw new ShaderError(`unterminated #ifdef in ${stack.at(-1) ?? 'source'}`);
}
