/**
 * Model manager errors. Messages are Korean first, then English, because they are shown to the
 * citizen as they are: a person reads them, in Korean or English.
 */
export {
  ModelIntegrityError,
  ModelQuotaError,
  ModelDownloadError,
  ModelOriginError,
} from '../protocol/errors.ts';

export const messages = {
  integrity: (expected: string, actual: string) =>
    `모델 파일이 손상되었거나 변조되었습니다. 파일을 삭제했으니 다시 받아 주세요. / ` +
    `The model file is corrupted or was altered; it was deleted, please download it again. ` +
    `(SHA-256 expected ${expected}, got ${actual})`,
  quota: (needed: number, available: number) =>
    `저장 공간이 부족합니다: ${mb(needed)}가 필요하지만 ${mb(available)}만 남았습니다. 브라우저 저장 공간을 확보해 주세요. / ` +
    `Not enough storage: the model needs ${mb(needed)} but only ${mb(available)} is available. Free up browser storage.`,
  quotaWrite: () =>
    '저장 공간이 부족해 모델을 저장하지 못했습니다. 브라우저 저장 공간을 확보해 주세요. / ' +
    'The browser ran out of storage while saving the model. Free up browser storage.',
  http: (status: number) =>
    `모델을 받지 못했습니다 (서버 응답 ${status}). 잠시 후 다시 시도해 주세요. / ` +
    `Could not download the model (server answered ${status}). Please try again later.`,
  network: (tries: number) =>
    `네트워크 연결이 ${tries}번 끊겨 모델을 받지 못했습니다. 연결을 확인한 뒤 다시 시도하면 받은 부분부터 이어서 받습니다. / ` +
    `The connection dropped ${tries} times. Check the network and retry; the download resumes where it stopped.`,
  origin: (url: string) =>
    `허용되지 않은 주소에서 모델을 받으려고 했습니다: ${url} / The model URL is not on an allowed origin: ${url}`,
};

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}
