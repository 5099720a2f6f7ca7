/**
 * Wire schemas of the federated API (TypeBox: JSON Schema for the server's validation and
 * OpenAPI document, static types for the browser client). Nothing else is shared between them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { SecureFitSchema } from './secure-round.ts';

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Dim = Type.Integer({ minimum: 1, maximum: 1_048_576 });

export const ModuleShapeSchema = Type.Object(
  { inFeatures: Dim, outFeatures: Dim },
  { additionalProperties: false },
);
export const ModelShapeSchema = Type.Object(
  {
    numLayers: Type.Integer({ minimum: 1, maximum: 1024 }),
    modules: Type.Record(Type.String({ pattern: '^[a-z_]{1,32}$' }), ModuleShapeSchema),
  },
  { additionalProperties: false },
);
export type ModelShape = Static<typeof ModelShapeSchema>;
export const LoraConfigSchema = Type.Object(
  {
    rank: Type.Integer({ minimum: 1, maximum: 1024 }),
    alpha: Type.Number({ exclusiveMinimum: 0, maximum: 1e6 }),
    targetModules: Type.Array(Type.String({ pattern: '^[a-z_]{1,32}$' }), {
      minItems: 1,
      maxItems: 16,
      uniqueItems: true,
    }),
    seed: Type.Integer({ minimum: 0, maximum: 4294967295 }),
  },
  { additionalProperties: false },
);

/** Strategy configuration: a discriminated union, so each strategy gets exactly its own knobs. */
export const StrategyConfigSchema = Type.Union([
  Type.Object({ name: Type.Literal('fedavg') }, { additionalProperties: false }),
  Type.Object(
    { name: Type.Literal('fedprox'), mu: Type.Number({ minimum: 0, maximum: 100 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      name: Type.Union([Type.Literal('fedadam'), Type.Literal('fedyogi')]),
      eta: Type.Number({ exclusiveMinimum: 0, maximum: 10 }),
      beta1: Type.Number({ minimum: 0, exclusiveMaximum: 1 }),
      beta2: Type.Number({ minimum: 0, exclusiveMaximum: 1 }),
      tau: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ name: Type.Literal('median') }, { additionalProperties: false }),
  Type.Object(
    { name: Type.Literal('trimmed-mean'), trimFraction: Type.Number({ minimum: 0, exclusiveMaximum: 0.5 }) },
    { additionalProperties: false },
  ),
  Type.Object({ name: Type.Literal('ffa-lora') }, { additionalProperties: false }),
]);
export type StrategyConfig = Static<typeof StrategyConfigSchema>;
export type StrategyName = StrategyConfig['name'];

/** Smallest cohort a round may aggregate when the task does not say (k). */
export const DEFAULT_MIN_COHORT = 3;
/** Smallest cohort a task that publishes adapters to citizens may declare. */
export const PUBLIC_MIN_COHORT = 5;

/**
 * Privacy configuration of a task (validated now; the mechanisms are built in src/protocol/secagg
 * and src/protocol/privacy). `dp: null` means no differential privacy.
 */
export const PrivacyConfigSchema = Type.Object(
  {
    secureAggregation: Type.Boolean(),
    dp: Type.Union([
      Type.Null(),
      Type.Object(
        {
          epsilon: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
          delta: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
        },
        { additionalProperties: false },
      ),
    ]),
    /**
     * Length of each secure-aggregation phase after the roster is fixed (share keys, masked input,
     * unmask): quick steps, so a client that misses one is treated as dropped. Default 60 s. A task
     * with air-gapped members (망연계, src/protocol/airgap.ts) needs phases as long as a file
     * transfer round trip, hours to days: up to 7 days.
     */
    phaseSeconds: Type.Optional(Type.Number({ minimum: 0.05, maximum: 7 * 24 * 3600 })),
  },
  { additionalProperties: false },
);
export type PrivacyConfig = Static<typeof PrivacyConfigSchema>;

export const CreateTaskRequestSchema = Type.Object(
  {
    name: Name,
    baseModel: Type.Object({ id: Name, sha256: Sha256 }, { additionalProperties: false }),
    modelShape: ModelShapeSchema,
    lora: LoraConfigSchema,
    strategy: StrategyConfigSchema,
    rounds: Type.Integer({ minimum: 1, maximum: 10_000 }),
    localEpochs: Type.Integer({ minimum: 1, maximum: 1000 }),
    localSteps: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    /**
     * The per-round minimum cohort k: a round never aggregates fewer updates. Default
     * DEFAULT_MIN_COHORT (3); never below 2; a task publishing adapters needs PUBLIC_MIN_COHORT (5).
     */
    minParticipants: Type.Optional(Type.Integer({ minimum: 2, maximum: 100_000 })),
    roundDeadlineSeconds: Type.Number({ minimum: 0.05, maximum: 30 * 24 * 3600 }),
    /** L2 bound on an update's distance from the round's global adapter. */
    maxUpdateNorm: Type.Number({ exclusiveMinimum: 0 }),
    /** Whether widgets may download this task's adapters without signing (needs k ≥ 5 and DP). */
    publicAdapters: Type.Boolean(),
    /** How updates are protected; absent means neither secure aggregation nor DP. */
    privacy: Type.Optional(PrivacyConfigSchema),
    /**
     * Release gate: how much worse (relative, 0.02 = 2 %) a candidate's cohort-reported eval loss
     * may be than the stable version's before an admin can no longer approve it without an
     * attached evaluation. Default 0.02 (federated-server/src/releases.ts).
     */
    releaseEvalLossTolerance: Type.Optional(Type.Number({ minimum: 0, maximum: 10 })),
  },
  { additionalProperties: false },
);
export type CreateTaskRequest = Static<typeof CreateTaskRequestSchema>;

export const RoundStateSchema = Type.Union([
  Type.Literal('open'),
  Type.Literal('collecting'),
  Type.Literal('aggregating'),
  Type.Literal('closed'),
  Type.Literal('failed'),
]);
export type RoundState = Static<typeof RoundStateSchema>;

/** One round as the admin API reports it (`GET /v1/admin/tasks/:id`), participants included. */
export interface RoundDetail {
  number: number;
  state: RoundState;
  globalVersion: number;
  openedAt: number;
  deadlineAt: number;
  closedAt: number | null;
  failureReason: string | null;
  metrics: Record<string, number> | null;
  participants: {
    institutionId: string;
    status: string;
    numExamples: number;
    norm: number;
    trainLoss: number | null;
    receivedAt: number;
  }[];
}

export const TaskStateSchema = Type.Union([
  Type.Literal('created'),
  Type.Literal('running'),
  Type.Literal('completed'),
  Type.Literal('failed'),
]);
export type TaskState = Static<typeof TaskStateSchema>;

export const TaskSchema = Type.Intersect([
  CreateTaskRequestSchema,
  Type.Object({
    id: Id,
    state: TaskStateSchema,
    completedRounds: Type.Integer(),
    latestVersion: Type.Integer(),
    createdAt: Type.String(),
  }),
]);
export type Task = Static<typeof TaskSchema>;

/** What a client is told to do in a round (Flower's configure_fit result). */
export const FitInstructionsSchema = Type.Object({
  taskId: Id,
  round: Type.Integer(),
  globalVersion: Type.Integer(),
  globalSha256: Sha256,
  localEpochs: Type.Integer(),
  localSteps: Type.Integer(),
  /** FedProx proximal term weight; 0 means plain local SGD. */
  proximalMu: Type.Number(),
  /** False in FFA-LoRA: A stays frozen at the seeded value and only lora_B tensors are sent. */
  trainA: Type.Boolean(),
  /**
   * The task's L2 bound on an update's distance from the global adapter: clients clip to it
   * before uploading (the server refuses updates beyond it with NORM_EXCEEDED).
   */
  maxUpdateNorm: Type.Number(),
  deadline: Type.String(),
  /**
   * Present when the task runs under secure aggregation: the client does not upload its update but
   * takes part in the phases of `GET …/rounds/:n/secure`, with the parameters fixed by the task.
   */
  secure: Type.Optional(SecureFitSchema),
});
export type FitInstructions = Static<typeof FitInstructionsSchema>;

export const WorkResponseSchema = Type.Object({
  taskState: TaskStateSchema,
  round: Type.Union([
    Type.Null(),
    Type.Object({ number: Type.Integer(), state: RoundStateSchema, deadline: Type.String() }),
  ]),
  instructions: Type.Union([Type.Null(), FitInstructionsSchema]),
  /** This institution already has an accepted update in the current round. */
  submitted: Type.Boolean(),
});
export type WorkResponse = Static<typeof WorkResponseSchema>;

export const EnrollRequestSchema = Type.Object(
  {
    code: Type.String({ minLength: 16, maxLength: 128 }),
    publicKey: Type.String({ minLength: 43, maxLength: 44 }),
  },
  { additionalProperties: false },
);
export type EnrollRequest = Static<typeof EnrollRequestSchema>;
export const EnrollResponseSchema = Type.Object({ institutionId: Id, name: Name });
export type EnrollResponse = Static<typeof EnrollResponseSchema>;

export const UpdateReceiptSchema = Type.Object({
  updateId: Type.Integer(),
  round: Type.Integer(),
  sha256: Sha256,
  /** True when this exact update had already been accepted (a retry after a lost response). */
  duplicate: Type.Boolean(),
});
export type UpdateReceipt = Static<typeof UpdateReceiptSchema>;

export const AdapterVersionSchema = Type.Object({
  taskId: Id,
  version: Type.Integer(),
  parentVersion: Type.Union([Type.Null(), Type.Integer()]),
  round: Type.Union([Type.Null(), Type.Integer()]),
  sha256: Sha256,
  participants: Type.Array(Type.String()),
  metrics: Type.Record(Type.String(), Type.Number()),
  createdAt: Type.String(),
});
export type AdapterVersion = Static<typeof AdapterVersionSchema>;

/**
 * A registry version as an institution sees it: aggregate facts only. No participant list, no
 * example totals, norms or losses, nothing that lets one peer difference two rounds to learn
 * about another (the admin API still shows those to the operator).
 */
export const RegistryEntrySchema = Type.Object({
  taskId: Id,
  version: Type.Integer(),
  /** The round that produced it (null for the seeded version 0). */
  round: Type.Union([Type.Null(), Type.Integer()]),
  sha256: Sha256,
  createdAt: Type.String(),
  /** The cohort had at least this many participants (the task's k); null for version 0. */
  cohortAtLeast: Type.Union([Type.Null(), Type.Integer()]),
});
export type RegistryEntry = Static<typeof RegistryEntrySchema>;

/** An institution's membership of a task, as the admin API reports it. */
export const TaskMemberSchema = Type.Object({
  taskId: Id,
  institutionId: Id,
  /** Cap on this institution's aggregation weight (weight = min(reported examples, cap)); null: equal weight 1. */
  maxWeight: Type.Union([Type.Null(), Type.Number()]),
  addedAt: Type.String(),
});
export type TaskMember = Static<typeof TaskMemberSchema>;

/** Keys clients put in an update's safetensors `__metadata__`. */
export const UPDATE_META = {
  numExamples: 'dure.num_examples',
  trainLoss: 'dure.train_loss',
  evalLoss: 'dure.eval_loss',
  round: 'dure.round',
} as const;

/** Keys of a global adapter's self-description (defined with the adapter codec). */
export { ADAPTER_META } from './adapter-codec.ts';

export const ErrorResponseSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

// ── admins and governed releases (federated-server/src/admins.ts, releases.ts; the dashboard) ──

/** A named admin. */
export interface AdminIdentity {
  id: string;
  name: string;
  status: 'active' | 'disabled';
  createdAt: number;
  createdBy: string;
  disabledAt: number | null;
}

export type ReleaseState = 'candidate' | 'published' | 'rejected';

/** An evaluation an operator ran and attached (from `npx dure eval` or another held-out check). */
/** An evaluation an operator ran and attached (from `npx dure eval` or another held-out check). */
export interface OperatorEvaluation {
  passed: boolean;
  summary: string;
  metrics: Record<string, number>;
  tool: string | null;
  attachedBy: string;
  attachedAt: number;
}

export interface GateResult {
  passed: boolean;
  basis: 'operator_evaluation' | 'cohort_eval_loss';
  reason: string;
  candidateEvalLoss: number | null;
  baselineEvalLoss: number | null;
  baselineVersion: number | null;
  tolerance: number;
}

export interface Decision {
  state: 'published' | 'rejected';
  by: string;
  at: number;
  note: string;
  gate?: GateResult;
}

export interface Release {
  version: number;
  parentVersion: number | null;
  round: number | null;
  sha256: string;
  state: ReleaseState;
  /** Whether `stable` points here now. */
  stable: boolean;
  metrics: Record<string, number>;
  evaluation: OperatorEvaluation | null;
  /** The gate as it stands against the current stable version (candidates), or as decided. */
  gate: GateResult | null;
  decision: Decision | null;
  createdAt: number;
}

/** One base model the server knows (`GET /v1/admin/models`; federated-server/src/model-catalog.ts). */
export interface BaseModelInfo {
  /** The file name without `.gguf`: the task's `baseModel.id`. */
  id: string;
  file: string;
  bytes: number;
  /** SHA-256 of the GGUF file, computed by the server. */
  sha256: string;
  /** `general.architecture` from the GGUF metadata. */
  architecture: string;
  /** From the descriptor beside the file (quantization, parameters), when there is one. */
  description: string | null;
  /** Layer count and each LoRA-targetable module's in/out features, read from the tensor infos. */
  shape: ModelShape;
}

/**
 * Who takes part in a task's current round (`GET /v1/admin/tasks/:id/activity`), for admins only:
 * institutions never see who else trains (issue #15's aggregate-only rule).
 */
export interface TaskActivity {
  /** The current round (open, collecting or aggregating), or null between rounds. */
  round: { number: number; state: RoundState; deadlineAt: number; securePhase: string | null } | null;
  institutions: {
    institutionId: string;
    name: string;
    /** `secure`: took part in the round's secure-aggregation phases; `submitted`: its update arrived. */
    activity: 'secure' | 'submitted';
  }[];
}

/** Where institution staff go (`GET /v1/admin/deployment`): for the enrolment instructions. */
export interface DeploymentInfo {
  /** The institution console's address (DURE_CONSOLE_URL), or null when not configured. */
  consoleUrl: string | null;
  /** The server address institutions enter in the console: this server's own origin. */
  serverUrl: string;
}
