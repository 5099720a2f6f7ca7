/**
 * The task wizard's form as data, and the request it becomes (issue #20 item 1). The base model's
 * hash and module shapes come from the server's model list (read from the GGUF), never typed; the
 * cohort/privacy rules are src/protocol/task-rules.ts, the same function the server applies, so the
 * wizard refuses exactly what the server would.
 */
import type { BaseModelInfo, CreateTaskRequest, StrategyName } from '../protocol/schemas.ts';
import { taskRuleViolations } from '../protocol/task-rules.ts';

export type WizardStrategy = Extract<StrategyName, 'fedavg' | 'ffa-lora' | 'median' | 'trimmed-mean'>;
export const WIZARD_STRATEGIES: WizardStrategy[] = ['fedavg', 'ffa-lora', 'median', 'trimmed-mean'];

export interface WizardForm {
  name: string;
  modelId: string;
  rank: number;
  alpha: number;
  targets: string[];
  strategy: WizardStrategy;
  rounds: number;
  localSteps: number;
  deadlineMinutes: number;
  minParticipants: number;
  secureAggregation: boolean;
  dp: boolean;
  epsilon: number;
  delta: number;
  normBound: number;
  publicAdapters: boolean;
  gateTolerancePercent: number;
  members: string[];
}

export const defaultForm = (): WizardForm => ({
  name: '',
  modelId: '',
  rank: 8,
  alpha: 16,
  targets: ['q_proj', 'v_proj'],
  strategy: 'fedavg',
  rounds: 3,
  localSteps: 20,
  deadlineMinutes: 30,
  minParticipants: 3,
  secureAggregation: true,
  dp: false,
  epsilon: 8,
  delta: 1e-5,
  normBound: 1,
  publicAdapters: false,
  gateTolerancePercent: 2,
  members: [],
});

/** A field the form must fix, with the words to show beside it. */
export interface WizardProblem {
  field: keyof WizardForm | 'dp';
  ko: string;
  en: string;
}

const num = (v: number, ok: (x: number) => boolean) => typeof v === 'number' && Number.isFinite(v) && ok(v);

/** What is wrong with the form (empty: it may be submitted). */
export function wizardProblems(form: WizardForm, model: BaseModelInfo | undefined): WizardProblem[] {
  const out: WizardProblem[] = [];
  const need = (field: WizardProblem['field'], ok: boolean, ko: string, en: string) => {
    if (!ok) out.push({ field, ko, en });
  };
  need(
    'name',
    form.name.trim().length > 0 && form.name.length <= 200,
    '과제 이름을 넣으세요',
    'Enter a task name',
  );
  need('modelId', model !== undefined, '기반 모델을 고르세요', 'Choose a base model');
  need(
    'rank',
    num(form.rank, (x) => Number.isInteger(x) && x >= 1 && x <= 1024),
    '랭크는 1~1024의 정수입니다',
    'Rank is an integer from 1 to 1024',
  );
  need(
    'alpha',
    num(form.alpha, (x) => x > 0 && x <= 1e6),
    '알파는 0보다 커야 합니다',
    'Alpha must be above 0',
  );
  need('targets', form.targets.length > 0, '모듈을 하나 이상 고르세요', 'Choose at least one module');
  if (model)
    for (const m of form.targets)
      need(
        'targets',
        m in model.shape.modules,
        `이 모델에는 ${m} 모듈이 없습니다`,
        `This model has no ${m} module`,
      );
  need(
    'rounds',
    num(form.rounds, (x) => Number.isInteger(x) && x >= 1 && x <= 10_000),
    '라운드는 1~10000의 정수입니다',
    'Rounds is an integer from 1 to 10000',
  );
  need(
    'localSteps',
    num(form.localSteps, (x) => Number.isInteger(x) && x >= 1),
    '학습 단계는 1 이상의 정수입니다',
    'Steps is an integer of at least 1',
  );
  need(
    'deadlineMinutes',
    num(form.deadlineMinutes, (x) => x > 0 && x <= 30 * 24 * 60),
    '제한 시간은 0분보다 길고 30일 이하입니다',
    'The time limit is above 0 and at most 30 days',
  );
  need(
    'normBound',
    num(form.normBound, (x) => x > 0),
    '노름 상한은 0보다 커야 합니다',
    'The norm bound must be above 0',
  );
  if (form.dp) {
    need(
      'epsilon',
      num(form.epsilon, (x) => x > 0 && x <= 100),
      'ε는 0보다 크고 100 이하입니다',
      'ε is above 0 and at most 100',
    );
    need(
      'delta',
      num(form.delta, (x) => x > 0 && x < 1),
      'δ는 0과 1 사이입니다',
      'δ is between 0 and 1',
    );
  }
  need(
    'gateTolerancePercent',
    num(form.gateTolerancePercent, (x) => x >= 0 && x <= 1000),
    '허용 오차는 0~1000%입니다',
    'The tolerance is 0–1000 %',
  );
  for (const v of taskRuleViolations(toRuleInput(form)))
    out.push({ field: v.field === 'strategy' ? 'strategy' : v.field, ko: v.ko, en: v.en });
  return out;
}

const toRuleInput = (form: WizardForm) => ({
  minParticipants: form.minParticipants,
  publicAdapters: form.publicAdapters,
  privacy: {
    secureAggregation: form.secureAggregation,
    dp: form.dp ? { epsilon: form.epsilon, delta: form.delta } : null,
  },
  strategy: { name: form.strategy },
});

/** The API request the form describes; `seed` fixes LoRA A's initialisation (random per task). */
export function toCreateTaskRequest(form: WizardForm, model: BaseModelInfo, seed: number): CreateTaskRequest {
  const modules: CreateTaskRequest['modelShape']['modules'] = {};
  for (const m of form.targets) modules[m] = model.shape.modules[m]!;
  return {
    name: form.name.trim(),
    baseModel: { id: model.id, sha256: model.sha256 },
    modelShape: { numLayers: model.shape.numLayers, modules },
    lora: { rank: form.rank, alpha: form.alpha, targetModules: [...form.targets], seed },
    strategy:
      form.strategy === 'trimmed-mean'
        ? { name: 'trimmed-mean', trimFraction: 0.1 }
        : { name: form.strategy },
    rounds: form.rounds,
    localEpochs: 1,
    localSteps: form.localSteps,
    minParticipants: form.minParticipants,
    roundDeadlineSeconds: form.deadlineMinutes * 60,
    maxUpdateNorm: form.normBound,
    publicAdapters: form.publicAdapters,
    privacy: toRuleInput(form).privacy,
    releaseEvalLossTolerance: form.gateTolerancePercent / 100,
  };
}
