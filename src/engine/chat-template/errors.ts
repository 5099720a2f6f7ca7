export { ChatTemplateError, ChatTemplateRejectedError } from '../../protocol/errors.ts';
