/**
 * The engine's view of Dure's error catalogue (src/protocol/errors.ts): the base class, the wire
 * form and the GPU errors. Every class is defined and registered there, once.
 */
export {
  DureError,
  GpuUnavailableError,
  GpuDeviceLostError,
  ShaderError,
  toErrorData,
  fromErrorData,
  type ErrorData,
  settle,
  unwrapOutcome,
  type Outcome,
} from '../protocol/errors.ts';
