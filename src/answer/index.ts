/**
 * Grounded, guarded answers (issue 17): the pipeline the widget, the SDK and `dure ask` share,
 * and prompt fitting. Platform-neutral (rank 3 with src/knowledge and src/guard).
 */
export * from './grounded-answer.ts';
export { dropBrokenTail, estimateChatTokens, fitPrompt, type FitResult, type Turn } from './prompt-fit.ts';
