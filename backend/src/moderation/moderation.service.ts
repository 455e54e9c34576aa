import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Locale } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { loadModerationPolicy, type ModerationPolicy, type ModerationStage } from './moderation-policy.js';

export type { ModerationStage } from './moderation-policy.js';

/**
 * Stored on messages, so it names the category and never the text that matched. A type rather than
 * an interface so it fits the messages' JSON metadata (`Record<string, unknown>`) without a cast.
 */
export type ModerationVerdict = {
  allowed: boolean;
  category: string | null;
  source: 'policy' | 'provider';
};

/** The content policy applied to every input and every output (streamed text is re-checked as it grows). */
@Injectable()
export class ModerationService implements OnModuleInit {
  readonly policyVersion: string;
  private readonly policy: ModerationPolicy;

  // Only the policy file is read; the narrow type lets unit tests build one without a whole AppConfig.
  constructor(@Inject(AppConfig) config: { trust: Pick<AppConfig['trust'], 'moderationPolicyFile'> }) {
    this.policy = loadModerationPolicy(config.trust.moderationPolicyFile);
    this.policyVersion = this.policy.version;
  }

  static fromFile(path: string): ModerationService {
    return new ModerationService({ trust: { moderationPolicyFile: path } });
  }

  onModuleInit(): void {
    new Logger('Moderation').log({
      event: 'moderation_policy',
      version: this.policyVersion,
      categories: this.policy.categories,
    });
  }

  /** Synchronous and allocation-light. */
  check(text: string, stage: ModerationStage, locale: Locale): ModerationVerdict {
    return verdictOf(this.policy.match(text, stage, locale));
  }

  /**
   * The verdict on `before + added` when `before` was already allowed (a streamed reply, delta by
   * delta): reads the added text and a bounded window before it, so a reply costs linear time
   * in its length, not quadratic; a blocked phrase split across deltas is still caught.
   */
  checkAppended(before: string, added: string, stage: ModerationStage, locale: Locale): ModerationVerdict {
    return verdictOf(this.policy.matchAppended(before, added, stage, locale));
  }

  /** A provider's own safety block (e.g. Gemini's finishReason SAFETY), recorded as such. */
  fromProvider(category: string): ModerationVerdict {
    return { allowed: false, category: category.trim() || 'unspecified', source: 'provider' };
  }
}

function verdictOf(category: string | null): ModerationVerdict {
  return category === null
    ? { allowed: true, category: null, source: 'policy' }
    : { allowed: false, category, source: 'policy' };
}
