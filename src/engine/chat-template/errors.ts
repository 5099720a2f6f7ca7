import { ChatTemplateError, ChatTemplateRejectedError } from '../../protocol/errors.ts';
export { ChatTemplateError, ChatTemplateRejectedError };
