import { pino, type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import { PinoLogger } from 'nestjs-pino';

/**
 * nestjs-pino builds one root logger per process, from the options of whoever asks first (main's
 * bootstrap logger or the first app), and keeps it for good. Tests boot several apps in one process,
 * each with its own level and destination, so the root writes through this switch and every app
 * points it at its own output when it is created: the latest app wins, as with Nest's static Logger.
 */
class SwitchedDestination implements DestinationStream {
  private target: DestinationStream | undefined;
  private stdout: DestinationStream | undefined;

  write(line: string): void {
    // One stdout stream per process, opened on first use (an app that never logs never touches it).
    (this.target ?? (this.stdout ??= pino.destination(1))).write(line);
  }

  direct(target: DestinationStream | undefined, level: LevelWithSilent): void {
    this.target = target;
    // Absent until first built; it is then built with this very level.
    const root: Logger | undefined = PinoLogger.root;
    if (root) root.level = level;
  }
}

export const processLogs = new SwitchedDestination();
