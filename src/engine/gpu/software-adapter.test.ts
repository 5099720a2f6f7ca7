import { describe, expect, it } from 'vitest';
import { isSoftwareAdapter } from './probe.ts';

describe('isSoftwareAdapter', () => {
  it('recognises the emulators by what they report', () => {
    // What Chromium's SwiftShader reports through Dawn on this kind of machine.
    expect(
      isSoftwareAdapter({
        vendor: 'google',
        architecture: 'swiftshader',
        device: 'swiftshader-device-subzero-',
        description: 'SwiftShader driver 5.0.0',
      }),
    ).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.7, 256 bits)' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', device: 'lavapipe' })).toBe(true);
    expect(isSoftwareAdapter({ description: 'Microsoft Basic Render Driver' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'unknown', isFallbackAdapter: true })).toBe(true);
  });
  it('leaves real GPUs alone', () => {
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' })).toBe(
      false,
    );
    expect(isSoftwareAdapter({ vendor: 'intel', architecture: 'gen-12lp', isFallbackAdapter: false })).toBe(
      false,
    );
    expect(isSoftwareAdapter({ vendor: 'apple', architecture: 'metal-3' })).toBe(false);
    // "Hardware" contains "warp" only as part of a word: not WARP.
    expect(isSoftwareAdapter({ description: 'Radeon hardware warpdrive' })).toBe(false);
  });
});
