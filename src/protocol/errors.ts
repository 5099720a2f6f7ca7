/**
 * Dure's one error catalogue: every error class Dure raises on purpose, its stable codes, and a
 * plain Korean and English message for each code. Errors cross worker and process boundaries as
 * plain data (`toErrorData`) and are rebuilt as the same class on the other side
 * (`fromErrorData`). The rebuilding registry is made from the catalogue in this module, and the
 * catalogue imports every class, so whoever can rebuild an error can rebuild every one of them:
 * no side-effect import can be forgotten. A test checks that every class under ./errors/ is
 * catalogued and that every code thrown in the source is.
 */
import { DureError } from './errors/dure-error.ts';
import {
  GpuUnavailableError,
  GpuDeviceLostError,
  ShaderError,
  ModelTooLargeError,
  EngineStateError,
  EngineRequestError,
  ContextOverflowError,
  ModelTensorError,
  UnsupportedArchitectureError,
  ModelMetadataError,
  UnsupportedRopeScalingError,
  UnsupportedWeightTypeError,
  WasmEngineError,
} from './errors/engine.ts';
import {
  GgufTruncatedError,
  GgufBadMagicError,
  GgufUnsupportedVersionError,
  GgufUnknownTypeError,
  GgufTensorOutOfBoundsError,
  GgufLimitError,
  GgufUnknownArchError,
  GgufMetadataError,
  GgufInvalidError,
  GgufReadError,
} from './errors/gguf.ts';
import {
  TokenizerUnsupportedError,
  TokenizerMetadataError,
  TokenIdError,
  TokenizerInputError,
  TokenizerConversionError,
  ChatTemplateError,
  ChatTemplateRejectedError,
} from './errors/tokenizer.ts';
import {
  LoraAdapterError,
  LoraUnsupportedError,
  TrainingUnsupportedError,
  AdapterMismatchError,
  TrainingDataError,
  TrainExampleError,
} from './errors/training.ts';
import { SafetensorsError, SignatureError, AdapterShapeError } from './errors/wire.ts';
import {
  NotEnrolledError,
  ServerRefusedError,
  NetworkError,
  AdapterIntegrityError,
  TrainerContractError,
  ClientStoreError,
  LocalDataError,
  RoundAbortedError,
  DatasetError,
} from './errors/round-client.ts';
import {
  ModelIntegrityError,
  ModelQuotaError,
  ModelDownloadError,
  ModelOriginError,
  FileOpenError,
  ModelRangeUnsupportedError,
  ModelChangedError,
} from './errors/model-files.ts';
import {
  InvalidRequestError,
  NoBackendError,
  CliArgsError,
  CliInputError,
  CliCommandUnavailableError,
} from './errors/sdk-cli.ts';
import {
  KnowledgeBaseFormatError,
  KnowledgeBaseIntegrityError,
  KnowledgeSourceError,
  KnowledgeBaseDownloadError,
} from './errors/knowledge.ts';
import { FeedbackFileError, FeedbackStoreError } from './errors/feedback.ts';
import {
  FederatedError,
  AuthError,
  NotFoundError,
  ConflictError,
  UpdateRejectedError,
  StorageError,
  BlobIntegrityError,
  ServerStartError,
} from './errors/server.ts';
import { PrivacyParameterError, PrivacyBudgetExhaustedError } from './errors/privacy.ts';
import { CustomPatternError } from './errors/safety.ts';
import { SecAggProtocolError, SecAggCryptoError, ShamirError, QuantizationError } from './errors/secagg.ts';
import { AirgapFileError } from './errors/airgap.ts';

export { DureError, type DureErrorOptions } from './errors/dure-error.ts';
export {
  GpuUnavailableError,
  GpuDeviceLostError,
  ShaderError,
  ModelTooLargeError,
  EngineStateError,
  EngineRequestError,
  ContextOverflowError,
  ModelTensorError,
  UnsupportedArchitectureError,
  ModelMetadataError,
  UnsupportedRopeScalingError,
  UnsupportedWeightTypeError,
  WasmEngineError,
} from './errors/engine.ts';
export {
  GgufTruncatedError,
  GgufBadMagicError,
  GgufUnsupportedVersionError,
  GgufUnknownTypeError,
  GgufTensorOutOfBoundsError,
  GgufLimitError,
  GgufUnknownArchError,
  GgufMetadataError,
  GgufInvalidError,
  GgufReadError,
} from './errors/gguf.ts';
export {
  TokenizerUnsupportedError,
  TokenizerMetadataError,
  TokenIdError,
  TokenizerInputError,
  TokenizerConversionError,
  ChatTemplateError,
  ChatTemplateRejectedError,
} from './errors/tokenizer.ts';
export {
  LoraAdapterError,
  LoraUnsupportedError,
  TrainingUnsupportedError,
  AdapterMismatchError,
  TrainingDataError,
  TrainExampleError,
} from './errors/training.ts';
export { SafetensorsError, SignatureError, AdapterShapeError } from './errors/wire.ts';
export {
  NotEnrolledError,
  ServerRefusedError,
  NetworkError,
  AdapterIntegrityError,
  TrainerContractError,
  ClientStoreError,
  LocalDataError,
  RoundAbortedError,
  DatasetError,
} from './errors/round-client.ts';
export {
  ModelIntegrityError,
  ModelQuotaError,
  ModelDownloadError,
  ModelOriginError,
  FileOpenError,
  ModelRangeUnsupportedError,
  ModelChangedError,
} from './errors/model-files.ts';
export {
  InvalidRequestError,
  NoBackendError,
  CliArgsError,
  CliInputError,
  CliCommandUnavailableError,
} from './errors/sdk-cli.ts';
export {
  KnowledgeBaseFormatError,
  KnowledgeBaseIntegrityError,
  KnowledgeSourceError,
  KnowledgeBaseDownloadError,
} from './errors/knowledge.ts';
export { FeedbackFileError, FeedbackStoreError } from './errors/feedback.ts';
export {
  FederatedError,
  AuthError,
  NotFoundError,
  ConflictError,
  UpdateRejectedError,
  StorageError,
  BlobIntegrityError,
  ServerStartError,
} from './errors/server.ts';
export { PrivacyParameterError, PrivacyBudgetExhaustedError } from './errors/privacy.ts';
export { CustomPatternError } from './errors/safety.ts';
export {
  SecAggProtocolError,
  SecAggCryptoError,
  ShamirError,
  QuantizationError,
  type SecAggProtocolCode,
  type SecAggCryptoCode,
  type ShamirCode,
  type QuantizationCode,
} from './errors/secagg.ts';
export { AirgapFileError, type AirgapFileCode } from './errors/airgap.ts';

