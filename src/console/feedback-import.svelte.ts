/**
 * The console's "load citizen feedback" state (issue 17 item 5): the picked export files are read
 * and validated in this page (src/feedback/export-file.ts), then scrubbed, deduplicated and
 * counted together (src/feedback/curate.ts). A file that is not an export is reported on its own
 * and the others still load; nothing is uploaded.
 */
import { toErrorData, type ErrorData } from '../engine/errors.ts';
import { FeedbackFileError } from '../protocol/errors.ts';
import { readFeedbackExport, type FeedbackIssue } from '../feedback/export-file.ts';
import {
  curatedJsonl,
  curateFeedback,
  trainingJsonl,
  trainingRecords,
  type CurationResult,
} from '../feedback/curate.ts';
import type { FeedbackRecord } from '../feedback/record.ts';

/** How one picked file went. */
export interface FeedbackFileReport {
  name: string;
  records: number;
  issues: FeedbackIssue[];
  moreIssues: number;
  error: ErrorData | null;
}

/** At most this many files per pick: each is read whole into memory (4 MiB at most). */
export const MAX_FEEDBACK_FILES = 50;

export class FeedbackImport {
  files: FeedbackFileReport[] = $state.raw([]);
  result: CurationResult | null = $state.raw(null);
  reading = $state(false);

  readonly reviewJsonl = $derived(this.result ? curatedJsonl(this.result.records) : '');
  readonly trainingJsonl = $derived(this.result ? trainingJsonl(this.result.records) : '');
  readonly trainingCount = $derived(this.result ? trainingRecords(this.result.records).length : 0);

  /** Reads, validates and curates the picked files together (a new pick replaces the last). */
  async load(files: readonly File[]): Promise<void> {
    this.reading = true;
    try {
      const reports: FeedbackFileReport[] = [];
      const records: FeedbackRecord[] = [];
      for (const file of files.slice(0, MAX_FEEDBACK_FILES)) {
        try {
          const parsed = await readFeedbackExport(file);
          records.push(...parsed.records);
          reports.push({
            name: file.name,
            records: parsed.records.length,
            issues: parsed.issues,
            moreIssues: parsed.moreIssues,
            error: null,
          });
        } catch (e) {
          reports.push({ name: file.name, records: 0, issues: [], moreIssues: 0, error: toErrorData(e) });
        }
      }
      const over = files.length - MAX_FEEDBACK_FILES;
      if (over > 0)
        reports.push({
          name: `+${over}`,
          records: 0,
          issues: [],
          moreIssues: 0,
          error: toErrorData(
            new FeedbackFileError(
              `한 번에 ${MAX_FEEDBACK_FILES}개까지 / at most ${MAX_FEEDBACK_FILES} files at once`,
              'FEEDBACK_LIMIT',
            ),
          ),
        });
      this.files = reports;
      this.result = curateFeedback(records);
    } finally {
      this.reading = false;
    }
  }

  /** The training file as a File, for the dataset panel's loader (same checks as a picked file). */
  trainingFile(): File {
    return new File([this.trainingJsonl], 'citizen-feedback-training.jsonl', { type: 'application/jsonl' });
  }
}
