/**
 * Watches a GPUDevice for loss: `device.lost` settling (driver reset, GPU process crash, TDR) or
 * an uncaptured internal error, after which nothing the device computes can be trusted, so the
 * device is destroyed and treated as lost too. The engine asks after a failed GPU call whether
 * the failure was a loss it can recover from.
 */
export class DeviceWatch {
  #lost: string | undefined;

  constructor(readonly device: GPUDevice) {
    void device.lost.then((info) => {
      this.#lost ??= `${info.reason}${info.message ? `: ${info.message}` : ''}`;
    });
    device.addEventListener?.('uncapturederror', (ev) => {
      const error = (ev as GPUUncapturedErrorEvent).error;
      if (error?.constructor?.name !== 'GPUInternalError') return;
      this.#lost ??= `internal error: ${error.message}`;
      device.destroy();
    });
  }

  /** Why the device was lost, or undefined while it lives. */
  get lost(): string | undefined {
    return this.#lost;
  }

  /**
   * Whether a GPU call's failure came with a device loss. A readback on a lost device can reject
   * before `device.lost` settles, so this waits briefly for it.
   */
  async lostAfter(): Promise<boolean> {
    if (this.#lost) return true;
    await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 100))]);
    return this.#lost !== undefined;
  }
}
