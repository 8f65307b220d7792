/**
 * The stack's stop steps. Each subsystem registers its step when it has started; stopping runs
 * them in reverse (the schedules' timers, the API, the lane pollers, the bus, the emulators last), each
 * step's failure ignored so the rest still stop, and only once however often `stop` is called.
 */
type StopStep = () => Promise<void>;

export class StackShutdown {
  readonly #steps: StopStep[] = [];
  #stopping: Promise<void> | undefined;

  /** Registers a step; it runs before every step registered earlier. */
  public add(step: StopStep): void {
    this.#steps.push(step);
  }

  /**
   * Runs every step, last registered first; later calls return the same promise.
   *
   * @example
   * shutdown.add(() => emulators.stop());
   * shutdown.add(() => gateway.stop());
   * await shutdown.stop(); // gateway, then emulators
   */
  public stop(): Promise<void> {
    this.#stopping ??= this.#runSteps();
    return this.#stopping;
  }

  async #runSteps(): Promise<void> {
    for (const step of [...this.#steps].reverse()) await step().catch(() => undefined);
  }
}