/** What a person is told about one code, in each language the UI offers. */
export interface ErrorText {
  ko: string;
  en: string;
}

/** One catalogue row: a class, the codes it carries and their messages. */
export interface CatalogueEntry {
  area: string;
  // Constructors differ in their extra parameters; only the message is needed to rebuild one.
  errorClass: new (message: string) => DureError;
  codes: Readonly<Record<string, ErrorText>>;
}

/** Every error class and code, grouped by area. The registry and `errorText` are built from it. */
export const ERROR_CATALOGUE: readonly CatalogueEntry[] = [
  {
    area: 'general',
    errorClass: DureError as unknown as new (message: string) => DureError,
    codes: {
      INTERNAL: {
        ko: '예기치 않은 오류가 났습니다. 다시 시도하고, 계속되면 담당자에게 알려 주세요.',
        en: 'Something unexpected went wrong. Try again, and tell the operator if it keeps happening.',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: GpuUnavailableError,
    codes: {
      GPU_UNAVAILABLE: {
        ko: '이 기기에서는 그래픽 처리장치(WebGPU)를 쓸 수 없습니다.',
        en: 'This device cannot use its graphics processor (WebGPU).',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: GpuDeviceLostError,
    codes: {
      GPU_DEVICE_LOST: {
        ko: '그래픽 처리장치와의 연결이 끊겨 답변을 이어 가지 못했습니다. 페이지를 새로 고친 뒤 다시 시도하세요.',
        en: 'The connection to the graphics processor was lost and the answer could not continue. Reload the page and try again.',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: ShaderError,
    codes: {
      SHADER: {
        ko: '그래픽 처리장치에서 계산 프로그램을 준비하지 못했습니다.',
        en: 'The graphics processor could not prepare its programs.',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: ModelTooLargeError,
    codes: {
      MODEL_TOO_LARGE: {
        ko: '이 기기에서 실행하기에는 모델이 너무 큽니다.',
        en: 'The model is too large for this device.',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: EngineStateError,
    codes: {
      ENGINE_STATE: {
        ko: '모델이 아직 준비되지 않았거나 다른 작업 중입니다. 잠시 후 다시 시도하세요.',
        en: 'The model is not ready or is busy. Try again in a moment.',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: EngineRequestError,
    codes: {
      BATCH_SIZE: {
        ko: '한 번에 처리할 수 있는 양을 넘었습니다.',
        en: 'The request is larger than the engine handles at once.',
      },
      TOP_K: { ko: '생성 설정(top-k)이 허용 범위를 벗어났습니다.', en: 'The top-k setting is out of range.' },
      PENALTY_IDS: { ko: '반복 억제 설정이 너무 깁니다.', en: 'The repetition-penalty list is too long.' },
      NO_TIMESTAMPS: {
        ko: '이 기기에서는 실행 시간 측정을 할 수 없습니다.',
        en: 'This device cannot time GPU work.',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: ContextOverflowError,
    codes: {
      CONTEXT_OVERFLOW: {
        ko: '질문이 너무 길어 모델이 한 번에 읽을 수 없습니다. 질문을 짧게 나누어 다시 물어보세요.',
        en: 'The question is too long for the model. Ask it again in shorter parts.',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: ModelTensorError,
    codes: {
      MODEL_TENSOR: {
        ko: '모델 파일의 일부가 빠졌거나 모양이 맞지 않습니다.',
        en: 'Part of the model file is missing or has the wrong shape.',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: UnsupportedArchitectureError,
    codes: {
      UNSUPPORTED_ARCHITECTURE: {
        ko: '이 모델 구조는 아직 지원하지 않습니다.',
        en: 'This model architecture is not supported yet.',
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: ModelMetadataError,
    codes: {
      MODEL_METADATA: {
        ko: '모델 파일의 설정 정보가 빠졌거나 맞지 않습니다.',
        en: "The model file's settings are missing or inconsistent.",
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: UnsupportedRopeScalingError,
    codes: {
      UNSUPPORTED_ROPE_SCALING: {
        ko: '이 모델의 위치 인코딩(RoPE) 확장 방식은 아직 지원하지 않습니다.',
        en: "This model's RoPE scaling type is not supported yet.",
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: UnsupportedWeightTypeError,
    codes: {
      UNSUPPORTED_WEIGHT_TYPE: {
        ko: '이 모델의 양자화 형식은 아직 지원하지 않습니다.',
        en: "This model's quantization type is not supported yet.",
      },
    },
  },
  {
    area: 'GPU and engine',
    errorClass: WasmEngineError,
    codes: {
      WASM_ENGINE: {
        ko: 'CPU 실행 방식(WebAssembly)에서 모델을 실행하지 못했습니다.',
        en: 'The CPU (WebAssembly) path could not run the model.',
      },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufTruncatedError,
    codes: {
      GGUF_TRUNCATED: {
        ko: '모델 파일이 중간에 끊겨 있습니다. 다시 내려받으세요.',
        en: 'The model file is cut short. Download it again.',
      },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufBadMagicError,
    codes: {
      GGUF_BAD_MAGIC: { ko: 'GGUF 모델 파일이 아닙니다.', en: 'This is not a GGUF model file.' },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufUnsupportedVersionError,
    codes: {
      GGUF_UNSUPPORTED_VERSION: {
        ko: '지원하지 않는 GGUF 버전입니다.',
        en: 'This GGUF version is not supported.',
      },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufUnknownTypeError,
    codes: {
      GGUF_UNKNOWN_TYPE: {
        ko: '모델 파일에 알 수 없는 데이터 형식이 있습니다.',
        en: 'The model file holds a data type Dure does not know.',
      },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufTensorOutOfBoundsError,
    codes: {
      GGUF_TENSOR_OUT_OF_BOUNDS: {
        ko: '모델 파일이 손상되었습니다(데이터 위치가 맞지 않음).',
        en: 'The model file is damaged (tensor data out of place).',
      },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufLimitError,
    codes: {
      GGUF_LIMIT: {
        ko: '모델 파일의 크기 정보가 비정상적입니다.',
        en: 'The model file states impossible sizes.',
      },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufUnknownArchError,
    codes: {
      GGUF_UNKNOWN_ARCH: {
        ko: '이 모델 구조는 지원하지 않습니다.',
        en: 'This model architecture is not supported.',
      },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufMetadataError,
    codes: {
      GGUF_METADATA: {
        ko: '모델 파일의 설정 정보가 빠졌거나 형식이 다릅니다.',
        en: 'A setting in the model file is missing or has the wrong type.',
      },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufInvalidError,
    codes: {
      GGUF_INVALID: {
        ko: '모델 파일의 내용이 서로 맞지 않습니다.',
        en: 'The model file contradicts itself.',
      },
    },
  },
  {
    area: 'GGUF files',
    errorClass: GgufReadError,
    codes: {
      GGUF_READ: { ko: '모델 파일을 읽지 못했습니다.', en: 'The model file could not be read.' },
    },
  },
  {
    area: 'Tokenizer and chat template',
    errorClass: TokenizerUnsupportedError,
    codes: {
      TOKENIZER_UNSUPPORTED: {
        ko: '이 모델의 토크나이저는 지원하지 않습니다.',
        en: "This model's tokenizer is not supported.",
      },
    },
  },
  {
    area: 'Tokenizer and chat template',
    errorClass: TokenizerMetadataError,
    codes: {
      TOKENIZER_METADATA: {
        ko: '모델 파일의 토크나이저 정보가 손상되었습니다.',
        en: "The model file's tokenizer data is damaged.",
      },
    },
  },
  {
    area: 'Tokenizer and chat template',
    errorClass: TokenIdError,
    codes: {
      TOKEN_ID_OUT_OF_RANGE: {
        ko: '어휘에 없는 토큰 번호입니다.',
        en: 'A token id is outside the vocabulary.',
      },
    },
  },
  {
    area: 'Tokenizer and chat template',
    errorClass: TokenizerInputError,
    codes: {
      TOKENIZER_INPUT: { ko: '입력한 글이 너무 깁니다.', en: 'The text is too long.' },
    },
  },
  {
    area: 'Tokenizer and chat template',
    errorClass: TokenizerConversionError,
    codes: {
      TOKENIZER_CONVERSION: {
        ko: '토크나이저를 변환하지 못했습니다.',
        en: 'The tokenizer could not be converted.',
      },
    },
  },
  {
    area: 'Tokenizer and chat template',
    errorClass: ChatTemplateError,
    codes: {
      CHAT_TEMPLATE: {
        ko: '모델의 대화 형식(chat template)을 처리하지 못했습니다.',
        en: "The model's chat template could not be used.",
      },
    },
  },
  {
    area: 'Tokenizer and chat template',
    errorClass: ChatTemplateRejectedError,
    codes: {
      CHAT_TEMPLATE_REJECTED: {
        ko: '모델의 대화 형식이 이 대화를 받아들이지 않았습니다.',
        en: "The model's chat template refused this conversation.",
      },
    },
  },
  {
    area: 'LoRA adapters and training',
    errorClass: LoraAdapterError,
    codes: {
      LORA_ADAPTER: {
        ko: '어댑터 파일이 손상되었거나 이 모델과 맞지 않습니다.',
        en: 'The adapter is damaged or does not fit this model.',
      },
    },
  },
  {
    area: 'LoRA adapters and training',
    errorClass: LoraUnsupportedError,
    codes: {
      LORA_UNSUPPORTED: {
        ko: '이 실행 방식에서는 어댑터를 적용할 수 없어 기본 모델로 답합니다.',
        en: 'This backend cannot apply adapters; answering with the base model.',
      },
    },
  },
  {
    area: 'LoRA adapters and training',
    errorClass: TrainingUnsupportedError,
    codes: {
      TRAINING_UNSUPPORTED: {
        ko: '이 모델은 아직 학습할 수 없습니다.',
        en: 'This model cannot be trained yet.',
      },
    },
  },
  {
    area: 'LoRA adapters and training',
    errorClass: AdapterMismatchError,
    codes: {
      ADAPTER_MISMATCH: {
        ko: '어댑터가 학습 설정과 맞지 않습니다.',
        en: 'The adapter does not fit the training setup.',
      },
    },
  },
  {
    area: 'LoRA adapters and training',
    errorClass: TrainingDataError,
    codes: {
      TRAINING_DATA: {
        ko: '학습 데이터 중 쓸 수 없는 항목이 있습니다.',
        en: 'Some training data cannot be used.',
      },
    },
  },
  {
    area: 'LoRA adapters and training',
    errorClass: TrainExampleError,
    codes: {
      TRAIN_EXAMPLE: {
        ko: '학습 예제를 만들 수 없는 항목이 있습니다.',
        en: 'A record cannot be turned into a training example.',
      },
    },
  },
  {
    area: 'Federated wire protocol',
    errorClass: SafetensorsError,
    codes: {
      SAFETENSORS: {
        ko: '어댑터 파일(safetensors) 형식이 잘못되었습니다.',
        en: 'The adapter file (safetensors) is malformed.',
      },
    },
  },
  {
    area: 'Federated wire protocol',
    errorClass: SignatureError,
    codes: {
      SIGNATURE: {
        ko: '요청 서명을 만들거나 확인하지 못했습니다.',
        en: 'The request signature could not be made or checked.',
      },
    },
  },
  {
    area: 'Federated wire protocol',
    errorClass: AdapterShapeError,
    codes: {
      ADAPTER_SHAPE: {
        ko: '어댑터의 모양이 과제 설정과 맞지 않습니다.',
        en: "The adapter does not fit the task's LoRA settings.",
      },
    },
  },
  {
    area: 'Round client and stores',
    errorClass: NotEnrolledError,
    codes: {
      NOT_ENROLLED: { ko: '먼저 기관을 등록하세요.', en: 'Enroll the institution first.' },
    },
  },
  {
    area: 'Round client and stores',
    errorClass: ServerRefusedError,
    codes: {
      SERVER_REFUSED: { ko: '서버가 요청을 거절했습니다.', en: 'The server refused the request.' },
    },
  },
  {
    area: 'Round client and stores',
    errorClass: NetworkError,
    codes: {
      NETWORK: {
        ko: '서버에 연결하지 못했습니다. 주소와 네트워크를 확인하세요.',
        en: 'Could not reach the server. Check its address and the network.',
      },
    },
  },
  {
    area: 'Round client and stores',
    errorClass: AdapterIntegrityError,
    codes: {
      ADAPTER_INTEGRITY: {
        ko: '받은 어댑터가 손상되었거나 설명과 다릅니다.',
        en: 'The downloaded adapter is damaged or not what was announced.',
      },
    },
  },
  {
    area: 'Round client and stores',
    errorClass: TrainerContractError,
    codes: {
      TRAINER_CONTRACT: {
        ko: '학습 과정에서 내부 오류가 났습니다.',
        en: 'The trainer broke an internal rule.',
      },
    },
  },
  {
    area: 'Round client and stores',
    errorClass: ClientStoreError,
    codes: {
      CLIENT_STORE: { ko: '이 기기의 저장소를 쓰지 못했습니다.', en: 'Local storage on this device failed.' },
    },
  },
  {
    area: 'Round client and stores',
    errorClass: LocalDataError,
    codes: {
      LOCAL_DATA: {
        ko: '이 라운드에 쓸 학습 데이터가 없거나 맞지 않습니다.',
        en: 'The local dataset cannot be used for this round.',
      },
    },
  },
  {
    area: 'Round client and stores',
    errorClass: RoundAbortedError,
    codes: {
      ROUND_ABORTED: { ko: '라운드를 멈췄습니다.', en: 'The round was stopped.' },
    },
  },
  {
    area: 'Round client and stores',
    errorClass: DatasetError,
    codes: {
      DATASET: { ko: '데이터 파일에 쓸 수 있는 항목이 없습니다.', en: 'The dataset holds no usable record.' },
      DATASET_ENCODING: {
        ko: '데이터 파일이 UTF-8 텍스트가 아닙니다.',
        en: 'The dataset is not UTF-8 text.',
      },
      DATASET_TOO_LARGE: { ko: '데이터 파일이 너무 큽니다.', en: 'The dataset file is too large.' },
      DATASET_SPLIT: {
        ko: '학습용과 검증용으로 나누는 설정이 잘못되었습니다.',
        en: 'The train/validation split setting is invalid.',
      },
    },
  },
  {
    area: 'Model download and storage',
    errorClass: ModelIntegrityError,
    codes: {
      MODEL_INTEGRITY: {
        ko: '내려받은 모델이 손상되었거나 다른 파일입니다.',
        en: 'The downloaded model is damaged or not the expected file.',
      },
    },
  },
  {
    area: 'Model download and storage',
    errorClass: ModelQuotaError,
    codes: {
      MODEL_QUOTA: {
        ko: '브라우저 저장 공간이 부족합니다.',
        en: 'The browser does not have enough storage space.',
      },
    },
  },
  {
    area: 'Model download and storage',
    errorClass: ModelDownloadError,
    codes: {
      MODEL_DOWNLOAD: {
        ko: '모델을 내려받지 못했습니다. 네트워크를 확인하고 다시 시도하세요.',
        en: 'The model could not be downloaded. Check the network and try again.',
      },
    },
  },
  {
    area: 'Model download and storage',
    errorClass: ModelOriginError,
    codes: {
      MODEL_ORIGIN: {
        ko: '허용되지 않은 주소에서 모델을 받으려 했습니다.',
        en: 'The model address is not on an allowed origin.',
      },
    },
  },
  {
    area: 'Model download and storage',
    errorClass: FileOpenError,
    codes: {
      FILE_OPEN: { ko: '모델 파일을 열지 못했습니다.', en: 'The model file could not be opened.' },
    },
  },
  {
    area: 'Model download and storage',
    errorClass: ModelRangeUnsupportedError,
    codes: {
      MODEL_RANGE_UNSUPPORTED: {
        ko: '모델 서버가 부분 요청(HTTP Range)을 지원하지 않아 모델을 나누어 읽을 수 없습니다.',
        en: 'The model server does not support HTTP Range requests, so the model cannot be read in pieces.',
      },
    },
  },
  {
    area: 'Model download and storage',
    errorClass: ModelChangedError,
    codes: {
      MODEL_CHANGED: {
        ko: '모델을 읽는 도중 서버의 모델 파일이 바뀌었습니다. 다시 불러오세요.',
        en: 'The model file changed on the server while it was being read. Load it again.',
      },
    },
  },
  {
    area: 'SDK and command line',
    errorClass: InvalidRequestError,
    codes: {
      INVALID_REQUEST: { ko: '요청 형식이 잘못되었습니다.', en: 'The request is invalid.' },
    },
  },
  {
    area: 'SDK and command line',
    errorClass: NoBackendError,
    codes: {
      NO_BACKEND: {
        ko: '이 기기에서 모델을 실행할 방법이 없습니다.',
        en: 'There is no way to run the model on this device.',
      },
    },
  },
  {
    area: 'SDK and command line',
    errorClass: CliArgsError,
    codes: {
      CLI_ARGS: { ko: '명령 인자가 잘못되었습니다.', en: 'Wrong command-line arguments.' },
    },
  },
  {
    area: 'SDK and command line',
    errorClass: CliInputError,
    codes: {
      CLI_INPUT: {
        ko: '입력 파일이 UTF-8 텍스트가 아니거나 너무 큽니다.',
        en: 'The input file is not UTF-8 text or is too large.',
      },
    },
  },
  {
    area: 'SDK and command line',
    errorClass: CliCommandUnavailableError,
    codes: {
      CLI_COMMAND_UNAVAILABLE: {
        ko: '이 빌드에는 그 명령이 없습니다.',
        en: 'That command is not part of this build.',
      },
    },
  },
  {
    area: 'Knowledge base',
    errorClass: KnowledgeBaseFormatError,
    codes: {
      KB_FORMAT: {
        ko: '지식 베이스 파일(kb.json) 형식이 잘못되었습니다.',
        en: 'The knowledge base file (kb.json) is malformed.',
      },
      KB_VERSION: {
        ko: '이 버전의 두레가 읽을 수 없는 지식 베이스 형식입니다.',
        en: 'This version of Dure cannot read that knowledge base format.',
      },
      KB_LIMIT: {
        ko: '지식 베이스가 허용된 크기를 넘었습니다.',
        en: 'The knowledge base is larger than allowed.',
      },
    },
  },
  {
    area: 'Knowledge base',
    errorClass: KnowledgeBaseIntegrityError,
    codes: {
      KB_INTEGRITY: {
        ko: '내려받은 지식 베이스가 손상되었거나 다른 파일입니다.',
        en: 'The downloaded knowledge base is damaged or not the expected file.',
      },
    },
  },
  {
    area: 'Knowledge base',
    errorClass: KnowledgeSourceError,
    codes: {
      KB_SOURCE: {
        ko: '지식 베이스로 만들 문서를 읽지 못했습니다.',
        en: 'A document for the knowledge base could not be read.',
      },
    },
  },
  {
    area: 'Knowledge base',
    errorClass: KnowledgeBaseDownloadError,
    codes: {
      KB_DOWNLOAD: {
        ko: '안내 자료(지식 베이스)를 내려받지 못했습니다. 인터넷 연결을 확인하고 다시 시도해 주세요.',
        en: 'The guidance documents (knowledge base) could not be downloaded. Check the connection and try again.',
      },
    },
  },
  {
    area: 'Feedback',
    errorClass: FeedbackFileError,
    codes: {
      FEEDBACK_FORMAT: {
        ko: '시민 피드백 파일 형식이 아닙니다. 위젯의 "피드백 내보내기"로 만든 파일을 선택하세요.',
        en: 'This is not a citizen feedback file. Choose a file made with the widget\'s "Export feedback".',
      },
      FEEDBACK_VERSION: {
        ko: '이 버전의 두레가 읽을 수 없는 피드백 파일 형식입니다.',
        en: 'This version of Dure cannot read that feedback file format.',
      },
      FEEDBACK_LIMIT: {
        ko: '피드백 파일이 허용된 크기나 개수를 넘었습니다.',
        en: 'The feedback file is larger or holds more records than allowed.',
      },
    },
  },
  {
    area: 'Feedback',
    errorClass: FeedbackStoreError,
    codes: {
      FEEDBACK_STORE: {
        ko: '이 기기에 평가를 저장하지 못했습니다. 브라우저 저장 공간을 확인해 주세요.',
        en: "Your rating could not be saved on this device. Check the browser's storage.",
      },
    },
  },
  {
    area: 'Federated server',
    errorClass: FederatedError as unknown as new (message: string) => DureError,
    codes: {
      BAD_JSON: { ko: '요청 본문이 올바른 JSON이 아닙니다.', en: 'The request body is not valid JSON.' },
      INVALID_TASK: { ko: '과제 설정이 잘못되었습니다.', en: 'The task settings are invalid.' },
      PAYLOAD_TOO_LARGE: {
        ko: '보낸 데이터가 허용된 크기를 넘었습니다.',
        en: 'The upload is larger than allowed.',
      },
      UNSUPPORTED_MEDIA_TYPE: { ko: '지원하지 않는 데이터 형식입니다.', en: 'Unsupported content type.' },
      RATE_LIMITED: {
        ko: '요청이 너무 많습니다. 잠시 뒤에 다시 시도하세요.',
        en: 'Too many requests. Try again a little later.',
      },
      COHORT_TOO_SMALL: {
        ko: '라운드 최소 참여 기관 수(k)가 너무 작습니다. 2 이상, 공개 어댑터는 5 이상이어야 합니다.',
        en: "The task's minimum cohort (k) is too small: at least 2, and at least 5 for public adapters.",
      },
      PUBLIC_NEEDS_PRIVACY: {
        ko: '시민에게 공개하는 어댑터는 차등 프라이버시(DP)를 켠 과제에서만 만들 수 있습니다.',
        en: 'Adapters published to citizens need differential privacy (DP) enabled on the task.',
      },
      SECAGG_REFUSED: {
        ko: '보안 집계 메시지가 규칙에 맞지 않아 받지 않았습니다.',
        en: 'A secure-aggregation message broke the protocol rules and was refused.',
      },
      SECAGG_PHASE_CLOSED: {
        ko: '보안 집계의 이 단계는 이미 끝났습니다. 이번 라운드에는 참여하지 못합니다.',
        en: 'This secure-aggregation step is already over; this round goes on without you.',
      },
      DP_NEEDS_SECURE_AGGREGATION: {
        ko: '차등 프라이버시는 보안 집계와 함께만 켤 수 있습니다(잡음이 합계에만 온전히 들어가도록).',
        en: 'Differential privacy needs secure aggregation (so the full noise is only ever in the sum).',
      },
      STRATEGY_NEEDS_PLAINTEXT: {
        ko: '중앙값·절사 평균 집계는 개별 업데이트를 봐야 하므로 보안 집계와 함께 쓸 수 없습니다.',
        en: 'Median and trimmed-mean aggregation need individual updates, so they cannot be combined with secure aggregation.',
      },
      TOO_MANY_STREAMS: {
        ko: '이 기관이 열어 둔 실시간 연결이 너무 많습니다. 다른 창이나 탭을 닫으세요.',
        en: 'This institution has too many live connections open. Close other windows or tabs.',
      },
      STORAGE_FULL: {
        ko: '서버 디스크가 가득 찼습니다. 받은 업데이트는 지우지 않고 보관하며, 공간이 생기면 자동으로 다시 시도합니다. 운영자는 데이터 디렉터리의 공간을 확보하세요.',
        en: "The server's disk is full. Received updates are kept, not discarded, and the work is retried automatically once there is room. Operators: free space in the data directory.",
      },
      TOO_MANY_OPEN_FILES: {
        ko: '서버가 한 번에 열 수 있는 파일 수의 한도에 닿았습니다. 받은 업데이트는 보관하며 자동으로 다시 시도합니다. 운영자는 파일 디스크립터 한도(ulimit -n)를 확인하세요.',
        en: 'The server reached its limit of open files. Received updates are kept and the work is retried automatically. Operators: check the file-descriptor limit (ulimit -n).',
      },
      BAD_ADMIN_NAME: {
        ko: '관리자 이름은 1~64자의 글자, 숫자, 점(.), 밑줄(_), 붙임표(-)만 쓸 수 있습니다(띄어쓰기 없이).',
        en: 'An admin name is 1–64 letters, digits, ".", "_" or "-", without spaces.',
      },
    },
  },
  {
    area: 'Federated server',
    errorClass: AuthError,
    codes: {
      UNAUTHORIZED: { ko: '인증에 실패했습니다.', en: 'Authentication failed.' },
      BAD_ENROLLMENT_CODE: {
        ko: '등록 코드가 틀렸거나 이미 쓰였거나 만료되었습니다. 관리자에게 새 코드를 요청하세요.',
        en: 'The enrolment code is wrong, used or expired. Ask the administrator for a new one.',
      },
      BAD_SIGNATURE: { ko: '요청 서명이 맞지 않습니다.', en: 'The request signature does not match.' },
      REPLAYED: { ko: '같은 요청이 두 번 왔습니다.', en: 'The same request arrived twice.' },
      REVOKED: { ko: '이 기관의 등록이 취소되었습니다.', en: "This institution's enrolment was revoked." },
      STALE_REQUEST: {
        ko: '요청 시각이 너무 오래되었습니다. 기기 시계를 확인하세요.',
        en: "The request is too old. Check this device's clock.",
      },
      UNSIGNED: { ko: '서명이 없는 요청입니다.', en: 'The request is not signed.' },
      ADMIN_DISABLED: {
        ko: '이 관리자 계정은 사용이 중지되었습니다. 다른 관리자에게 문의하세요.',
        en: 'This admin account is disabled. Ask another admin.',
      },
    },
  },
  {
    area: 'Federated server',
    errorClass: NotFoundError,
    codes: {
      NOT_FOUND: { ko: '찾는 항목이 없습니다.', en: 'Not found.' },
    },
  },
  {
    area: 'Federated server',
    errorClass: ConflictError,
    codes: {
      CONFLICT: {
        ko: '현재 상태에서는 할 수 없는 요청입니다.',
        en: 'The request conflicts with the current state.',
      },
      ALREADY_REVOKED: { ko: '이미 등록이 취소된 기관입니다.', en: 'The institution is already revoked.' },
      NOT_PENDING: {
        ko: '이미 등록을 마쳤거나 폐지된 기관이라 새 등록 코드를 만들 수 없습니다.',
        en: 'The institution already enrolled or was revoked, so it cannot get a new enrolment code.',
      },
      DUPLICATE_UPDATE: {
        ko: '이 라운드의 업데이트를 이미 보냈습니다.',
        en: 'An update for this round was already sent.',
      },
      LATE_UPDATE: {
        ko: '라운드가 이미 닫혀 업데이트를 받을 수 없습니다.',
        en: 'The round is closed; the update came too late.',
      },
      REVOKED: { ko: '이 기관의 등록이 취소되었습니다.', en: "This institution's enrolment was revoked." },
      TASK_NOT_STARTABLE: {
        ko: '지금은 이 과제를 시작할 수 없습니다.',
        en: 'The task cannot be started now.',
      },
      TASK_NOT_RESUMABLE: {
        ko: '실패한 과제만 다시 시작할 수 있습니다.',
        en: 'Only a failed task can be resumed.',
      },
      WRONG_ROUND: { ko: '다른 라운드의 업데이트입니다.', en: 'The update is for another round.' },
      ADMIN_EXISTS: {
        ko: '같은 이름의 관리자가 이미 있습니다.',
        en: 'An admin with this name already exists.',
      },
      LAST_ADMIN: {
        ko: '마지막 남은 관리자는 사용 중지할 수 없습니다.',
        en: 'The last active admin cannot be disabled.',
      },
      RELEASE_NOT_CANDIDATE: {
        ko: '이 버전은 이미 승인되었거나 거절되어 더 바꿀 수 없습니다.',
        en: 'This version was already approved or rejected.',
      },
      RELEASE_SUPERSEDED: {
        ko: '지금 배포 중인 버전보다 오래된 후보라 승인할 수 없습니다.',
        en: 'This candidate is older than the version now released, so it cannot be approved.',
      },
      RELEASE_GATE_FAILED: {
        ko: '평가 기준을 통과하지 못해 승인할 수 없습니다. 평가 결과를 첨부하거나 후보를 거절하세요.',
        en: 'The candidate did not pass the evaluation gate. Attach an evaluation or reject it.',
      },
      ROLLBACK_TARGET: {
        ko: '배포된 적이 있는 이전 버전으로만 되돌릴 수 있습니다.',
        en: 'Roll back only to an earlier version that was released.',
      },
    },
  },
  {
    area: 'Federated server',
    errorClass: UpdateRejectedError,
    codes: {
      UPDATE_REJECTED: { ko: '업데이트가 검증을 통과하지 못했습니다.', en: 'The update failed validation.' },
      BAD_METADATA: { ko: '업데이트의 부가 정보가 잘못되었습니다.', en: "The update's metadata is invalid." },
      BAD_SAFETENSORS: { ko: '업데이트 파일 형식이 잘못되었습니다.', en: 'The update file is malformed.' },
      NON_FINITE: { ko: '업데이트에 숫자가 아닌 값이 있습니다.', en: 'The update holds non-finite values.' },
      NORM_EXCEEDED: {
        ko: '업데이트가 허용된 변화량을 넘었습니다.',
        en: 'The update changes the adapter more than allowed.',
      },
      WRONG_DTYPE: { ko: '업데이트의 숫자 형식이 다릅니다.', en: 'The update uses the wrong number type.' },
      WRONG_ROUND: { ko: '다른 라운드의 업데이트입니다.', en: 'The update is for another round.' },
      WRONG_SHAPE: {
        ko: '업데이트의 모양이 과제와 맞지 않습니다.',
        en: "The update's shapes do not fit the task.",
      },
      WRONG_TENSORS: {
        ko: '업데이트의 구성이 과제와 맞지 않습니다.',
        en: "The update's tensors do not fit the task.",
      },
    },
  },
  {
    area: 'Federated server',
    errorClass: StorageError,
    codes: {
      STORAGE: { ko: '서버 저장소에 문제가 생겼습니다.', en: "The server's storage failed." },
    },
  },
  {
    area: 'Federated server',
    errorClass: BlobIntegrityError,
    codes: {
      BLOB_TAMPERED: {
        ko: '저장된 파일이 변조되었거나 다른 키로 암호화되어 열 수 없습니다.',
        en: 'A stored file was altered or sealed under another key, so it cannot be opened.',
      },
      BLOB_KEY: {
        ko: '서버 저장소 암호화 키가 없거나 잘못되었습니다. 서버 설정을 확인하세요.',
        en: "The server's storage encryption key is missing or malformed. Check the server settings.",
      },
    },
  },
  {
    area: 'Federated server',
    errorClass: ServerStartError,
    codes: {
      PLAIN_HTTP_REFUSED: {
        ko: '암호화(TLS) 없이 외부 주소에서 서버를 열 수 없습니다. 인증서를 설정하거나, TLS 프록시 뒤라면 평문 HTTP를 명시적으로 허용하세요.',
        en: 'The server will not listen on an outside address without TLS. Configure a certificate, or explicitly allow plain HTTP behind a TLS proxy.',
      },
      TLS_FILES: {
        ko: 'TLS 인증서나 개인키 파일을 읽을 수 없습니다. 서버 설정의 파일 경로를 확인하세요.',
        en: 'The TLS certificate or key file cannot be read. Check the file paths in the server settings.',
      },
      DATA_DIR_IN_USE: {
        ko: '다른 서버 프로세스가 이 데이터 폴더를 쓰고 있습니다. 서버 여러 개는 PostgreSQL로 운영하세요.',
        en: 'Another server process is using this data directory. Run several servers on PostgreSQL.',
      },
    },
  },
  {
    area: 'Differential privacy',
    errorClass: PrivacyParameterError,
    codes: {
      PRIVACY_PARAMETERS: {
        ko: '개인정보 보호 설정(ε, δ, 잘라내기 한도 등)이 올바르지 않습니다.',
        en: 'The privacy settings (epsilon, delta, clipping bound and so on) are not valid.',
      },
      PRIVACY_TARGET_UNREACHABLE: {
        ko: '이 설정으로는 요청한 개인정보 보호 수준을 맞출 수 없습니다. 목표를 완화하거나 라운드 수를 줄이세요.',
        en: 'No noise level can meet the requested privacy target with these settings. Relax the target or run fewer rounds.',
      },
    },
  },
  {
    area: 'Differential privacy',
    errorClass: PrivacyBudgetExhaustedError,
    codes: {
      PRIVACY_BUDGET_EXHAUSTED: {
        ko: '이 과제의 개인정보 보호 예산을 모두 썼습니다. 더 이상 학습 라운드를 진행할 수 없습니다.',
        en: "This task's privacy budget is spent. No more training rounds can run.",
      },
    },
  },
  {
    area: 'PII masking',
    errorClass: CustomPatternError,
    codes: {
      CUSTOM_PATTERN_INVALID: {
        ko: '기관 지정 식별자 패턴이 올바른 정규식이 아니거나 빈 글자와도 맞습니다. 패턴을 고쳐 주세요.',
        en: 'The institution identifier pattern is not a valid regular expression, or it matches empty text. Fix the pattern.',
      },
      CUSTOM_PATTERN_UNSAFE: {
        ko: '이 패턴은 긴 글에서 매우 오래 걸릴 수 있어 쓸 수 없습니다. 반복을 겹치지 말고(예: (\\d+)+ 대신 \\d+) 역참조와 전후방 탐색을 빼 주세요.',
        en: 'This pattern could take very long on long text. Do not nest repetition (use \\d+ rather than (\\d+)+) and leave out back-references and look-arounds.',
      },
      CUSTOM_PATTERN_LIMIT: {
        ko: '패턴이 너무 길거나 너무 많습니다. 패턴은 120자, 20개까지 쓸 수 있습니다.',
        en: 'Too long or too many patterns: at most 120 characters each and 20 in all.',
      },
    },
  },
  {
    area: 'Secure aggregation',
    errorClass: SecAggProtocolError,
    codes: {
      SECAGG_OUT_OF_ORDER: {
        ko: '보안 집계 단계가 순서에 맞지 않게 요청되었습니다.',
        en: 'A secure-aggregation step was requested out of order.',
      },
      SECAGG_BAD_ROSTER: {
        ko: '서버가 보낸 참여 기관 목록이 잘못되었거나 앞뒤가 맞지 않습니다.',
        en: 'The list of participants from the server is invalid or inconsistent.',
      },
      SECAGG_BAD_MESSAGE: {
        ko: '보안 집계 메시지의 형식이나 내용이 잘못되었습니다.',
        en: 'A secure-aggregation message is malformed or inconsistent.',
      },
      SECAGG_TOO_FEW_SURVIVORS: {
        ko: '끝까지 남은 기관이 너무 적어 이번 라운드의 합계를 만들 수 없습니다.',
        en: "Too few institutions stayed to the end to form this round's sum.",
      },
      SECAGG_UNMASK_REFUSED: {
        ko: '서버가 한 기관의 업데이트를 드러낼 수 있는 정보를 요청해 거절했습니다.',
        en: "The server asked for information that would reveal one institution's update, so it was refused.",
      },
    },
  },
  {
    area: 'Secure aggregation',
    errorClass: SecAggCryptoError,
    codes: {
      SECAGG_DECRYPT: {
        ko: '다른 기관이 보낸 암호문이 손상되었거나 이 기관에 보낸 것이 아닙니다.',
        en: 'A ciphertext from another institution is damaged or was not addressed to this one.',
      },
      SECAGG_KEY_MISMATCH: {
        ko: '복원한 마스킹 키가 그 기관이 알린 공개 키와 맞지 않습니다.',
        en: 'A reconstructed masking key does not match the public key its owner announced.',
      },
    },
  },
  {
    area: 'Secure aggregation',
    errorClass: ShamirError,
    codes: {
      SHAMIR_TOO_FEW_SHARES: {
        ko: '비밀을 복원할 조각이 부족합니다.',
        en: 'Not enough shares to reconstruct the secret.',
      },
      SHAMIR_INCONSISTENT: {
        ko: '비밀 조각들이 서로 맞지 않습니다.',
        en: 'The secret shares do not agree with each other.',
      },
      SHAMIR_PARAMS: {
        ko: '비밀 분할 설정(문턱값, 조각 수)이 잘못되었습니다.',
        en: 'The secret-sharing settings (threshold, number of shares) are invalid.',
      },
    },
  },
  {
    area: 'Secure aggregation',
    errorClass: QuantizationError,
    codes: {
      QUANT_HEADROOM: {
        ko: '고정소수점 설정으로는 합계가 넘칠 수 있어 쓸 수 없습니다.',
        en: 'These fixed-point settings could overflow the sum, so they are refused.',
      },
      QUANT_INPUT: {
        ko: '업데이트 값이나 잡음이 허용 범위를 벗어났습니다.',
        en: 'An update value or its noise is outside the allowed range.',
      },
    },
  },
  {
    area: 'Air-gapped transfer',
    errorClass: AirgapFileError,
    codes: {
      AIRGAP_MALFORMED: {
        ko: '망연계 파일이 잘렸거나 두레 파일 형식이 아닙니다. 원본 파일을 다시 전송하세요.',
        en: 'The air-gap file is truncated or not a Dure file. Transfer the original file again.',
      },
      AIRGAP_TOO_LARGE: {
        ko: '망연계 파일이 허용된 크기를 넘습니다.',
        en: 'The air-gap file is larger than allowed.',
      },
      AIRGAP_BAD_SIGNATURE: {
        ko: '망연계 파일의 서명이나 해시가 맞지 않습니다. 전송 중 바뀌었거나 다른 서버·기관의 파일입니다.',
        en: "The air-gap file's signature or hash does not match: it was altered in transfer or comes from another server or institution.",
      },
      AIRGAP_WRONG_TASK: {
        ko: '다른 과제, 라운드 또는 기관의 망연계 파일입니다.',
        en: 'The air-gap file is for another task, round or institution.',
      },
      AIRGAP_WRONG_PHASE: {
        ko: '이 파일은 라운드의 지금 단계에 맞지 않습니다. 운영자에게 최신 파일을 요청하세요.',
        en: 'This file does not fit the current step of the round. Ask the operator for the latest file.',
      },
      AIRGAP_REPLAYED: {
        ko: '이미 사용한 파일이거나 그보다 오래된 파일입니다.',
        en: 'This file was already used, or is older than one already used.',
      },
      AIRGAP_STATE_LOCKED: {
        ko: '저장된 라운드 상태를 열 수 없습니다. 암호가 틀렸거나 파일이 바뀌었습니다.',
        en: 'The saved round state cannot be opened: the passphrase is wrong or the file was altered.',
      },
    },
  },
];

// Keyed by each class's `name` field (a string literal), not the constructor's own name, which a
// minifier may shorten.
const BY_NAME = new Map<string, CatalogueEntry>(ERROR_CATALOGUE.map((e) => [new e.errorClass('').name, e]));
const TEXT_BY_CODE = new Map<string, ErrorText>(ERROR_CATALOGUE.flatMap((e) => Object.entries(e.codes)));

/** The plain message for a code in `lang`, or the general one for a code the catalogue lacks. */
export function errorText(code: string, lang: 'ko' | 'en'): string {
  return (TEXT_BY_CODE.get(code) ?? TEXT_BY_CODE.get('INTERNAL')!)[lang];
}

/** True when the catalogue knows this code. */
export function isCataloguedCode(code: string): boolean {
  return TEXT_BY_CODE.has(code);
}

/** Wire form of an error: what survives `postMessage` and JSON. */
export interface ErrorData {
  name: string;
  code: string;
  message: string;
  /** Extra primitive fields of the error (e.g. `status`, `serverCode`), restored on rebuild. */
  details?: Record<string, string | number | boolean>;
}

/** A worker call's result: a value, or the error it ended in as data. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ErrorData };

/** Runs `fn` and returns its value or its error as data: how workers answer every call. */
export async function settle<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: toErrorData(e) };
  }
}

/** The value of an outcome, or its error rebuilt as the class it was thrown as. */
export function unwrapOutcome<T>(o: Outcome<T>): T {
  if (!o.ok) throw fromErrorData(o.error);
  return o.value;
}

const OWN_FIELDS = new Set(['name', 'code', 'message', 'stack', 'cause']);

export function toErrorData(err: unknown): ErrorData {
  if (err instanceof DureError) {
    const data: ErrorData = { name: err.name, code: err.code, message: err.message };
    const details: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(err)) {
      if (OWN_FIELDS.has(k)) continue;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') details[k] = v;
    }
    if (Object.keys(details).length > 0) data.details = details;
    return data;
  }
  if (err instanceof Error) return { name: err.name, code: 'INTERNAL', message: err.message };
  return { name: 'Error', code: 'INTERNAL', message: String(err) };
}

/**
 * Rebuilds an error as the class it was thrown as (any catalogued class), with its code and
 * extra fields; an unknown name becomes a plain `DureError` keeping name and code.
 */
export function fromErrorData(data: ErrorData): DureError {
  const entry = BY_NAME.get(data.name);
  let e: DureError;
  if (entry && entry.errorClass !== (DureError as unknown)) {
    e = Object.create(entry.errorClass.prototype) as DureError;
    // Built without running the constructor so classes whose constructor takes a code or status
    // first (FederatedError) are rebuilt exactly; the fields below are all a DureError holds.
    Object.assign(e, new DureError(data.code, data.message));
    e.message = data.message;
    e.name = data.name;
    const stack = new Error(data.message).stack;
    if (stack) e.stack = stack;
  } else {
    e = new DureError(data.code, data.message);
    e.name = data.name;
  }
  if (data.details) {
    for (const [k, v] of Object.entries(data.details)) {
      if (!OWN_FIELDS.has(k)) Object.defineProperty(e, k, { value: v, enumerable: true });
    }
  }
  return e;
}
