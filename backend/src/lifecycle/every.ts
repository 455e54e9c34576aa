/**
 * Runs `task` every `ms` without keeping the process alive for it; returns the function that
 * stops it. One shape for the app's background work (sweeps, purges, probes, checkpoints,
 * keep-alives), so none of them can forget to `unref` or to stop.
 */
export function every(ms: number, task: () => unknown): () => void {
  const timer = setInterval(task, ms);
  timer.unref();
  return () => clearInterval(timer);
}
