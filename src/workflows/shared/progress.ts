/**
 * Step-by-step progress of a workflow, kept in workflow state so a status query (and the SSE
 * route built on it) can replay it to a late joiner. Event ids are consecutive from 1, so a
 * client's `Last-Event-ID` says exactly what it has seen.
 */
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface StepState {
  name: string;
  status: StepStatus;
  /** Times the step was started by the workflow (activity retries inside it are not counted). */
  attempts: number;
}

export interface ProgressEvent {
  id: number;
  type: 'step' | 'finished';
  step?: string;
  status: StepStatus | 'succeeded' | 'failed' | 'cancelled';
  message?: string;
}

export class Progress {
  readonly steps: StepState[];
  readonly events: ProgressEvent[] = [];

  constructor(names: readonly string[]) {
    this.steps = names.map((name) => ({ name, status: 'pending', attempts: 0 }));
  }

  private emit(e: Omit<ProgressEvent, 'id'>) {
    this.events.push({ id: this.events.length + 1, ...e });
  }

  private set(name: string, status: StepStatus, message?: string) {
    const step = this.steps.find((s) => s.name === name);
    if (!step) throw new Error(`unknown step ${name}`);
    step.status = status;
    if (status === 'running') step.attempts++;
    this.emit({ type: 'step', step: name, status, message });
  }

  /** Runs `fn` as step `name`: running → succeeded, or failed (and rethrows). */
  async track<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.set(name, 'running');
    try {
      const result = await fn();
      this.set(name, 'succeeded');
      return result;
    } catch (err) {
      this.set(name, 'failed', err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  skip(name: string, why: string) {
    this.set(name, 'skipped', why);
  }

  finish(status: 'succeeded' | 'failed' | 'cancelled', message?: string) {
    this.emit({ type: 'finished', status, message });
  }

  /** The step running now, else the last one that moved. */
  current(): string | undefined {
    return (this.steps.find((s) => s.status === 'running') ?? [...this.steps].reverse().find((s) => s.status !== 'pending'))?.name;
  }

  after(lastEventId: number): ProgressEvent[] {
    return this.events.filter((e) => e.id > lastEventId);
  }
}
