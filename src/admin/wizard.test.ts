import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { CreateTaskRequestSchema, type BaseModelInfo } from '../protocol/schemas.ts';
import { defaultForm, toCreateTaskRequest, wizardProblems, type WizardForm } from './wizard.ts';

const model: BaseModelInfo = {
  id: 'demo',
  file: 'demo.gguf',
  bytes: 10,
  sha256: 'b'.repeat(64),
  architecture: 'llama',
  description: null,
  shape: {
    numLayers: 2,
    modules: { q_proj: { inFeatures: 256, outFeatures: 256 }, v_proj: { inFeatures: 256, outFeatures: 128 } },
  },
};
const form = (o: Partial<WizardForm> = {}): WizardForm => ({
  ...defaultForm(),
  name: '민원 과제',
  modelId: 'demo',
  ...o,
});

describe('task wizard form', () => {
  it('turns a filled form into a request the server schema accepts, shapes and hash from the model', () => {
    const f = form({ dp: true, epsilon: 4, strategy: 'ffa-lora' });
    expect(wizardProblems(f, model)).toEqual([]);
    const req = toCreateTaskRequest(f, model, 7);
    expect(Value.Check(CreateTaskRequestSchema, req)).toBe(true);
    expect(req.baseModel).toEqual({ id: 'demo', sha256: model.sha256 });
    expect(req.modelShape.modules['v_proj']).toEqual({ inFeatures: 256, outFeatures: 128 });
    expect(req.privacy).toEqual({ secureAggregation: true, dp: { epsilon: 4, delta: 1e-5 } });
    expect(req.roundDeadlineSeconds).toBe(30 * 60);
  });

  it('refuses unsafe combinations before submit, naming the field', () => {
    const fields = (o: Partial<WizardForm>) => wizardProblems(form(o), model).map((p) => p.field);
    expect(fields({ secureAggregation: false, dp: true })).toEqual(['dp']);
    expect(fields({ strategy: 'median' })).toEqual(['strategy']);
    expect(fields({ publicAdapters: true })).toEqual(['minParticipants', 'publicAdapters']);
    expect(fields({ minParticipants: 1 })).toEqual(['minParticipants']);
    expect(fields({ targets: ['o_proj'] })).toEqual(['targets']);
    expect(fields({ name: ' ', modelId: 'x' })).toEqual(['name']);
    expect(wizardProblems(form(), undefined).map((p) => p.field)).toEqual(['modelId']);
  });
});
