import { describe, expect, it } from 'vitest';
import { ShaderError } from '../errors.ts';
import { preprocessWgsl } from './wgsl-preprocess.ts';

describe('preprocessWgsl', () => {
  it('substitutes defines and selects branches', () => {
    const src = '#ifdef SUB\nlet s = 1;\n#else\nlet s = 2;\n#endif\n@workgroup_size(WG)';
    expect(preprocessWgsl(src, { SUB: true, WG: 64 })).toBe('let s = 1;\n@workgroup_size(64)');
    expect(preprocessWgsl(src, { WG: 32 })).toBe('let s = 2;\n@workgroup_size(32)');
  });
  it('resolves nested includes and rejects cycles', () => {
    expect(preprocessWgsl('#include "a"', {}, { a: 'x\n#include "b"', b: 'y' })).toBe('x\ny');
    expect(() => preprocessWgsl('#include "a"', {}, { a: '#include "a"' })).toThrow(ShaderError);
  });
  it('rejects unbalanced conditionals', () => {
    expect(() => preprocessWgsl('#ifdef X\nfoo')).toThrow(ShaderError);
    expect(() => preprocessWgsl('#endif')).toThrow(ShaderError);
  });
});
